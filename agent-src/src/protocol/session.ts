/**
 * One tunnel link: frames in and out of a byte socket, keepalive, and the multiplexed streams.
 * Used unchanged by the agent (over the Platform's TLS socket) and by the server (over Node's).
 */

import type { Clock, LogLevel, Socket } from "../platform/platform";
import { encodeControl, decodeControl, type Open, type Reset } from "./control";
import {
  EMPTY, FrameDecoder, FrameType, HEADER_SIZE, ProtocolError, encodeFrame, frameTypeName, readU32, writeHeader, writeU32,
  type Frame, type ProtocolErrorCode,
} from "./frame";
import { Stream } from "./stream";

/**
 * Codes of an ERROR this side sends before closing (Session.fail): a peer's protocol violation,
 * or a refusal (handshake deadline, failed AUTH, activation refused or unavailable; the agent:
 * the server is not of the role it dialled).
 */
export type ErrorCode = ProtocolErrorCode | "timeout" | "auth" | "activation" | "unavailable" | "role";

/**
 * Why a link ended, as data. `code` is what to act on (count, classify); `text` is the line for
 * logs, unchanged from when close reasons were plain strings.
 */
export interface CloseReason {
  code: CloseCode;
  text: string;
}

export type CloseCode =
  /** We sent ERROR with this code (fail). */
  | ErrorCode
  /** The peer half-closed; the socket failed; the socket closed without error. */
  | "peer_closed" | "socket_error" | "socket_closed"
  /** Keepalive: nothing received within idleTimeout; our PING unanswered within it (peer not reading). */
  | "idle_timeout" | "ping_unanswered"
  /** The peer does not read: the socket stayed full for idleTimeout, or more than maxWriteBuffer queued. */
  | "write_stall" | "write_buffer"
  /** The owner closed it (close/finish); the text says why. */
  | "local";

export interface SessionOptions {
  /** A PING goes out this often; the peer answers with PONG. */
  pingIntervalMs: number;
  /** Nothing received for this long: the link is dead (half-open, blackholed). */
  idleTimeoutMs: number;
  /** Per-stream receive window: the most a peer may send on a stream before we grant more. */
  initialWindow: number;
  /**
   * Largest a stream's receive window may grow to (auto-tuning, Stream.grant): a stream whose
   * consumer takes a whole window within WINDOW_GROW_MS (or two round trips, if longer) gets its
   * window doubled, up to this. Equal to initialWindow: never grows. The growth of all the link's
   * streams together is at most maxWindow - initialWindow, so one link never holds more than
   * maxStreams initial windows plus that.
   */
  maxWindow: number;
  /** Concurrent streams on one link. */
  maxStreams: number;
  /** Only the server opens streams; an agent never pushes media unasked. */
  peerMayOpen: boolean;
  /**
   * Bytes the link may queue past the socket's own buffer (written while the socket reports
   * full) before the peer is taken to be not reading and the link is cut off. Counts every
   * frame, control replies included.
   */
  maxWriteBuffer: number;
  /** PONGs sent per second at most (bucket of as many); PINGs over it are dropped and counted. */
  pongsPerSecond: number;
  /** A peer sending more PINGs than this within one second is flooding: the link is closed. */
  pingFloodPerSecond: number;
  /** Answer PINGs from the start; a server turns this on only once the peer has authenticated. */
  answerPings: boolean;
}

/** Defaults: a dead link is noticed within idleTimeout + one tick = 40 s (≤ 45 s). */
export const DEFAULT_SESSION_OPTIONS: SessionOptions = {
  pingIntervalMs: 15_000,
  idleTimeoutMs: 35_000,
  initialWindow: 256 * 1024,
  // The agent keeps its window fixed (a 32 MB camera); the server passes limits.stream_window_max_bytes.
  maxWindow: 256 * 1024,
  maxStreams: 32,
  peerMayOpen: false,
  // The agent's figure (a 32 MB camera); the server passes limits.link_write_buffer_bytes.
  maxWriteBuffer: 256 * 1024,
  // A legitimate peer pings once per ping interval (config minimum 50 ms = 20/s).
  pongsPerSecond: 20,
  pingFloodPerSecond: 200,
  answerPings: true,
};

/** After a fatal ERROR, how long the peer gets to read it before the socket is destroyed. */
const FAIL_GRACE_MS = 2000;

export interface SessionHandler {
  /** A link-level control frame (HELLO, AUTH, REDIRECT…); PING/PONG are handled here. */
  onControl(type: FrameType, payload: Uint8Array): void;
  /** The peer opened a stream (only when peerMayOpen). Accept with stream.accept() or reset it. */
  onOpen?(stream: Stream, target: string): void;
  /** The link is gone; called once. */
  onClose(reason: CloseReason): void;
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
  /** When the socket last reported full, and what was written since (both reset on drain). */
  private blockedSince = 0;
  private blockedBytes = 0;
  private nextStreamId = 1;
  /** PINGs not answered: over the rate, while the link was blocked, or before answerPings. */
  pingsDropped = 0;
  private answerPings: boolean;
  /** The latest PING we could not answer yet; answered once the link drains (at most one). */
  private pendingPong: Uint8Array | null = null;
  private pongTokens: number;
  private pongRefill: number;
  private pingWindowStart = 0;
  private pingsInWindow = 0;
  /** Our PING awaiting its PONG: the peer proves it reads by echoing it. */
  private pingOut: Uint8Array | null = null;
  private pingSentAt = 0;
  private pingSeq = 0;
  /** Round trip of the latest answered PING, ms (0 until one is answered). */
  rttMs = 0;

  constructor(
    private readonly sock: Socket,
    private readonly clock: Clock,
    readonly opts: SessionOptions,
    private readonly handler: SessionHandler,
    private readonly log: (level: LogLevel, msg: string) => void = () => {},
  ) {
    this.lastRecv = clock.now();
    this.answerPings = opts.answerPings;
    this.pongTokens = opts.pongsPerSecond;
    this.pongRefill = this.lastRecv;
    sock.onData = (d) => this.onData(d);
    sock.onEnd = () => this.close("peer closed the link", "peer_closed");
    sock.onClose = (err) => (err ? this.close(`link error: ${err}`, "socket_error") : this.close("link closed", "socket_closed"));
    sock.onDrain = () => {
      this.linkBlocked = false;
      this.blockedBytes = 0;
      this.sendPendingPong();
      this.flushStreams();
    };
    const tickMs = Math.max(10, Math.min(opts.pingIntervalMs, Math.floor(opts.idleTimeoutMs / 7)));
    let sincePing = 0;
    const onTick = () => {
      if (this.closed) return;
      const now = this.clock.now();
      const idle = this.opts.idleTimeoutMs;
      if (now - this.lastRecv > idle) {
        this.close(`keepalive timeout: nothing received for ${idle} ms`, "idle_timeout");
        return;
      }
      // A peer that keeps sending but never reads: receiving alone does not prove it is alive.
      if (this.pingOut && now - this.pingSentAt > idle) {
        this.close(`keepalive timeout: PING not answered for ${idle} ms (peer not reading)`, "ping_unanswered");
        return;
      }
      if (this.linkBlocked && now - this.blockedSince > idle) {
        this.close(`write stall: peer has not read for ${idle} ms`, "write_stall");
        return;
      }
      sincePing += tickMs;
      if (sincePing >= this.opts.pingIntervalMs && !this.pingOut) {
        sincePing = 0;
        this.pingNow();
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
    const s = new Stream(this, id, this.opts.initialWindow, false, this.opts.maxWindow);
    this.streams.set(id, s);
    this.sendFrame(FrameType.OPEN, id, encodeControl({ target } satisfies Open));
    return s;
  }

  /**
   * Server side: the peer has authenticated, PINGs are answered from now on (the latest one that
   * arrived before is answered now). Before that nothing but the handshake gets a reply.
   */
  startAnsweringPings(): void {
    if (this.answerPings) return;
    this.answerPings = true;
    this.sendPendingPong();
  }

  /**
   * Send a PING now (unless one is outstanding): its answer gives rttMs at once instead of after
   * the first ping interval, e.g. for window auto-tuning on a link with a long round trip.
   */
  pingNow(): void {
    if (this.closed || this.pingOut) return;
    const now = this.clock.now();
    const p = new Uint8Array(8);
    writeU32(p, 0, ++this.pingSeq);
    writeU32(p, 4, now >>> 0);
    this.pingOut = p;
    this.pingSentAt = now;
    this.sendFrame(FrameType.PING, 0, p);
  }

  /** Tear the link down; every stream is reset locally. Idempotent. */
  close(text: string, code: CloseCode = "local"): void {
    if (this.closed) return;
    this.shutDown({ code, text });
    this.sock.destroy();
  }

  /**
   * Send a fatal ERROR and close. The socket is half-closed rather than destroyed so the ERROR
   * is flushed; it is destroyed after a grace period in case the peer never closes its side.
   */
  fail(code: ErrorCode, message: string): void {
    if (this.closed) return;
    this.log("warn", `link error ${code}: ${message}`);
    this.sendControl(FrameType.ERROR, { code, message });
    this.finish(`${code}: ${message}`, code);
  }

  /**
   * Close after what was sent (e.g. RETRY_AFTER) has been flushed: half-close now, destroy after
   * the grace period in case the peer never closes its side.
   */
  finish(text: string, code: CloseCode = "local"): void {
    if (this.closed) return;
    this.sock.onData = null;
    // Nothing more is read: a flooding peer must not keep us decrypting until the grace ends.
    this.sock.pause();
    this.sock.end();
    this.clock.setTimer(FAIL_GRACE_MS, () => this.sock.destroy());
    this.shutDown({ code, text });
  }

  private shutDown(reason: CloseReason): void {
    this.closed = true;
    this.clock.clearTimer(this.tick);
    for (const s of [...this.streams.values()]) s.linkClosed(reason.text);
    this.streams.clear();
    this.handler.onClose(reason);
  }

  // ---- used by Stream ----

  /** @internal */
  sendFrame(type: FrameType, stream: number, payload: Uint8Array = EMPTY): void {
    if (this.closed) return;
    const size = HEADER_SIZE + payload.length;
    if (this.linkBlocked) {
      // Everything written while the socket is full is memory the peer makes us hold.
      this.blockedBytes += size;
      if (this.blockedBytes > this.opts.maxWriteBuffer) {
        this.close(`write buffer over ${this.opts.maxWriteBuffer} bytes: peer not reading`, "write_buffer");
        return;
      }
    }
    this.bytesOut += size;
    // DATA is the byte path: where the socket can, header and payload leave without a copy in JS.
    const ok = type === FrameType.DATA && this.sock.writeTwo
      ? this.sock.writeTwo(writeHeader(this.head, type, stream, payload.length), payload)
      : this.sock.write(encodeFrame(type, stream, payload));
    if (!ok && !this.linkBlocked) {
      this.linkBlocked = true;
      this.blockedSince = this.clock.now();
    }
  }

  /** @internal The link's socket, for a stream's pump (Stream.sendFrom). */
  get link(): Socket {
    return this.sock;
  }

  /** @internal A pump wrote frames straight to the link. */
  countSent(bytes: number): void {
    this.bytesOut += bytes;
  }

  /** @internal A pump found the link full: as a write that returned false (onDrain clears it). */
  noteLinkFull(): void {
    if (this.closed || this.linkBlocked) return;
    this.linkBlocked = true;
    this.blockedSince = this.clock.now();
  }

  /** @internal */
  now(): number {
    return this.clock.now();
  }

  /** @internal Link can take DATA now. */
  get canSendData(): boolean {
    return !this.linkBlocked && !this.closed;
  }

  /** @internal */
  streamGone(id: number): void {
    this.streams.delete(id);
  }

  /**
   * @internal A stream's window would grow by `n`: how much of it the link's budget allows. What
   * the open streams hold is summed, not kept: a finished stream has left `streams` (a few grows
   * per stream, at most maxStreams of them).
   */
  windowGrowthAllowed(n: number): number {
    let held = 0;
    for (const s of this.streams.values()) held += s.receiveWindowSize - this.opts.initialWindow;
    return Math.max(0, Math.min(n, this.opts.maxWindow - this.opts.initialWindow - held));
  }

  private sendPendingPong(): void {
    const p = this.pendingPong;
    if (!p || !this.answerPings || this.linkBlocked || this.closed) return;
    this.pendingPong = null;
    this.sendFrame(FrameType.PONG, 0, p);
  }

  /**
   * PING costs the peer 20 bytes; the answer must not cost us more than that in memory or CPU:
   * rate-limited, never queued behind a full link (one pending at most), and a flood ends the link.
   */
  private onPing(payload: Uint8Array): void {
    const now = this.clock.now();
    if (now - this.pingWindowStart >= 1000) {
      this.pingWindowStart = now;
      this.pingsInWindow = 0;
    }
    if (++this.pingsInWindow > this.opts.pingFloodPerSecond) {
      throw new ProtocolError("flood", `more than ${this.opts.pingFloodPerSecond} PINGs in one second`);
    }
    const rate = this.opts.pongsPerSecond;
    this.pongTokens = Math.min(rate, this.pongTokens + ((now - this.pongRefill) / 1000) * rate);
    this.pongRefill = now;
    if (!this.answerPings || this.linkBlocked) {
      if (this.pendingPong) this.pingsDropped++;
      this.pendingPong = payload;
      return;
    }
    if (this.pongTokens < 1) {
      this.pingsDropped++;
      return;
    }
    this.pongTokens -= 1;
    this.sendFrame(FrameType.PONG, 0, payload);
  }

  private onPong(payload: Uint8Array): void {
    const out = this.pingOut;
    if (!out || payload.length !== 8) return;
    for (let i = 0; i < 8; i++) if (payload[i] !== out[i]) return;
    this.pingOut = null;
    this.rttMs = this.clock.now() - this.pingSentAt;
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
        return this.onPing(f.payload);
      case FrameType.PONG:
        return this.onPong(f.payload);
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
    const s = new Stream(this, id, this.opts.initialWindow, true, this.opts.maxWindow);
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
