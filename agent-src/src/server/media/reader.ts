/**
 * One viewer of a source: which tracks it set up and on which interleaved channels, its own RTP
 * sequence numbers (continuous whatever is skipped or however often the camera reconnects), and
 * a bounded send queue. A viewer starts at a keyframe (the GOP cache's, or the next live one).
 *
 * A viewer that falls behind — its socket's queue above `queueBytes` — is skipped: its packets
 * are dropped until the next keyframe finds its queue drained below half the bound. A viewer
 * skipped `maxSkips` times within `skipWindowMs`, or one that stays behind for `skipWindowMs`,
 * is disconnected (onTooSlow). It never slows the source or another viewer; its memory is its
 * socket queue: at most queueBytes plus one GOP cache burst at start, plus the packets of one
 * camera read not yet written (a TCP sink gathers a tick's packets into one write).
 */

import type { MediaPacket } from "./gop-cache";

export interface Sink {
  write(b: Buffer): void;
  /** Optional: takes the packet unframed and frames it itself ($, channel, length; `seq` written
   *  into the RTP header unless null), so a sink that gathers packets copies each once, with no
   *  buffer allocated per packet and viewer. `data` must not be modified. */
  writeFramed?(channel: number, data: Buffer, seq: number | null): void;
  /** Bytes written but not yet taken by the kernel (net.Socket#writableLength). */
  buffered(): number;
}

export interface ReaderOptions {
  queueBytes: number;
  maxSkips: number;
  skipWindowMs: number;
  /** The source's key track, or null (no keyframes: start anywhere). */
  keyTrack: number | null;
  now?: () => number;
}

export interface TrackOut {
  /** Interleaved channel for RTP; RTCP goes on channel + 1. */
  channel: number;
  /** Next sequence number this viewer gets on the track. */
  seq: number;
}

export class Reader {
  /** Source track → this viewer's channel and sequence. */
  readonly tracks = new Map<number, TrackOut>();
  private waiting = true;
  private skipping = false;
  private skippingSince = 0;
  private skipTimes: number[] = [];
  /** Extra allowance for the GOP cache burst at start, dropped once the socket drains. */
  private burst = 0;
  private closed = false;
  skips = 0;
  packetsOut = 0;
  bytesOut = 0;
  onTooSlow: ((why: string) => void) | null = null;
  private readonly now: () => number;

  constructor(private readonly sink: Sink, private readonly o: ReaderOptions) {
    this.now = o.now ?? Date.now;
  }

  addTrack(track: number, channel: number): TrackOut {
    const t = { channel, seq: Math.floor(Math.random() * 0x10000) };
    this.tracks.set(track, t);
    return t;
  }

  private get gated(): boolean {
    return this.o.keyTrack !== null && this.tracks.has(this.o.keyTrack);
  }

  /** Starts (or restarts, after PAUSE or a camera reconnect) at a keyframe: the cache's, else the next one. */
  start(cache: MediaPacket[]): void {
    this.waiting = this.gated;
    this.skipping = false;
    const before = this.sink.buffered();
    for (const p of cache) this.send(p);
    this.burst = this.sink.buffered() - before;
  }

  /** The camera reconnected: its new session starts with a keyframe, and so does this viewer. */
  restart(): void {
    this.waiting = this.gated;
  }

  close(): void {
    this.closed = true;
  }

  push(p: MediaPacket): void {
    if (this.closed || !this.tracks.has(p.track)) return;
    const queued = this.sink.buffered();
    if (this.burst && queued <= this.o.queueBytes) this.burst = 0;
    if (this.skipping) {
      const canResume = (!this.gated || p.key) && queued <= this.o.queueBytes / 2;
      if (!canResume) {
        if (p.key) this.skipped(); // a whole GOP passed while still behind
        else if (this.now() - this.skippingSince > this.o.skipWindowMs) this.tooSlow(`behind for ${this.o.skipWindowMs} ms`);
        return;
      }
      this.skipping = false;
      this.waiting = false;
    } else if (!p.rtcp && queued > this.o.queueBytes + this.burst) {
      this.skipping = true;
      this.skippingSince = this.now();
      this.skipped();
      return;
    }
    this.send(p);
  }

  private skipped(): void {
    this.skips++;
    const now = this.now();
    this.skipTimes = this.skipTimes.filter((t) => now - t < this.o.skipWindowMs);
    this.skipTimes.push(now);
    if (this.skipTimes.length >= this.o.maxSkips) this.tooSlow(`skipped to the next keyframe ${this.skipTimes.length} times in ${this.o.skipWindowMs} ms`);
  }

  private tooSlow(why: string): void {
    if (this.closed) return;
    this.closed = true;
    this.onTooSlow?.(why);
  }

  private send(p: MediaPacket): void {
    const t = this.tracks.get(p.track);
    if (!t) return;
    if (this.waiting) {
      if (!p.key) return;
      this.waiting = false;
    }
    const n = p.data.length;
    if (this.sink.writeFramed) {
      const seq = p.rtcp ? null : t.seq;
      if (!p.rtcp) t.seq = (t.seq + 1) & 0xffff;
      this.packetsOut++;
      this.bytesOut += 4 + n;
      return this.sink.writeFramed(p.rtcp ? t.channel + 1 : t.channel, p.data, seq);
    }
    const out = Buffer.allocUnsafe(4 + n);
    out[0] = 0x24;
    out[1] = p.rtcp ? t.channel + 1 : t.channel;
    out.writeUInt16BE(n, 2);
    p.data.copy(out, 4);
    if (!p.rtcp) {
      out.writeUInt16BE(t.seq, 6);
      t.seq = (t.seq + 1) & 0xffff;
    }
    this.packetsOut++;
    this.bytesOut += out.length;
    this.sink.write(out);
  }
}
