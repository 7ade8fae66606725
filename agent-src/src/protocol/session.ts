/**
 * One tunnel link: frames in and out of a byte socket, keepalive, and the multiplexed streams.
 * Used unchanged by the agent (over the Platform's TLS socket) and by the server (over Node's).
 */

import type { LogLevel, Socket } from "../platform/platform";
import { encodeControl, decodeControl, type Open, type Reset } from "./control";
import {
  EMPTY, FrameDecoder, FrameType, HEADER_SIZE, ProtocolError, encodeFrame, frameTypeName, readU32, writeHeader, writeU32,
  type Frame,
} from "./frame";
import { Stream } from "./stream";

export interface Clock {
  setTimer(ms: number, fn: () => void): number;
  clearTimer(id: number): void;
  now(): number;
}

export interface SessionOptions {
  /** A PING goes out this often; the peer answers with PONG. */
  pingIntervalMs: number;
  /** Nothing received for this long: the link is dead (half-open, blackholed). */
  idleTimeoutMs: number;
  /** Per-stream receive window: the most a peer may send on a stream before we grant more. */
  initialWindow: number;
  /** Concurrent streams on one link. */
  maxStreams: number;
  /** Only the server opens streams; an agent never pushes media unasked. */
  peerMayOpen: boolean;
}

/** Defaults: a dead link is noticed within idleTimeout + one tick = 40 s (≤ 45 s). */
export const DEFAULT_SESSION_OPTIONS: SessionOptions = {
  pingIntervalMs: 15_000,
  idleTimeoutMs: 35_000,
  initialWindow: 256 * 1024,
  maxStreams: 32,
  peerMayOpen: false,
};

/** After a fatal ERROR, how long the peer gets to read it before the socket is destroyed. */
const FAIL_GRACE_MS = 2000;

export interface SessionHandler {
  /** A link-level control frame (HELLO, AUTH, REDIRECT…); PING/PONG are handled here. */
  onControl(type: FrameType, payload: Uint8Array): void;
  /** The peer opened a stream (only when peerMayOpen). Accept with stream.accept() or reset it. */
  onOpen?(stream: Stream, target: string): void;
  /** The link is gone; called once. */
  onClose(reason: string): void;
}

export class Session {
  readonly streams = new Map<number, Stream>();
  bytesIn = 0;
  bytesOut = 0;
  private decoder = new FrameDecoder();
  /** Header scratch for sockets with writeTwo (they keep no reference to it). */
  private readonly head = new Uint8Array(HEADER_SIZE);
  private lastRecv: number;
  private tick: number;
  private closed = false;
  private linkBlocked = false;
  private nextStreamId = 1;

  constructor(
    private readonly sock: Socket,
    private readonly clock: Clock,
    readonly opts: SessionOptions,
    private readonly handler: SessionHandler,
    private readonly log: (level: LogLevel, msg: string) => void = () => {},
  ) {
    this.lastRecv = clock.now();
    sock.onData = (d) => this.onData(d);
    sock.onEnd = () => this.close("peer closed the link");
    sock.onClose = (err) => this.close(err ? `link error: ${err}` : "link closed");
    sock.onDrain = () => {
      this.linkBlocked = false;
      this.flushStreams();
    };
    const tickMs = Math.max(10, Math.min(opts.pingIntervalMs, Math.floor(opts.idleTimeoutMs / 7)));
    let sincePing = 0;
    const onTick = () => {
      if (this.closed) return;
      if (this.clock.now() - this.lastRecv > this.opts.idleTimeoutMs) {
        this.close(`keepalive timeout: nothing received for ${this.opts.idleTimeoutMs} ms`);
        return;
      }
      sincePing += tickMs;
      if (sincePing >= this.opts.pingIntervalMs) {
        sincePing = 0;
        const p = new Uint8Array(8);
        writeU32(p, 4, this.clock.now() >>> 0);
        this.sendFrame(FrameType.PING, 0, p);
      }
      this.tick = this.clock.setTimer(tickMs, onTick);
    };
    this.tick = clock.setTimer(tickMs, onTick);
  }

  get isClosed(): boolean {
    return this.closed;
  }

  sendControl(type: FrameType, msg: object): void {
    this.sendFrame(type, 0, encodeControl(msg));
  }

  /** Server side: ask the peer to connect stream to one of its named targets. */
  openStream(target: string): Stream {
    if (this.streams.size >= this.opts.maxStreams) throw new Error(`too many streams (${this.opts.maxStreams})`);
    while (this.streams.has(this.nextStreamId)) this.nextStreamId = (this.nextStreamId % 0x7fffffff) + 1;
    const id = this.nextStreamId;
    this.nextStreamId = (this.nextStreamId % 0x7fffffff) + 1;
    const s = new Stream(this, id, this.opts.initialWindow, false);
    this.streams.set(id, s);
    this.sendFrame(FrameType.OPEN, id, encodeControl({ target } satisfies Open));
    return s;
  }

  /** Tear the link down; every stream is reset locally. Idempotent. */
  close(reason: string): void {
    if (this.closed) return;
    this.shutDown(reason);
    this.sock.destroy();
  }

  /**
   * Send a fatal ERROR and close. The socket is half-closed rather than destroyed so the ERROR
   * is flushed; it is destroyed after a grace period in case the peer never closes its side.
   */
  fail(code: string, message: string): void {
    if (this.closed) return;
    this.log("warn", `link error ${code}: ${message}`);
    this.sendControl(FrameType.ERROR, { code, message });
    this.sock.onData = null;
    this.sock.end();
    this.clock.setTimer(FAIL_GRACE_MS, () => this.sock.destroy());
    this.shutDown(`${code}: ${message}`);
  }

  private shutDown(reason: string): void {
    this.closed = true;
    this.clock.clearTimer(this.tick);
    for (const s of [...this.streams.values()]) s.linkClosed(reason);
    this.streams.clear();
    this.handler.onClose(reason);
  }

  // ---- used by Stream ----

  /** @internal */
  sendFrame(type: FrameType, stream: number, payload: Uint8Array = EMPTY): void {
    if (this.closed) return;
    this.bytesOut += HEADER_SIZE + payload.length;
    // DATA is the byte path: where the socket can, header and payload leave without a copy in JS.
    const ok = type === FrameType.DATA && this.sock.writeTwo
      ? this.sock.writeTwo(writeHeader(this.head, type, stream, payload.length), payload)
      : this.sock.write(encodeFrame(type, stream, payload));
    if (!ok) this.linkBlocked = true;
  }

  /** @internal Link can take DATA now. */
  get canSendData(): boolean {
    return !this.linkBlocked && !this.closed;
  }

  /** @internal */
  streamGone(id: number): void {
    this.streams.delete(id);
  }

  private flushStreams(): void {
    for (const s of [...this.streams.values()]) {
      if (!this.canSendData) break;
      s.flush();
    }
  }

  // ---- receiving ----

  private onData(chunk: Uint8Array): void {
    if (this.closed) return;
    this.lastRecv = this.clock.now();
    this.bytesIn += chunk.length;
    let frames: Frame[];
    try {
      frames = this.decoder.push(chunk);
      for (const f of frames) {
        if (this.closed) return;
        this.dispatch(f);
      }
    } catch (e) {
      // The connection boundary: nothing a peer sends may take the process down.
      if (e instanceof ProtocolError) this.fail(e.code, e.message);
      else this.fail("internal", `while handling peer data: ${(e as Error)?.message ?? e}`);
    }
  }

  private dispatch(f: Frame): void {
    switch (f.type) {
      case FrameType.PING:
        if (f.payload.length !== 8) throw new ProtocolError("payload", "PING payload must be 8 bytes");
        this.sendFrame(FrameType.PONG, 0, f.payload);
        return;
      case FrameType.PONG:
        return;
      case FrameType.OPEN:
        return this.onPeerOpen(f.stream, decodeControl<Open>(f.type, f.payload));
      case FrameType.DATA:
      case FrameType.WINDOW:
      case FrameType.OPEN_OK:
      case FrameType.FIN:
      case FrameType.RESET:
        return this.onStreamFrame(f);
      default:
        this.handler.onControl(f.type, f.payload);
    }
  }

  private onPeerOpen(id: number, msg: Open): void {
    if (!this.opts.peerMayOpen || !this.handler.onOpen) {
      throw new ProtocolError("forbidden", "peer may not open streams");
    }
    if (this.streams.has(id)) throw new ProtocolError("stream", `OPEN of stream ${id} already in use`);
    const s = new Stream(this, id, this.opts.initialWindow, true);
    if (this.streams.size >= this.opts.maxStreams) {
      this.sendFrame(FrameType.RESET, id, encodeControl({ code: "busy", message: "too many streams" } satisfies Reset));
      return;
    }
    this.streams.set(id, s);
    this.handler.onOpen(s, msg.target);
  }

  private onStreamFrame(f: Frame): void {
    const s = this.streams.get(f.stream);
    if (!s) {
      // Frames racing a local reset/close are normal; anything else on an unknown id is ignored
      // too (a RESET reply would let a hostile peer make us amplify). Bounded: no state is kept.
      if (f.type !== FrameType.RESET && f.type !== FrameType.WINDOW && f.type !== FrameType.DATA && f.type !== FrameType.FIN) {
        this.log("debug", `${frameTypeName(f.type)} for unknown stream ${f.stream}`);
      }
      return;
    }
    switch (f.type) {
      case FrameType.DATA:
        s.receiveData(f.payload);
        return;
      case FrameType.WINDOW:
        if (f.payload.length !== 4) throw new ProtocolError("payload", "WINDOW payload must be 4 bytes");
        s.receiveWindow(readU32(f.payload, 0));
        return;
      case FrameType.OPEN_OK:
        s.receiveOpenOk();
        return;
      case FrameType.FIN:
        s.receiveFin();
        return;
      case FrameType.RESET: {
        const r = decodeControl<Reset>(f.type, f.payload);
        s.receiveReset(r.code, r.message ?? "");
        return;
      }
    }
  }
}
