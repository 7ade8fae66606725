/**
 * One multiplexed stream: credit-based flow control in both directions, half-close and reset.
 *
 * Sending: write() queues; bytes leave as DATA only while the peer's window has credit.
 * write() returns false above STREAM_HIGH_WATER so the source (a camera socket, a viewer socket)
 * pauses; onDrain says when to resume. Receiving: the peer may send at most our window; credit
 * is granted back (WINDOW) only while the consumer is not paused, so a stalled consumer holds at
 * most one window of data and stalls nobody else. The window starts at the protocol's 256 KiB and
 * grows (doubles, up to the session's maxWindow) while the consumer keeps taking whole windows
 * faster than the link returns credit: then the window, not the consumer, limits the stream.
 */

import type { Pump, PumpEvents, Socket } from "../platform/platform";
import type { Reset } from "./control";
import { encodeControl } from "./control";
import { FrameType, HEADER_SIZE, ProtocolError, writeU32 } from "./frame";
import type { Session } from "./session";

/** Starts a Pump on the link for a stream (Platform.pump with the source already chosen). */
export type PumpOpener = (link: Socket, streamId: number, credit: number, events: PumpEvents) => Pump;

/** Queued outgoing bytes above which write() asks the source to pause. */
export const STREAM_HIGH_WATER = 64 * 1024;
/** Largest DATA frame we send: small enough that streams interleave fairly on the link. */
export const DATA_CHUNK = 16 * 1024;
/**
 * Receive-window auto-tuning: a consumer that took a whole window within this (or within two of
 * the link's PING round trips, if longer) doubles the window. On a LAN or loopback the round trip
 * is well under this; 256 KiB in 20 ms is ~100 Mbit/s, more than a camera sends.
 */
export const WINDOW_GROW_MS = 20;

export class Stream {
  onData: ((data: Uint8Array) => void) | null = null;
  /** Peer half-closed: no more data will arrive. */
  onEnd: (() => void) | null = null;
  /** Queue went below STREAM_HIGH_WATER after write() returned false. */
  onDrain: (() => void) | null = null;
  /** Peer accepted our OPEN (the camera target is connected). */
  onOpen: (() => void) | null = null;
  /** Stream is finished for good (both sides done, reset or link lost); called once. */
  onClose: ((reason: string | null) => void) | null = null;

  bytesIn = 0;
  bytesOut = 0;
  private queue: Uint8Array[] = [];
  private queued = 0;
  private sendWindow: number;
  private recvWindow: number;
  /** Our receive window now: credit outstanding plus bytes received and not yet credited. */
  private recvLimit: number;
  /** Auto-tuning epoch: when it began (-1: no data yet) and the bytes credited since. */
  private epochStart = -1;
  private epochBytes = 0;
  private unacked = 0;
  private paused = false;
  private wantDrain = false;
  private localEnded = false;
  private finSent = false;
  private finReceived = false;
  private done = false;
  /** Set by sendFrom: outgoing DATA comes from this pump, not from write(). */
  private pump: Pump | null = null;

  constructor(
    private readonly session: Session,
    readonly id: number,
    private readonly window: number,
    /** True when the peer opened it (we must accept or reset). */
    readonly incoming: boolean,
    /** Our receive window may grow up to this (the peer's for us is always `window`). */
    private readonly maxWindow = window,
  ) {
    this.sendWindow = window;
    this.recvWindow = window;
    this.recvLimit = window;
  }

  /** Our receive window now (grows from the initial window up to maxWindow). */
  get receiveWindowSize(): number {
    return this.recvLimit;
  }

  get isClosed(): boolean {
    return this.done;
  }

  /** Bytes waiting for window or link. */
  get bufferedOut(): number {
    return this.queued;
  }

  /** Incoming stream: the local side is connected, tell the peer. */
  accept(): void {
    this.session.sendFrame(FrameType.OPEN_OK, this.id);
  }

  write(data: Uint8Array): boolean {
    if (this.done || this.localEnded) return false;
    if (data.length) {
      this.queue.push(data);
      this.queued += data.length;
      this.flush();
    }
    if (this.queued >= STREAM_HIGH_WATER) {
      this.wantDrain = true;
      return false;
    }
    return true;
  }

  /**
   * From now on this stream's outgoing DATA is sent by a pump (Platform.pump: in C on the camera)
   * rather than through write(): WINDOW credit goes to it and what it sends is counted here.
   * `onEnd`: its source ended and everything was sent (call end() to send FIN); `onError`: it failed.
   */
  sendFrom(open: PumpOpener, handlers: { onEnd(): void; onError(err: string): void }): void {
    if (this.done || this.localEnded || this.pump || this.queued > 0) throw new Error(`stream ${this.id}: cannot start a pump now`);
    this.pump = open(this.session.link, this.id, this.sendWindow, {
      onSent: (bytes, frames) => {
        this.sendWindow -= bytes;
        this.bytesOut += bytes;
        this.session.countSent(bytes + frames * HEADER_SIZE);
      },
      onLinkFull: () => this.session.noteLinkFull(),
      onEnd: () => {
        if (!this.done) handlers.onEnd();
      },
      onError: (err) => {
        if (!this.done) handlers.onError(err);
      },
    });
  }

  /** Half-close our direction once the queue is flushed. */
  end(): void {
    if (this.done || this.localEnded) return;
    this.localEnded = true;
    this.flush();
  }

  /** Abort the stream in both directions. */
  reset(code: string, message = ""): void {
    if (this.done) return;
    this.session.sendFrame(FrameType.RESET, this.id, encodeControl({ code, message } satisfies Reset));
    this.finish(`reset by us: ${code}${message ? ` (${message})` : ""}`);
  }

  /** Consumer cannot take more now: stop granting credit (peer stops after one window). */
  pause(): void {
    this.paused = true;
  }

  resume(): void {
    if (!this.paused) return;
    this.paused = false;
    this.grant(true);
  }

  /** @internal Push queued bytes out as far as window and link allow. */
  flush(): void {
    if (this.pump && this.session.canSendData && !this.done && !this.localEnded) this.pump.kick();
    while (this.queued > 0 && this.sendWindow > 0 && this.session.canSendData && !this.done) {
      let head = this.queue[0];
      const n = Math.min(head.length, this.sendWindow, DATA_CHUNK);
      let chunk: Uint8Array;
      if (n === head.length) {
        chunk = head;
        this.queue.shift();
      } else {
        chunk = head.subarray(0, n);
        this.queue[0] = head.subarray(n);
      }
      this.queued -= n;
      this.sendWindow -= n;
      this.bytesOut += n;
      this.session.sendFrame(FrameType.DATA, this.id, chunk);
    }
    if (this.wantDrain && this.queued < STREAM_HIGH_WATER / 2 && !this.done) {
      this.wantDrain = false;
      this.onDrain?.();
    }
    if (this.localEnded && this.queued === 0 && !this.finSent && !this.done) {
      this.finSent = true;
      this.session.sendFrame(FrameType.FIN, this.id);
      this.maybeDone();
    }
  }

  // ---- called by Session for frames of this stream ----

  /** @internal */
  receiveData(data: Uint8Array): void {
    if (this.finReceived) throw new ProtocolError("stream", `DATA after FIN on stream ${this.id}`);
    if (data.length > this.recvWindow) {
      throw new ProtocolError("flow", `stream ${this.id}: peer sent ${data.length} bytes with ${this.recvWindow} credit`);
    }
    this.recvWindow -= data.length;
    if (this.epochStart < 0 && this.recvLimit < this.maxWindow) this.epochStart = this.session.now();
    this.bytesIn += data.length;
    this.unacked += data.length;
    this.onData?.(data);
    this.grant(false);
  }

  /** @internal */
  receiveWindow(n: number): void {
    if (!this.done) this.pump?.sync?.(); // sendWindow must count every byte the pump sent
    if (n === 0 || this.sendWindow + n > 0x7fffffff) throw new ProtocolError("flow", `stream ${this.id}: bad WINDOW ${n}`);
    this.sendWindow += n;
    if (!this.done) this.pump?.credit(n);
    this.flush();
  }

  /** @internal */
  receiveOpenOk(): void {
    if (this.incoming) throw new ProtocolError("stream", `OPEN_OK for stream ${this.id} we did not open`);
    this.onOpen?.();
  }

  /** @internal */
  receiveFin(): void {
    if (this.finReceived) return;
    this.finReceived = true;
    this.onEnd?.();
    this.maybeDone();
  }

  /** @internal */
  receiveReset(code: string, message: string): void {
    this.finish(`reset by peer: ${code}${message ? ` (${message})` : ""}`);
  }

  /** @internal */
  linkClosed(reason: string): void {
    this.finish(`link lost: ${reason}`);
  }

  private grant(force: boolean): void {
    if (this.paused || this.done || this.finReceived || this.unacked === 0) return;
    // Batch credit: one WINDOW per half window consumed keeps the control overhead tiny.
    if (!force && this.unacked < this.recvLimit / 2) return;
    const n = this.unacked + this.grow();
    const p = new Uint8Array(4);
    writeU32(p, 0, n);
    this.recvWindow += n;
    this.unacked = 0;
    this.session.sendFrame(FrameType.WINDOW, this.id, p);
  }

  /**
   * Auto-tuning (as HTTP/2 and yamux implementations do): when the consumer has taken a whole
   * window within WINDOW_GROW_MS or two round trips, the window is what limits this stream, so
   * it doubles, up to maxWindow and as far as the link's growth budget allows (Session.
   * windowGrowthAllowed: all its streams' growth together is at most one stream's). Returns the
   * extra credit to grant. Never while paused (grant is not called then), and an epoch that spans
   * a pause is slow, so a stalled consumer's window stays where it was: it holds at most maxWindow.
   */
  private grow(): number {
    if (this.recvLimit >= this.maxWindow || this.epochStart < 0) return 0;
    this.epochBytes += this.unacked;
    if (this.epochBytes < this.recvLimit) return 0;
    const now = this.session.now();
    const fast = now - this.epochStart < Math.max(WINDOW_GROW_MS, 2 * this.session.rttMs);
    this.epochStart = now;
    this.epochBytes = 0;
    if (!fast) return 0;
    const extra = this.session.windowGrowthAllowed(Math.min(this.maxWindow, this.recvLimit * 2) - this.recvLimit);
    this.recvLimit += extra;
    return extra;
  }

  private maybeDone(): void {
    if (this.finSent && this.finReceived) this.finish(null);
  }

  private finish(reason: string | null): void {
    if (this.done) return;
    this.done = true;
    this.queue = [];
    this.queued = 0;
    this.pump?.stop();
    this.session.streamGone(this.id);
    this.onClose?.(reason);
  }
}
