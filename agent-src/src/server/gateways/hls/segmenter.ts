/**
 * The HLS muxer of one shared source, shared by every HLS viewer of it: fed the source's packets
 * like an RTSP viewer (PacketReader), it turns the video track back into access units
 * (h264.ts) and cuts them into LL-HLS partial segments (one fMP4 fragment each, at most
 * PART_TARGET_S long) and segments (whole parts, each starting at a keyframe, at least
 * MIN_SEGMENT_S long). Memory: the last MAX_SEGMENTS segments and at most maxBytes in all;
 * older ones are forgotten (viewers asking for them get 404, players then reload the playlist).
 * Requests for what is not there yet (blocking playlist reload, the preload-hinted next part)
 * wait here on `when()`, bounded by a timeout.
 */

import type { MediaPacket } from "../../media/gop-cache";
import type { PacketReader } from "../../media/source";
import { fragment, initSegment, lengthPrefixed, type Sample } from "./fmp4";
import { H264Depacketizer, avcC, parseSps, type AccessUnit } from "./h264";

export const TIMESCALE = 90_000;
/** EXT-X-PART-INF PART-TARGET: every part is at most this long. */
export const PART_TARGET_S = 0.5;
/** A segment ends at the first keyframe at least this far from its start. */
export const MIN_SEGMENT_S = 2;
/** Complete segments kept (the playlist lists them all). */
export const MAX_SEGMENTS = 6;
/** Longest believable frame duration; a larger gap (camera stalled, reconnect) counts as one nominal frame. */
const MAX_FRAME_TICKS = 5 * TIMESCALE;
const DEFAULT_FRAME_TICKS = TIMESCALE / 25;

export interface Part {
  index: number;
  data: Buffer;
  /** Seconds. */
  duration: number;
  /** Starts with a keyframe. */
  independent: boolean;
}

export interface Segment {
  msn: number;
  parts: Part[];
  /** Seconds (sum of its parts so far). */
  duration: number;
  complete: boolean;
  bytes: number;
}

interface Waiter {
  ready: () => boolean;
  resolve: (ok: boolean) => void;
  timer: NodeJS.Timeout;
}

export class HlsSegmenter implements PacketReader {
  readonly segments: Segment[] = [];
  init: Buffer | null = null;
  codec = "";
  width = 0;
  height = 0;
  /** The largest segment duration seen (EXT-X-TARGETDURATION is its ceiling). */
  maxSegmentS = MIN_SEGMENT_S;
  closed = false;
  private readonly depack: H264Depacketizer;
  private pending: AccessUnit | null = null;
  private part: Sample[] = [];
  private partTicks = 0;
  private partStart = 0;
  private segTicks = 0;
  private origin: number | null = null;
  private fragSeq = 1;
  /** Starts at the wall clock in seconds: segments are ≥ 1 s, so a later stream of the same source never reuses an earlier one's numbers (and cached URIs). */
  private nextMsn = Math.floor(Date.now() / 1000);
  private waiters = new Set<Waiter>();
  private bytes = 0;
  /** Media bytes taken from the source (PacketReader): the muxer is one reader of it. */
  bytesOut = 0;

  constructor(private readonly track: number, sprop: string | undefined, private readonly maxBytes: number) {
    this.depack = new H264Depacketizer(sprop);
    this.depack.onUnit = (au) => this.unit(au);
  }

  get totalBytes(): number {
    return this.bytes;
  }

  get current(): Segment | null {
    const s = this.segments[this.segments.length - 1];
    return s && !s.complete ? s : null;
  }

  // PacketReader: what the source feeds.
  start(cache: MediaPacket[]): void {
    for (const p of cache) this.push(p);
  }

  restart(): void {
    // A new camera session: what was half-received is dropped, the next keyframe opens a new segment.
    this.depack.reset();
    this.pending = null;
    this.endSegment();
  }

  push(p: MediaPacket): void {
    if (this.closed || p.rtcp || p.track !== this.track) return;
    this.bytesOut += p.data.length;
    this.depack.push(p.data);
  }

  private unit(au: AccessUnit): void {
    if (!this.init && au.key) this.makeInit();
    if (!this.init) return;
    const prev = this.pending;
    this.pending = au;
    if (!prev) return;
    let dur = au.ts - prev.ts;
    if (dur <= 0 || dur > MAX_FRAME_TICKS) dur = DEFAULT_FRAME_TICKS;
    this.sample(prev, dur);
  }

  private makeInit(): void {
    const { sps, pps } = this.depack;
    if (!sps || !pps) return;
    try {
      const info = parseSps(sps);
      this.codec = info.codec;
      this.width = info.width;
      this.height = info.height;
    } catch {
      return; // an SPS we cannot read: wait for the next one
    }
    this.init = initSegment([{ id: 1, timescale: TIMESCALE, width: this.width, height: this.height, entry: "avc1", config: avcC(sps, pps) }]);
  }

  private sample(au: AccessUnit, dur: number): void {
    this.origin ??= au.ts;
    let cur = this.current;
    if (au.key && (!cur || this.segTicks + this.partTicks >= MIN_SEGMENT_S * TIMESCALE)) {
      this.endSegment();
      cur = { msn: this.nextMsn++, parts: [], duration: 0, complete: false, bytes: 0 };
      this.segments.push(cur);
      this.segTicks = 0;
    }
    if (!cur) return; // waiting for a keyframe
    if (this.part.length && this.partTicks + dur > PART_TARGET_S * TIMESCALE) this.endPart();
    if (!this.part.length) this.partStart = au.ts;
    this.part.push({ duration: dur, data: lengthPrefixed(au.nals), key: au.key });
    this.partTicks += dur;
  }

  private endPart(): void {
    const cur = this.current;
    if (!cur || !this.part.length) return;
    const data = fragment(this.fragSeq++, [{ trackId: 1, baseTime: this.partStart - this.origin!, samples: this.part }]);
    cur.parts.push({ index: cur.parts.length, data, duration: this.partTicks / TIMESCALE, independent: this.part[0].key });
    cur.duration += this.partTicks / TIMESCALE;
    cur.bytes += data.length;
    this.bytes += data.length;
    this.segTicks += this.partTicks;
    this.part = [];
    this.partTicks = 0;
    this.bound();
    this.wake();
  }

  private endSegment(): void {
    this.endPart();
    const cur = this.current;
    if (!cur) return;
    if (!cur.parts.length) {
      this.segments.pop();
      this.nextMsn--;
      return;
    }
    cur.complete = true;
    this.maxSegmentS = Math.max(this.maxSegmentS, cur.duration);
    while (this.segments.length > MAX_SEGMENTS) this.drop();
    this.wake();
  }

  /** Bounded memory: old segments go first; a current segment that alone is over the bound is abandoned. */
  private bound(): void {
    while (this.bytes > this.maxBytes && this.segments.length > 1) this.drop();
    if (this.bytes > this.maxBytes) {
      this.drop();
      this.part = [];
      this.partTicks = 0;
    }
  }

  private drop(): void {
    const s = this.segments.shift();
    if (s) this.bytes -= s.bytes;
  }

  /** Resolves true once ready() holds, false after timeoutMs or when the stream closes. */
  when(ready: () => boolean, timeoutMs: number): Promise<boolean> {
    if (ready()) return Promise.resolve(true);
    if (this.closed) return Promise.resolve(false);
    return new Promise((resolve) => {
      const w: Waiter = {
        ready, resolve,
        timer: setTimeout(() => {
          this.waiters.delete(w);
          resolve(false);
        }, timeoutMs),
      };
      this.waiters.add(w);
    });
  }

  private wake(): void {
    for (const w of [...this.waiters]) {
      if (!w.ready()) continue;
      clearTimeout(w.timer);
      this.waiters.delete(w);
      w.resolve(true);
    }
  }

  segment(msn: number): Segment | undefined {
    return this.segments.find((s) => s.msn === msn);
  }

  /** The newest media sequence number that exists (complete or not), or -1. */
  get lastMsn(): number {
    return this.nextMsn - 1;
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    for (const w of this.waiters) {
      clearTimeout(w.timer);
      w.resolve(false);
    }
    this.waiters.clear();
    this.segments.length = 0;
    this.bytes = 0;
  }
}
