/**
 * Records one shared source to a device's archive: attached to the source like any viewer
 * (PacketReader), it turns the H.264 track back into access units (the HLS gateway's
 * depacketizer), cuts them into fMP4 segments (the HLS gateway's box writer) that start at a
 * keyframe and last at least segmentMs, each written as fragments of about FRAGMENT_MS so a
 * crash loses at most the fragment under way. Decode times are wall-clock based — 90 kHz ticks
 * since the Unix epoch, anchored when recording starts (and again if the camera's clock drifts
 * off by more than a second) — so a file names its own place on the timeline.
 *
 * It never waits for the disk and never throws into the source: writes are queued per file. A
 * failed write (disk full) pauses recording: the segment keeps its whole fragments, the state
 * says why, and after RETRY_MS the next keyframe tries a new segment.
 */

import type { LogLevel } from "../../platform/platform";
import type { MediaPacket } from "../media/gop-cache";
import type { PacketReader } from "../media/source";
import { parseRtp } from "../media/rtp/packet";
import { fragment, initSegment, lengthPrefixed, type Sample } from "../gateways/hls/fmp4";
import { H264Depacketizer, avcC, parseSps, type AccessUnit } from "../gateways/hls/h264";
import { SegmentFile } from "./segment-file";
import { TICKS_PER_MS, dayFolder, type DeviceStore, type StoredSegment } from "./store";
import { join } from "node:path";

export const FRAGMENT_MS = 1000;
const RETRY_MS = 2000;
const MAX_FRAME_TICKS = 5 * 90_000;
const DEFAULT_FRAME_TICKS = 90_000 / 25;
const MAX_DRIFT_TICKS = 1000 * TICKS_PER_MS;

export type RecordState = "starting" | "recording" | "disk_full" | "write_error" | "stopped";

export class Recorder implements PacketReader {
  state: RecordState = "starting";
  bytesOut = 0;
  segmentsWritten = 0;
  writeErrors = 0;
  private readonly depack: H264Depacketizer;
  private init: Buffer | null = null;
  private config: Buffer | null = null;
  private pending: AccessUnit | null = null;
  /** Wall-clock anchor: raw RTP timestamp `raw` (later the unwrapped `ts`) maps to `wallTicks`. */
  private anchor: { wallTicks: number; raw: number; ts: number | null } | null = null;
  private file: SegmentFile | null = null;
  private segStartTicks = 0;
  private segInit: Buffer | null = null;
  private frag: Sample[] = [];
  private fragStart = 0;
  private fragTicks = 0;
  private lastEndTicks = 0;
  private seq = 1;
  private pausedUntil = 0;
  private finishing = new Set<Promise<void>>();

  constructor(
    readonly name: string,
    private readonly track: number,
    sprop: string | undefined,
    private readonly store: DeviceStore,
    private readonly segmentMs: number,
    private readonly log: (l: LogLevel, m: string) => void,
    private readonly onSegment: (s: StoredSegment) => void,
  ) {
    this.depack = new H264Depacketizer(sprop);
    this.depack.onUnit = (au) => this.unit(au);
  }

  start(cache: MediaPacket[]): void {
    // The cache ends with what arrived just now: its last picture packet anchors the clock.
    for (let i = cache.length - 1; i >= 0 && !this.anchor; i--) {
      const p = cache[i];
      if (p.track === this.track && !p.rtcp) this.setAnchor(p.data);
    }
    for (const p of cache) this.push(p);
  }

  restart(): void {
    // A new camera session: the last picture of the old one ends the segment.
    this.depack.reset();
    this.flushPending();
    this.endSegment();
  }

  push(p: MediaPacket): void {
    if (this.state === "stopped" || p.rtcp || p.track !== this.track) return;
    if (!this.anchor) this.setAnchor(p.data);
    this.bytesOut += p.data.length;
    this.depack.push(p.data);
  }

  private setAnchor(pkt: Buffer): void {
    const h = parseRtp(pkt);
    if (h) this.anchor = { wallTicks: Date.now() * TICKS_PER_MS, raw: h.timestamp, ts: null };
  }

  private dts(au: AccessUnit): number {
    const a = this.anchor!;
    a.ts ??= au.ts + ((a.raw - (au.ts % 2 ** 32)) | 0);
    return a.wallTicks + (au.ts - a.ts);
  }

  private unit(au: AccessUnit): void {
    if (au.key) this.updateInit();
    if (!this.init) return;
    const prev = this.pending;
    this.pending = au;
    if (!prev) return;
    let dur = au.ts - prev.ts;
    if (dur <= 0 || dur > MAX_FRAME_TICKS) dur = DEFAULT_FRAME_TICKS;
    this.sample(prev, dur);
  }

  private flushPending(): void {
    if (this.pending && this.init) this.sample(this.pending, DEFAULT_FRAME_TICKS);
    this.pending = null;
  }

  private updateInit(): void {
    const { sps, pps } = this.depack;
    if (!sps || !pps) return;
    const config = avcC(sps, pps);
    if (this.config?.equals(config)) return;
    try {
      const info = parseSps(sps);
      this.init = initSegment([{ kind: "video", id: 1, timescale: 90_000, width: info.width, height: info.height, entry: "avc1", config }]);
      this.config = config;
    } catch {
      // an SPS we cannot read: keep the last good one
    }
  }

  private sample(au: AccessUnit, dur: number): void {
    let dts = this.dts(au);
    if (au.key && (!this.file || this.segTicks() >= this.segmentMs * TICKS_PER_MS || this.segInit !== this.init)) {
      this.endSegment();
      if (Date.now() >= this.pausedUntil) {
        const now = Date.now() * TICKS_PER_MS;
        // Only a picture that arrived live says where "now" is: the GOP cache's are seconds old.
        const live = au.ts > this.anchor!.ts!;
        if (live && Math.abs(dts - now) > MAX_DRIFT_TICKS) {
          // The camera's clock ran off from ours: re-anchor, never back over what is recorded.
          const want = Math.max(now, this.lastEndTicks);
          this.anchor!.wallTicks += want - dts;
          dts = want;
        }
        this.startSegment(dts);
      }
    }
    if (!this.file) return;
    if (this.frag.length && this.fragTicks + dur > FRAGMENT_MS * TICKS_PER_MS) this.endFragment();
    if (!this.frag.length) this.fragStart = dts;
    this.frag.push({ duration: dur, data: lengthPrefixed(au.nals), key: au.key });
    this.fragTicks += dur;
  }

  private segTicks(): number {
    return this.fragStart + this.fragTicks - this.segStartTicks;
  }

  private startSegment(dts: number): void {
    const startMs = Math.round(dts / TICKS_PER_MS);
    const rel = `${dayFolder(startMs)}/${startMs}.mp4`;
    const path = join(this.store.dir, rel);
    this.segStartTicks = dts;
    this.segInit = this.init;
    this.fragTicks = 0;
    this.fragStart = dts;
    const f = new SegmentFile(path, dts);
    this.file = f;
    f.onError = (e) => this.writeFailed(f, e);
    f.onFragment = () => this.resumed();
    f.append(this.init!, null);
  }

  private endFragment(): void {
    if (!this.file || !this.frag.length) return;
    const end = this.fragStart + this.fragTicks;
    this.file.append(fragment(this.seq++, [{ trackId: 1, baseTime: this.fragStart, samples: this.frag }]), end);
    this.frag = [];
    this.fragTicks = 0;
  }

  private endSegment(): void {
    this.endFragment();
    const f = this.file;
    this.file = null;
    if (!f) return;
    const startMs = Math.round(f.startTicks / TICKS_PER_MS);
    const done = f.finish().then((bytes) => {
      if (bytes === null) return;
      this.lastEndTicks = Math.max(this.lastEndTicks, f.goodEndTicks);
      const rel = f.path.slice(this.store.dir.length + 1);
      const s: StoredSegment = { startMs, durationMs: Math.round(f.goodEndTicks / TICKS_PER_MS) - startMs, bytes, rel };
      this.segmentsWritten++;
      this.onSegment(s);
    }).catch((e: Error) => this.log("error", `record ${this.name}: ${e.message}`)).finally(() => this.finishing.delete(done));
    this.finishing.add(done);
  }

  private resumed(): void {
    if (this.state === "recording" || this.state === "stopped") return;
    if (this.state === "disk_full" || this.state === "write_error") this.log("info", `record ${this.name}: recording again`);
    this.state = "recording";
  }

  private writeFailed(f: SegmentFile, e: Error): void {
    this.writeErrors++;
    if (this.file === f) {
      this.file = null;
      this.frag = [];
      this.fragTicks = 0;
      // What was written whole is kept; finish() cuts the rest.
      const keep = f;
      const done = keep.finish().then((bytes) => {
        if (bytes === null) return;
        const startMs = Math.round(keep.startTicks / TICKS_PER_MS);
        this.lastEndTicks = Math.max(this.lastEndTicks, keep.goodEndTicks);
        this.onSegment({ startMs, durationMs: Math.round(keep.goodEndTicks / TICKS_PER_MS) - startMs, bytes, rel: keep.path.slice(this.store.dir.length + 1) });
      }).catch(() => {}).finally(() => this.finishing.delete(done));
      this.finishing.add(done);
    }
    this.pausedUntil = Date.now() + RETRY_MS;
    const code = (e as NodeJS.ErrnoException).code;
    const state: RecordState = code === "ENOSPC" || code === "EDQUOT" ? "disk_full" : "write_error";
    if (this.state !== state && this.state !== "stopped") {
      this.log("warn", `record ${this.name}: recording paused, ${state === "disk_full" ? "disk full" : "write failed"} (${e.message}); live viewing continues, retrying every ${RETRY_MS} ms`);
      this.state = state;
    }
  }

  /** A segment that started at a keyframe is under way (its first whole fragment may still be queued). */
  get writing(): boolean {
    return this.file !== null;
  }

  /** Ends the current segment (what is buffered is written) and waits for every file to be closed. */
  async stop(): Promise<void> {
    if (this.state === "stopped") return;
    this.flushPending();
    this.endSegment();
    this.state = "stopped";
    await Promise.all([...this.finishing]);
  }
}
