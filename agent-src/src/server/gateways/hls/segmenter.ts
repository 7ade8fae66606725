/**
 * The HLS muxer of one shared source, shared by every HLS viewer of it: fed the source's packets
 * like an RTSP viewer (PacketReader), it turns the video track (H.264 or H.265) back into access
 * units and the AAC track, if any, into frames, and cuts them with the fMP4 writer into LL-HLS
 * partial segments (one fragment each, at most PART_TARGET_S long) and segments (whole parts,
 * each starting at a keyframe, at least MIN_SEGMENT_S long). Audio is placed on the video's
 * timeline where it arrives: its first frame is anchored to the video picture received with it
 * (a live camera sends both as it captures them; the GOP cache keeps arrival order), later frames
 * follow their own RTP clock. A keyframe with different parameter sets (a new resolution) starts
 * a segment with a new init segment behind EXT-X-DISCONTINUITY, so players reinitialise. Memory: the last MAX_SEGMENTS segments and at most maxBytes in all;
 * older ones are forgotten (viewers asking for them get 404, players then reload the playlist).
 * Requests for what is not there yet (blocking playlist reload, the preload-hinted next part)
 * wait here on `when()`, bounded by a timeout.
 */

import type { MediaPacket } from "../../media/gop-cache";
import { SenderReports } from "../../media/sender-reports";
import type { PacketReader } from "../../media/source";
import { AacDepacketizer } from "./aac";
import { Fmp4Writer } from "./fmp4-writer";
import { lengthPrefixed, type TrackInfo, type VideoTrackInfo } from "./fmp4";
import { H264Depacketizer, avcC, parseSps } from "./h264";
import { H265Depacketizer, hvcC, parseH265Sps } from "./h265";
import type { AccessUnit, NalDepacketizer } from "./nal-depacketizer";
import type { AudioInput, VideoInput } from "./sdp-inputs";

export type { AudioInput, VideoInput } from "./sdp-inputs";

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
/** Audio frames waiting for the part they go into; more means the video stopped: the oldest go. */
const MAX_AUDIO_PENDING = 500;
const VIDEO_ID = 1, AUDIO_ID = 2;

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
  /** Which init segment its fragments need (a new one after a parameter-set change). */
  init: number;
  /** Discontinuities before this segment since the stream began (EXT-X-DISCONTINUITY-SEQUENCE). */
  discontinuity: number;
}

interface AudioAnchor {
  /** Audio RTP timestamp (unwrapped) … */
  ts: number;
  /** … placed at this video time (ticks from the origin) … */
  videoTime: number;
  /** … when this many ticks had been removed from the video timeline. */
  removed: number;
}

/** Sender reports whose audio placement differs less than this (seconds) leave the anchor alone. */
const SR_CORRECTION_MIN_S = 0.01;

interface Waiter {
  ready: () => boolean;
  resolve: (ok: boolean) => void;
  timer: NodeJS.Timeout;
}

/** The video sample entry of the parameter sets a depacketizer holds now, or null while incomplete/unreadable. */
export function videoTrack(codec: "h264" | "h265", d: NalDepacketizer): { track: VideoTrackInfo; codec: string; width: number; height: number } | null {
  // The configuration records give each parameter set a 16-bit length.
  for (const p of d.params.values()) if (p.length > 0xffff) return null;
  try {
    if (codec === "h264") {
      const { sps, pps } = d as H264Depacketizer;
      if (!sps || !pps) return null;
      const i = parseSps(sps);
      return { track: { kind: "video", id: VIDEO_ID, timescale: TIMESCALE, width: i.width, height: i.height, entry: "avc1", config: avcC(sps, pps) }, ...i };
    }
    const { vps, sps, pps } = d as H265Depacketizer;
    if (!vps || !sps || !pps) return null;
    const i = parseH265Sps(sps);
    return { track: { kind: "video", id: VIDEO_ID, timescale: TIMESCALE, width: i.width, height: i.height, entry: "hvc1", config: hvcC(vps, sps, pps) }, codec: i.codec, width: i.width, height: i.height };
  } catch {
    return null; // a parameter set we cannot read: wait for the next one
  }
}

export class HlsSegmenter implements PacketReader {
  readonly segments: Segment[] = [];
  /** Init segments by number, while a kept segment (or the next one) needs them. */
  readonly inits = new Map<number, Buffer>();
  codec = "";
  width = 0;
  height = 0;
  /** The largest segment duration seen (EXT-X-TARGETDURATION is its ceiling). */
  maxSegmentS = MIN_SEGMENT_S;
  closed = false;
  private readonly depack: NalDepacketizer;
  private readonly audioDepack: AacDepacketizer | null = null;
  private writer: Fmp4Writer | null = null;
  private initNo = -1;
  private videoConfig: Buffer | null = null;
  private discontinuities = 0;
  private newInit = false;
  private pending: AccessUnit | null = null;
  private partFirstKey = false;
  private partTicks = 0;
  private segTicks = 0;
  private origin: number | null = null;
  /** Ticks of video timeline removed by clamping implausible frame gaps (audio is shifted alike). */
  private removed = 0;
  private lastVideoTs = 0;
  private audioAnchor: AudioAnchor | null = null;
  /** The anchor the sender reports imply, taken at the next segment start. */
  private betterAnchor: AudioAnchor | null = null;
  private anchoredBySr = false;
  private lastAudioTs = 0;
  private readonly sr: SenderReports;
  private audioPending = 0;
  /** Starts at the wall clock in seconds: segments are ≥ 1 s, so a later stream of the same source never reuses an earlier one's numbers (and cached URIs). */
  private nextMsn = Math.floor(Date.now() / 1000);
  private waiters = new Set<Waiter>();
  private bytes = 0;
  /** Media bytes taken from the source (PacketReader): the muxer is one reader of it. */
  bytesOut = 0;

  constructor(private readonly video: VideoInput, private readonly audio: AudioInput | null, private readonly maxBytes: number) {
    this.depack = video.codec === "h264" ? new H264Depacketizer(video.sprop) : new H265Depacketizer(video.sprop);
    this.sr = new SenderReports(video.track, audio?.track);
    this.depack.onUnit = (au) => this.unit(au);
    if (audio) {
      this.audioDepack = new AacDepacketizer(audio.rtp, audio.config.frameSamples);
      this.audioDepack.onFrame = (f) => this.audioFrame(f.ts, f.data);
    }
  }

  get init(): Buffer | null {
    return this.inits.get(this.initNo) ?? null;
  }

  /** The init segment number of the newest segment (what a playlist's last EXT-X-MAP names). */
  get initNumber(): number {
    return this.initNo;
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
    this.audioDepack?.reset();
    this.pending = null;
    // The new session's tracks are re-stamped separately: its own sender reports align them again.
    this.sr.clear();
    this.anchoredBySr = false;
    this.endSegment();
  }

  push(p: MediaPacket): void {
    if (this.closed) return;
    if (p.rtcp) return this.senderReport(p);
    if (p.track === this.video.track) {
      this.bytesOut += p.data.length;
      this.depack.push(p.data);
    } else if (this.audio && p.track === this.audio.track) {
      this.bytesOut += p.data.length;
      this.audioDepack!.push(p.data);
    }
  }

  private unit(au: AccessUnit): void {
    if (au.key) this.checkInit();
    if (!this.writer) return;
    this.lastVideoTs = au.ts;
    const prev = this.pending;
    this.pending = au;
    if (!prev) return;
    let dur = au.ts - prev.ts;
    if (dur <= 0 || dur > MAX_FRAME_TICKS) {
      this.removed += dur - DEFAULT_FRAME_TICKS;
      dur = DEFAULT_FRAME_TICKS;
    }
    this.sample(prev, dur);
  }

  /** At a keyframe: the first init segment, or a new one when the parameter sets changed. */
  private checkInit(): void {
    const v = videoTrack(this.video.codec, this.depack);
    if (!v) return;
    if (this.videoConfig?.equals(v.track.config)) return;
    const tracks: TrackInfo[] = [v.track];
    if (this.audio) tracks.push({ kind: "audio", id: AUDIO_ID, timescale: this.audio.config.sampleRate, channels: this.audio.config.channels, config: this.audio.config.asc });
    if (this.writer) {
      // The pictures before this keyframe belong to the old init: they end the current segment.
      if (this.pending) this.sample(this.pending, DEFAULT_FRAME_TICKS);
      this.pending = null;
      this.endSegment();
      this.newInit = true;
    }
    this.writer = new Fmp4Writer(tracks);
    this.videoConfig = v.track.config;
    this.inits.set(++this.initNo, this.writer.init);
    this.codec = this.audio ? `${v.codec},${this.audio.config.codec}` : v.codec;
    this.width = v.width;
    this.height = v.height;
  }

  private videoTime(ts: number): number {
    return ts - this.origin! - this.removed;
  }

  private audioFrame(ts: number, data: Buffer): void {
    if (this.origin === null || !this.writer || !this.current) return;
    const rate = this.audio!.config.sampleRate;
    this.lastAudioTs = ts;
    if (!this.audioAnchor) {
      const bySr = this.srAnchor(ts);
      this.audioAnchor = bySr ?? { ts, videoTime: this.videoTime(this.lastVideoTs), removed: this.removed };
      this.anchoredBySr = bySr !== null;
    }
    const a = this.audioAnchor;
    const time = Math.round(((a.videoTime - (this.removed - a.removed)) * rate) / TIMESCALE) + (ts - a.ts);
    if (time < 0 || this.audioPending >= MAX_AUDIO_PENDING) return;
    this.writer.add(AUDIO_ID, { time, duration: this.audio!.config.frameSamples, data, key: true });
    this.audioPending++;
  }

  /**
   * RTCP SR (RFC 3550 6.4.1) of the video or audio track. Once both tracks have one, they say
   * when each track's samples were captured on the camera's one clock: if the arrival-based
   * anchor is off by more than SR_CORRECTION_MIN_S, the audio is re-placed at the next segment.
   */
  private senderReport(p: MediaPacket): void {
    if (!this.sr.take(p)) return;
    if (!this.audioAnchor || this.anchoredBySr) return;
    const bySr = this.srAnchor(this.lastAudioTs);
    if (!bySr) return;
    this.anchoredBySr = true;
    const rate = this.audio!.config.sampleRate;
    const now = (a: AudioAnchor) => Math.round(((a.videoTime - (this.removed - a.removed)) * rate) / TIMESCALE) + (this.lastAudioTs - a.ts);
    if (Math.abs(now(bySr) - now(this.audioAnchor)) > SR_CORRECTION_MIN_S * rate) this.betterAnchor = bySr;
  }

  /** Where the sender reports place audio timestamp `ts` on the video timeline, or null without both. */
  private srAnchor(ts: number): AudioAnchor | null {
    if (!this.audio || this.origin === null) return null;
    const videoTs = this.sr.videoTsOfAudio(ts, this.audio.config.sampleRate, this.lastVideoTs, this.lastAudioTs);
    return videoTs === null ? null : { ts, videoTime: this.videoTime(videoTs), removed: this.removed };
  }

  private sample(au: AccessUnit, dur: number): void {
    this.origin ??= au.ts;
    let cur = this.current;
    if (au.key && (!cur || this.segTicks + this.partTicks >= MIN_SEGMENT_S * TIMESCALE)) {
      this.endSegment();
      if (this.newInit && this.segments.length) this.discontinuities++;
      this.newInit = false;
      if (this.betterAnchor) {
        // Where a segment starts, players accept a step in the audio timeline (a gap or overlap).
        this.audioAnchor = this.betterAnchor;
        this.betterAnchor = null;
      }
      cur = { msn: this.nextMsn++, parts: [], duration: 0, complete: false, bytes: 0, init: this.initNo, discontinuity: this.discontinuities };
      this.segments.push(cur);
      this.segTicks = 0;
    }
    if (!cur) return; // waiting for a keyframe
    if (this.partTicks && this.partTicks + dur > PART_TARGET_S * TIMESCALE) this.endPart();
    if (!this.partTicks) this.partFirstKey = au.key;
    this.writer!.add(VIDEO_ID, { time: this.videoTime(au.ts), duration: dur, data: lengthPrefixed(au.nals), key: au.key });
    this.partTicks += dur;
  }

  private endPart(): void {
    const cur = this.current;
    if (!cur || !this.partTicks) return;
    const data = this.writer!.flush()!;
    this.audioPending = 0;
    cur.parts.push({ index: cur.parts.length, data, duration: this.partTicks / TIMESCALE, independent: this.partFirstKey });
    cur.duration += this.partTicks / TIMESCALE;
    cur.bytes += data.length;
    this.bytes += data.length;
    this.segTicks += this.partTicks;
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
      this.writer?.flush();
      this.partTicks = 0;
    }
  }

  private drop(): void {
    const s = this.segments.shift();
    if (!s) return;
    this.bytes -= s.bytes;
    // Init segments no kept segment needs (the newest is kept for what comes next).
    for (const n of this.inits.keys()) if (n < (this.segments[0]?.init ?? this.initNo) && n !== this.initNo) this.inits.delete(n);
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
