/**
 * Records one shared source to a device's archive: attached to the source like any viewer
 * (PacketReader), it turns the video track (H.264 or H.265) back into access units and the AAC
 * track, if any, into frames (the HLS gateway's depacketizers), and cuts them with the HLS
 * gateway's fMP4 writer into segments that start at a keyframe and last at least segmentMs, each
 * written as fragments of about FRAGMENT_MS so a crash loses at most the fragment under way.
 * Video decode times are wall-clock based — 90 kHz ticks since the Unix epoch, anchored when
 * recording starts (and again if the camera's clock drifts off by more than a second) — so a file
 * names its own place on the timeline. Audio (in its sample rate's units since the epoch) is
 * placed by the camera's RTCP sender reports once both tracks have had one (they say when each
 * track's samples were captured on the camera's one clock); before that, where it arrives: its
 * first frame at the picture received with it, later frames by their own RTP clock. When the
 * reports arrive later and disagree by more than SR_CORRECTION_MIN_S, the next segment (a new
 * file) moves the audio to where they say. A keyframe with new parameter sets (a new resolution) starts a segment
 * with a new init segment. The codecs are stored as the camera sends them: nothing is transcoded.
 *
 * It never waits for the disk and never throws into the source: writes are queued per file. A
 * failed write (disk full) pauses recording: the segment keeps its whole fragments, the state
 * says why, and after RETRY_MS the next keyframe tries a new segment.
 */

import type { LogLevel } from "../../platform/platform";
import type { MediaPacket } from "../media/gop-cache";
import type { PacketReader } from "../media/source";
import { parseRtp } from "../media/rtp/packet";
import { lengthPrefixed, type TrackInfo } from "../gateways/hls/fmp4";
import { Fmp4Writer } from "../gateways/hls/fmp4-writer";
import { H264Depacketizer } from "../gateways/hls/h264";
import { H265Depacketizer } from "../gateways/hls/h265";
import { AacDepacketizer } from "../gateways/hls/aac";
import type { AccessUnit, NalDepacketizer } from "../gateways/hls/nal-depacketizer";
import type { AudioInput, VideoInput } from "../gateways/hls/sdp-inputs";
import { videoTrack } from "../gateways/hls/segmenter";
import { SenderReports } from "../media/sender-reports";
import { SegmentFile } from "./segment-file";
import { TICKS_PER_MS, dayFolder, type DeviceStore, type StoredSegment } from "./store";
import { join } from "node:path";

export const FRAGMENT_MS = 1000;
const RETRY_MS = 2000;
const MAX_FRAME_TICKS = 5 * 90_000;
const DEFAULT_FRAME_TICKS = 90_000 / 25;
const MAX_DRIFT_TICKS = 1000 * TICKS_PER_MS;
/** Audio frames waiting for the next fragment; more means the video stopped: the newest are dropped. */
const MAX_AUDIO_PENDING = 500;
const VIDEO_ID = 1, AUDIO_ID = 2;
/** Sender reports whose audio placement differs less than this (seconds) leave the anchor alone. */
const SR_CORRECTION_MIN_S = 0.01;

export type RecordState = "starting" | "recording" | "disk_full" | "write_error" | "stopped";

export class Recorder implements PacketReader {
  state: RecordState = "starting";
  bytesOut = 0;
  segmentsWritten = 0;
  writeErrors = 0;
  /** Where the media last written to disk ends (90 kHz ticks since the epoch): now minus this is how far the disk trails the camera. */
  writtenToTicks = 0;
  private readonly depack: NalDepacketizer;
  private readonly audioDepack: AacDepacketizer | null = null;
  private writer: Fmp4Writer | null = null;
  private config: Buffer | null = null;
  private pending: AccessUnit | null = null;
  /** The latest picture's unwrapped RTP timestamp, and where the audio's first frame was placed. */
  private lastVideoTs: number | null = null;
  private audioAnchor: { ts: number; time: number } | null = null;
  /** The placement the sender reports imply, taken at the next segment start. */
  private betterAudioAnchor: { ts: number; time: number } | null = null;
  private anchoredBySr = false;
  private lastAudioTs = 0;
  private readonly sr: SenderReports;
  private audioPending = 0;
  /** Wall-clock anchor: raw RTP timestamp `raw` (later the unwrapped `ts`) maps to `wallTicks`. */
  private anchor: { wallTicks: number; raw: number; ts: number | null } | null = null;
  private file: SegmentFile | null = null;
  private segStartTicks = 0;
  private segWriter: Fmp4Writer | null = null;
  private fragFrames = 0;
  private fragStart = 0;
  private fragTicks = 0;
  private lastEndTicks = 0;
  private pausedUntil = 0;
  private finishing = new Set<Promise<void>>();

  constructor(
    readonly name: string,
    private readonly video: VideoInput,
    private readonly audio: AudioInput | null,
    private readonly store: DeviceStore,
    private readonly segmentMs: number,
    private readonly log: (l: LogLevel, m: string) => void,
    private readonly onSegment: (s: StoredSegment) => void,
  ) {
    this.depack = video.codec === "h264" ? new H264Depacketizer(video.sprop) : new H265Depacketizer(video.sprop);
    this.sr = new SenderReports(video.track, audio?.track);
    this.depack.onUnit = (au) => this.unit(au);
    if (audio) {
      this.audioDepack = new AacDepacketizer(audio.rtp, audio.config.frameSamples);
      this.audioDepack.onFrame = (f) => this.audioFrame(f.ts, f.data);
    }
  }

  start(cache: MediaPacket[]): void {
    // The cache ends with what arrived just now: its last picture packet anchors the clock.
    for (let i = cache.length - 1; i >= 0 && !this.anchor; i--) {
      const p = cache[i];
      if (p.track === this.video.track && !p.rtcp) this.setAnchor(p.data);
    }
    for (const p of cache) this.push(p);
  }

  restart(): void {
    // A new camera session: the last picture of the old one ends the segment.
    this.depack.reset();
    this.audioDepack?.reset();
    this.flushPending();
    this.endSegment();
    // The new session's audio is placed afresh (its tracks are re-stamped: its own reports align them).
    this.audioAnchor = null;
    this.betterAudioAnchor = null;
    this.anchoredBySr = false;
    this.sr.clear();
    this.lastVideoTs = null;
  }

  push(p: MediaPacket): void {
    if (this.state === "stopped") return;
    if (p.rtcp) return this.senderReport(p);
    if (p.track === this.video.track) {
      if (!this.anchor) this.setAnchor(p.data);
      this.bytesOut += p.data.length;
      this.depack.push(p.data);
    } else if (this.audio && p.track === this.audio.track) {
      this.bytesOut += p.data.length;
      this.audioDepack!.push(p.data);
    }
  }

  private setAnchor(pkt: Buffer): void {
    const h = parseRtp(pkt);
    if (h) this.anchor = { wallTicks: Date.now() * TICKS_PER_MS, raw: h.timestamp, ts: null };
  }

  private dts(au: { ts: number }): number {
    const a = this.anchor!;
    a.ts ??= au.ts + ((a.raw - (au.ts % 2 ** 32)) | 0);
    return a.wallTicks + (au.ts - a.ts);
  }

  private unit(au: AccessUnit): void {
    if (au.key) this.updateInit();
    if (!this.writer) return;
    this.lastVideoTs = au.ts;
    const prev = this.pending;
    this.pending = au;
    if (!prev) return;
    let dur = au.ts - prev.ts;
    if (dur <= 0 || dur > MAX_FRAME_TICKS) dur = DEFAULT_FRAME_TICKS;
    this.sample(prev, dur);
  }

  private flushPending(): void {
    if (this.pending && this.writer) this.sample(this.pending, DEFAULT_FRAME_TICKS);
    this.pending = null;
  }

  private updateInit(): void {
    const v = videoTrack(this.video.codec, this.depack);
    // Parameter sets incomplete or unreadable: keep the last good ones.
    if (!v || this.config?.equals(v.track.config)) return;
    const tracks: TrackInfo[] = [v.track];
    if (this.audio) tracks.push({ kind: "audio", id: AUDIO_ID, timescale: this.audio.config.sampleRate, channels: this.audio.config.channels, config: this.audio.config.asc });
    this.writer = new Fmp4Writer(tracks);
    this.config = v.track.config;
  }

  private audioFrame(ts: number, data: Buffer): void {
    if (!this.file || !this.writer || this.lastVideoTs === null || !this.anchor) return;
    const rate = this.audio!.config.sampleRate;
    this.lastAudioTs = ts;
    if (!this.audioAnchor) {
      const bySr = this.srAnchor(ts);
      this.audioAnchor = bySr ?? { ts, time: Math.round((this.dts({ ts: this.lastVideoTs }) * rate) / (1000 * TICKS_PER_MS)) };
      this.anchoredBySr = bySr !== null;
    }
    const time = this.audioAnchor.time + (ts - this.audioAnchor.ts);
    if (this.audioPending >= MAX_AUDIO_PENDING) return;
    this.writer.add(AUDIO_ID, { time, duration: this.audio!.config.frameSamples, data, key: true });
    this.audioPending++;
  }

  /**
   * RTCP SR (RFC 3550 6.4.1) of the video or audio track. Once both tracks have one, they place
   * the audio; an arrival-based placement off by more than SR_CORRECTION_MIN_S is replaced at the
   * next segment.
   */
  private senderReport(p: MediaPacket): void {
    if (!this.audio || !this.sr.take(p)) return;
    if (!this.audioAnchor || this.anchoredBySr) return;
    const bySr = this.srAnchor(this.lastAudioTs);
    if (!bySr) return;
    this.anchoredBySr = true;
    const now = this.audioAnchor.time + (this.lastAudioTs - this.audioAnchor.ts);
    if (Math.abs(bySr.time - now) > SR_CORRECTION_MIN_S * this.audio.config.sampleRate) this.betterAudioAnchor = bySr;
  }

  /** Where the sender reports place audio timestamp `ts` (in the audio rate's units since the epoch), or null without both. */
  private srAnchor(ts: number): { ts: number; time: number } | null {
    if (!this.audio || this.lastVideoTs === null || !this.anchor) return null;
    const rate = this.audio.config.sampleRate;
    const videoTs = this.sr.videoTsOfAudio(ts, rate, this.lastVideoTs, this.lastAudioTs);
    if (videoTs === null) return null;
    return { ts, time: Math.round((this.dts({ ts: videoTs }) * rate) / (1000 * TICKS_PER_MS)) };
  }

  private sample(au: AccessUnit, dur: number): void {
    let dts = this.dts(au);
    if (au.key && (!this.file || this.segTicks() >= this.segmentMs * TICKS_PER_MS || this.segWriter !== this.writer)) {
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
          this.audioAnchor = null;
          this.betterAudioAnchor = null;
        }
        this.startSegment(dts);
      }
    }
    if (!this.file) return;
    // A fragment is at most FRAGMENT_MS and has no gap inside (a stalled camera's gap stays a gap between fragments).
    if (this.fragFrames && (this.fragTicks + dur > FRAGMENT_MS * TICKS_PER_MS || dts !== this.fragStart + this.fragTicks)) this.endFragment();
    if (!this.fragFrames) this.fragStart = dts;
    this.writer!.add(VIDEO_ID, { time: dts, duration: dur, data: lengthPrefixed(au.nals), key: au.key });
    this.fragFrames++;
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
    this.segWriter = this.writer;
    // Audio left over from before (no picture to carry it) does not start the new file.
    this.writer!.flush();
    if (this.betterAudioAnchor) {
      // A new file: the audio may step to where the sender reports put it.
      this.audioAnchor = this.betterAudioAnchor;
      this.betterAudioAnchor = null;
    }
    this.audioPending = 0;
    this.fragFrames = 0;
    this.fragTicks = 0;
    this.fragStart = dts;
    const f = new SegmentFile(path, dts);
    this.file = f;
    f.onError = (e) => this.writeFailed(f, e);
    f.onFragment = () => {
      this.writtenToTicks = Math.max(this.writtenToTicks, f.goodEndTicks);
      this.resumed();
    };
    f.append(this.writer!.init, null);
  }

  private endFragment(): void {
    if (!this.file || !this.fragFrames) return;
    const end = this.fragStart + this.fragTicks;
    // Video first: a fragment's first track run is what the archive index reads times from.
    this.file.append(this.segWriter!.flush()!, end);
    this.audioPending = 0;
    this.fragFrames = 0;
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
      this.segWriter?.flush();
      this.audioPending = 0;
      this.fragFrames = 0;
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
