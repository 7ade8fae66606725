/**
 * HLS for viewers of shared sources: GET /<device>/<camera path>/{index.m3u8, init.mp4,
 * seg<N>.m4s, part<N>.<I>.m4s}. One segmenter per source (segmenter.ts), attached to the source
 * like an RTSP viewer and shared by every HLS viewer of it. On demand: the first request opens
 * (or joins) the source; the stream is kept while requests come; HLS_IDLE_MS after the last one
 * ended it detaches and releases the source, which then closes after its close_after_ms like for
 * a departed RTSP viewer. An HLS viewer (account, or address for token viewers) uses no tunnel
 * stream but holds one share of viewer_streams_per_device while it requests, like an RTSP session.
 */

import type * as http from "node:http";
import type { LogLevel } from "../../../platform/platform";
import type { Source, SourceViewer } from "../../media/source";
import type { Sources } from "../../media/sources";
import type { Metrics } from "../../metrics";
import { ViewerLimitError, type Registry } from "../../link/registry";
import { mediaPlaylist } from "./playlist";
import { HlsSegmenter, MIN_SEGMENT_S } from "./segmenter";
import { mediaInputs } from "./sdp-inputs";

/** An HLS viewer (and, with its last viewer, the stream) is gone after this long without a request. */
export const HLS_IDLE_MS = 3 * MIN_SEGMENT_S * 1000;
/** Bytes of segments and parts one stream keeps. */
const MAX_STREAM_BYTES = 32 * 1024 * 1024;
/** How long a request waits for the first segment / the init segment of a stream just opened. */
const START_TIMEOUT_MS = 15_000;

export type HlsFile = { kind: "playlist" } | { kind: "init"; n: number } | { kind: "segment"; msn: number } | { kind: "part"; msn: number; part: number };

/** "index.m3u8", "init.mp4", "init3.mp4", "seg12.m4s", "part12.3.m4s" → what it names; null for anything else. */
export function parseHlsFile(name: string): HlsFile | null {
  if (name === "index.m3u8") return { kind: "playlist" };
  if (name === "init.mp4") return { kind: "init", n: 0 };
  let m = /^init([1-9]\d{0,5})\.mp4$/.exec(name);
  if (m) return { kind: "init", n: Number(m[1]) };
  m = /^seg(\d{1,12})\.m4s$/.exec(name);
  if (m) return { kind: "segment", msn: Number(m[1]) };
  m = /^part(\d{1,12})\.(\d{1,4})\.m4s$/.exec(name);
  if (m) return { kind: "part", msn: Number(m[1]), part: Number(m[2]) };
  return null;
}

export interface HlsAnswer {
  status: number;
  type: string;
  body: Buffer | string;
  cache: string;
}

const PLAYLIST_TYPE = "application/vnd.apple.mpegurl";
const NO_CACHE = "no-cache, private";
/** Segment and part URIs never name other bytes (msn numbering starts above any earlier stream's). */
const IMMUTABLE = "private, max-age=60";

class HlsStream {
  seg: HlsSegmenter | null = null;
  readonly viewers = new Map<string, { release: () => void; last: number }>();
  inFlight = 0;
  last = Date.now();
  closed = false;
  error: string | null = null;
  private sv: SourceViewer | null = null;
  readonly ready: Promise<void>;

  constructor(readonly key: string, readonly src: Source, private readonly releaseSrc: () => void, readonly onClose: (s: HlsStream) => void) {
    this.ready = this.open();
  }

  private async open(): Promise<void> {
    try {
      const sdp = await this.src.ready();
      if (this.closed) return;
      if (sdp.keyTrack === null) {
        this.error = `no H.264/H.265 video track (camera offers ${sdp.tracks.map((t) => `${t.type} ${t.codec}`).join(", ")})`;
        return;
      }
      const { video, audio } = mediaInputs(sdp);
      this.seg = new HlsSegmenter(video, audio, MAX_STREAM_BYTES);
      this.sv = { reader: this.seg, end: (why) => this.close(why) };
      this.src.attach(this.sv);
    } catch (e) {
      this.error = (e as Error).message;
      this.close(this.error);
    }
  }

  close(_why: string): void {
    if (this.closed) return;
    this.closed = true;
    if (this.sv) this.src.detach(this.sv);
    this.seg?.close();
    for (const v of this.viewers.values()) v.release();
    this.viewers.clear();
    this.releaseSrc();
    this.onClose(this);
  }
}

export class HlsService {
  private readonly streams = new Map<string, HlsStream>();
  private readonly sweeper: NodeJS.Timeout;

  constructor(
    private readonly registry: Registry,
    private readonly sources: Sources,
    private readonly log: (l: LogLevel, m: string) => void,
    metrics: Metrics,
  ) {
    metrics.counter("flussonic_hls_requests_total", "HLS playlist, init, segment and part requests answered");
    metrics.gauge("flussonic_hls_streams", "HLS muxers running (one per shared source with HLS viewers)", () => this.streams.size);
    metrics.gauge("flussonic_hls_viewers", "HLS viewers (account or token address per stream) requesting now", () =>
      [...this.streams.values()].reduce((n, s) => n + s.viewers.size, 0));
    metrics.gauge("flussonic_hls_bytes", "segment and part bytes held by all HLS muxers", () =>
      [...this.streams.values()].reduce((n, s) => n + (s.seg?.totalBytes ?? 0), 0));
    this.sweeper = setInterval(() => this.sweep(), 1000);
    this.sweeper.unref();
    registry.addDeviceInfo("hls", (id) => this.info(id));
  }

  /** HLS viewers of a device now (console, admin API). */
  info(id: string): { streams: number; viewers: number } {
    let streams = 0, viewers = 0;
    for (const s of this.streams.values()) {
      if (!s.key.startsWith(`${id}\n`)) continue;
      streams++;
      viewers += s.viewers.size;
    }
    return { streams, viewers };
  }

  private sweep(): void {
    const now = Date.now();
    for (const s of [...this.streams.values()]) {
      for (const [k, v] of s.viewers) {
        if (now - v.last > HLS_IDLE_MS) {
          v.release();
          s.viewers.delete(k);
        }
      }
      if (s.inFlight === 0 && now - s.last > HLS_IDLE_MS) {
        this.log("info", `HLS ${s.key.replace("\n", "")}: no request for ${HLS_IDLE_MS} ms, detached`);
        s.close("idle");
      }
    }
  }

  close(): void {
    clearInterval(this.sweeper);
    for (const s of [...this.streams.values()]) s.close("streamer stopping");
  }

  /** Opens or joins the stream; throws DeviceOfflineError. */
  private stream(deviceId: string, rest: string): HlsStream {
    const key = `${deviceId}\n${rest}`;
    const s = this.streams.get(key);
    if (s && !s.closed) return s;
    const src = this.sources.get(deviceId, rest);
    const st = new HlsStream(key, src, src.hold(), (x) => {
      if (this.streams.get(key) === x) this.streams.delete(key);
    });
    this.streams.set(key, st);
    return st;
  }

  /**
   * Answers one HLS request of an authorized viewer. `suffix` goes on every URI of a playlist
   * ("?token=…" for token viewers). Throws DeviceOfflineError and ViewerLimitError (the gateway's 404/429).
   */
  async answer(deviceId: string, rest: string, file: HlsFile, viewerKey: string, query: URLSearchParams, suffix: string): Promise<HlsAnswer> {
    const st = this.stream(deviceId, rest);
    let v = st.viewers.get(viewerKey);
    if (!v) {
      v = { release: this.registry.claimViewerSession(deviceId, viewerKey), last: Date.now() };
      st.viewers.set(viewerKey, v);
    }
    st.inFlight++;
    try {
      return await this.serve(st, file, query, suffix);
    } finally {
      st.inFlight--;
      st.last = v.last = Date.now();
    }
  }

  private async serve(st: HlsStream, file: HlsFile, query: URLSearchParams, suffix: string): Promise<HlsAnswer> {
    const text = (status: number, body: string): HlsAnswer => ({ status, type: "text/plain; charset=utf-8", body, cache: "no-store" });
    await st.ready;
    const seg = st.seg;
    if (!seg || st.closed) return text(st.error?.startsWith("no H.264/H.265") ? 415 : 503, `stream unavailable: ${st.error ?? "closed"}\n`);
    const target = () => Math.max(MIN_SEGMENT_S, Math.ceil(seg.maxSegmentS));
    switch (file.kind) {
      case "playlist": {
        const msnQ = query.get("_HLS_msn"), partQ = query.get("_HLS_part");
        if (msnQ === null && partQ !== null) return text(400, "_HLS_part without _HLS_msn\n");
        if (msnQ !== null) {
          if (!/^\d{1,12}$/.test(msnQ) || (partQ !== null && !/^\d{1,4}$/.test(partQ))) return text(400, "bad _HLS_msn/_HLS_part\n");
          const msn = Number(msnQ), part = partQ === null ? null : Number(partQ);
          if (msn > seg.lastMsn + 2) return text(400, "_HLS_msn too far in the future\n");
          const ok = await seg.when(() => {
            const s = seg.segment(msn);
            if (!s) return seg.lastMsn > msn || (seg.segments[0]?.msn ?? 0) > msn;
            return s.complete || (part !== null && s.parts.length > part);
          }, 3 * target() * 1000);
          if (!ok) return text(503, "blocking reload timed out\n");
        } else if (!(await seg.when(() => seg.segments.some((s) => s.complete), START_TIMEOUT_MS))) {
          return text(503, "stream not ready\n");
        }
        return { status: 200, type: PLAYLIST_TYPE, body: mediaPlaylist(seg, suffix), cache: NO_CACHE };
      }
      case "init": {
        if (!(await seg.when(() => seg.init !== null, START_TIMEOUT_MS))) return text(503, "stream not ready\n");
        const init = seg.inits.get(file.n);
        if (!init) return text(404, "no such init segment\n");
        return { status: 200, type: "video/mp4", body: init, cache: NO_CACHE };
      }
      case "segment": {
        const soon = file.msn === seg.lastMsn || file.msn === seg.lastMsn + 1;
        if (soon) await seg.when(() => !!seg.segment(file.msn)?.complete || seg.lastMsn > file.msn + 1, 3 * target() * 1000);
        const s = seg.segment(file.msn);
        if (!s?.complete) return text(404, "no such segment\n");
        return { status: 200, type: "video/mp4", body: Buffer.concat(s.parts.map((p) => p.data)), cache: IMMUTABLE };
      }
      case "part": {
        // The preload-hinted next part (or the first of the next segment) is waited for.
        const soon = file.msn === seg.lastMsn || file.msn === seg.lastMsn + 1;
        if (soon) {
          await seg.when(() => {
            const s = seg.segment(file.msn);
            return !!s && (s.parts.length > file.part || s.complete) || seg.lastMsn > file.msn;
          }, 3 * target() * 1000);
        }
        const p = seg.segment(file.msn)?.parts[file.part];
        if (!p) return text(404, "no such part\n");
        return { status: 200, type: "video/mp4", body: p.data, cache: IMMUTABLE };
      }
    }
  }
}

export { ViewerLimitError };
