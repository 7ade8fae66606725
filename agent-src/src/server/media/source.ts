/**
 * One upstream RTSP session per (device, camera path + query), shared by every viewer of it:
 * DESCRIBE, SETUP of every track the camera offers (RTP over TCP interleaved, through the
 * agent's tunnel), PLAY, keep-alives. Packets are re-stamped (per-track SSRC and a timestamp
 * line that continues across camera reconnects), keyframes tagged, the GOP cached, and each
 * packet handed to every attached viewer's Reader — which drop rather than wait, so the
 * source never slows down for a viewer.
 *
 * Life: opened by the first viewer; closed closeAfterMs after the last one leaves unless the
 * device's path is always_on. A lost camera session (tunnel stream gone, camera restarted, no
 * media for mediaTimeoutMs) is retried with backoff while viewers stay connected, for up to
 * sourceTimeoutMs; then viewers get a clean end.
 */

import type { LogLevel } from "../../platform/platform";
import { RtspParser, getHeader, serialize, type RtspMessage } from "../util/rtsp";
import { GopCache, type MediaPacket } from "./gop-cache";
import { KeyframeTagger } from "./rtp/keyframes";
import { parseRtp, restampRtcpSr, restampRtp } from "./rtp/packet";
import { parseCameraSdp, type CameraSdp } from "./sdp";

/** A byte pipe to the camera's RTSP port (a tunnel stream in production, a socket in tests). */
export interface Upstream {
  write(b: Uint8Array): void;
  /** Ends the pipe; onClose follows. */
  close(): void;
  onData: ((d: Uint8Array) => void) | null;
  onClose: ((reason: string) => void) | null;
}

export interface SourceOptions {
  closeAfterMs: number;
  sourceTimeoutMs: number;
  gopCacheBytes: number;
  /** A camera answer must come within this. */
  requestTimeoutMs: number;
  /** No media for this long while playing: the session is lost. */
  mediaTimeoutMs: number;
  alwaysOn: boolean;
}

/**
 * What a source feeds: the RTSP gateway's Reader, or any other output (HLS muxer) that takes the
 * same re-stamped, keyframe-tagged packets. It must never block or throw back into the source.
 */
export interface PacketReader {
  /** Starts at the GOP cache (begins with a keyframe packet, or is empty). */
  start(cache: MediaPacket[]): void;
  /** The camera session was re-established: the next key packet starts a new unit line. */
  restart(): void;
  push(p: MediaPacket): void;
  /** Bytes this reader has taken from the source so far (sent to its viewer, or muxed). */
  readonly bytesOut: number;
}

export interface SourceViewer {
  reader: PacketReader;
  /** The source is gone for good (camera away past sourceTimeoutMs, SDP changed, source closed). */
  end(reason: string): void;
}

interface TrackClock {
  ssrc: number;
  offset: number | null;
  lastOut: number;
  lastWall: number;
}

export class Source {
  sdp: CameraSdp | null = null;
  readonly cache: GopCache;
  private readonly viewers = new Set<SourceViewer>();
  private holders = 0;
  private up: Upstream | null = null;
  private parser = new RtspParser("camera");
  private cseq = 0;
  private pending = new Map<string, { resolve: (m: RtspMessage) => void; reject: (e: Error) => void; timer: NodeJS.Timeout }>();
  private session: string | null = null;
  private channels = new Map<number, { track: number; rtcp: boolean }>();
  private clocks: TrackClock[] = [];
  private tagger: KeyframeTagger | null = null;
  private playing = false;
  /** PLAY sent on the current camera session: interleaved media from it is taken. */
  private acceptMedia = false;
  private everPlayed = false;
  private lostAt: number | null = null;
  private attempt = 0;
  private closed = false;
  private closeTimer: NodeJS.Timeout | null = null;
  private retryTimer: NodeJS.Timeout | null = null;
  private keepAliveTimer: NodeJS.Timeout | null = null;
  private mediaTimer: NodeJS.Timeout | null = null;
  private lastMedia = 0;
  private readyWaiters: { resolve: (s: CameraSdp) => void; reject: (e: Error) => void }[] = [];
  bytesIn = 0;
  reconnects = 0;
  openedAt = Date.now();
  /** ms from opening to the camera's first PLAY answer (null until then): the "time to start". */
  startMs: number | null = null;
  /** Bytes sent to viewers who left (or paused); live viewers' are added by bytesOut. */
  private bytesOutDone = 0;
  /** Each attached viewer's reader.bytesOut when it attached. */
  private outBase = new Map<SourceViewer, number>();
  /** Called once when the source is closed for good (the registry forgets it). */
  onClosed: (() => void) | null = null;

  constructor(
    readonly name: string,
    /** Camera path plus query, e.g. "/stream1?x=1". */
    private readonly rest: string,
    private readonly connect: () => { up: Upstream; base: string },
    private readonly o: SourceOptions,
    private readonly log: (l: LogLevel, m: string) => void,
  ) {
    this.cache = new GopCache(o.gopCacheBytes);
    void this.run();
  }

  get isClosed(): boolean {
    return this.closed;
  }

  get viewerCount(): number {
    return this.viewers.size;
  }

  get isPlaying(): boolean {
    return this.playing;
  }

  /** The camera's SDP once it is playing; rejects if the first session cannot be set up. */
  ready(): Promise<CameraSdp> {
    if (this.sdp && (this.playing || this.everPlayed)) return Promise.resolve(this.sdp);
    if (this.closed) return Promise.reject(new Error("source closed"));
    return new Promise((resolve, reject) => this.readyWaiters.push({ resolve, reject }));
  }

  /** A viewer connection uses this source (from its DESCRIBE or SETUP until it closes). */
  hold(): () => void {
    this.holders++;
    if (this.closeTimer) clearTimeout(this.closeTimer);
    this.closeTimer = null;
    let released = false;
    return () => {
      if (released) return;
      released = true;
      this.holders--;
      this.maybeScheduleClose();
    };
  }

  attach(v: SourceViewer): void {
    this.viewers.add(v);
    this.outBase.set(v, v.reader.bytesOut);
    v.reader.start(this.cache.snapshot());
  }

  detach(v: SourceViewer): void {
    this.viewers.delete(v);
    this.settleOut(v);
  }

  private settleOut(v: SourceViewer): void {
    const base = this.outBase.get(v);
    if (base === undefined) return;
    this.bytesOutDone += v.reader.bytesOut - base;
    this.outBase.delete(v);
  }

  /** Bytes sent to this source's viewers, ever (GOP cache bursts included). */
  get bytesOut(): number {
    let n = this.bytesOutDone;
    for (const [v, base] of this.outBase) n += v.reader.bytesOut - base;
    return n;
  }

  /** Last timestamp sent on a track (for RTP-Info when nothing is cached). */
  lastTimestamp(track: number): number {
    return this.clocks[track]?.lastOut ?? 0;
  }

  private maybeScheduleClose(): void {
    if (this.closed || this.holders > 0 || this.o.alwaysOn || this.closeTimer) return;
    this.closeTimer = setTimeout(() => {
      this.closeTimer = null;
      if (this.holders === 0 && !this.o.alwaysOn) this.close(`no viewers for ${this.o.closeAfterMs} ms`);
    }, this.o.closeAfterMs);
  }

  close(reason: string): void {
    if (this.closed) return;
    this.closed = true;
    this.log("info", `source ${this.name}: closed (${reason})`);
    for (const t of [this.closeTimer, this.retryTimer, this.keepAliveTimer, this.mediaTimer]) if (t) clearTimeout(t);
    if (this.up && this.session) this.send("TEARDOWN", this.baseUrl, []).catch(() => {});
    this.dropUpstream();
    for (const w of this.readyWaiters) w.reject(new Error(reason));
    this.readyWaiters = [];
    for (const v of [...this.viewers]) {
      this.settleOut(v);
      v.end(reason);
    }
    this.viewers.clear();
    this.onClosed?.();
  }

  private baseUrl = "";

  private async run(): Promise<void> {
    let up: Upstream, base: string;
    try {
      ({ up, base } = this.connect());
    } catch (e) {
      return this.lost((e as Error).message);
    }
    this.up = up;
    this.parser = new RtspParser("camera");
    this.session = null;
    this.channels.clear();
    up.onData = (d) => this.onData(d);
    up.onClose = (reason) => {
      if (this.up === up) this.lost(`camera connection closed: ${reason}`);
    };
    try {
      const url = base + this.rest;
      const d = await this.send("DESCRIBE", url, [["Accept", "application/sdp"]]);
      const contentBase = getHeader(d.headers, "content-base") ?? getHeader(d.headers, "content-location") ?? url;
      const sdp = parseCameraSdp(d.body.toString("latin1"), contentBase);
      if (this.sdp && !sameTracks(this.sdp, sdp)) {
        // New tracks or codecs: viewers' decoders were set up for the old ones; they must start over.
        for (const v of [...this.viewers]) {
          this.settleOut(v);
          v.end("the camera changed its stream (SDP)");
        }
        this.viewers.clear();
        this.clocks = [];
      }
      this.sdp = sdp;
      this.baseUrl = contentBase;
      for (const t of sdp.tracks) {
        const transport = `RTP/AVP/TCP;unicast;interleaved=${2 * t.index}-${2 * t.index + 1}`;
        const r = await this.send("SETUP", t.setupUrl, [["Transport", transport]]);
        const sess = getHeader(r.headers, "session");
        if (sess && !this.session) {
          this.session = sess.split(";")[0].trim();
          const to = /timeout=(\d+)/.exec(sess);
          this.keepAliveMs = Math.min(to ? Math.max(Number(to[1]), 2) * 500 : 25_000, 25_000);
        }
        const m = /interleaved=(\d+)(?:-(\d+))?/.exec(getHeader(r.headers, "transport") ?? "");
        const ch = m ? Number(m[1]) : 2 * t.index;
        this.channels.set(ch, { track: t.index, rtcp: false });
        this.channels.set(m?.[2] ? Number(m[2]) : ch + 1, { track: t.index, rtcp: true });
        this.clocks[t.index] ??= { ssrc: (Math.random() * 2 ** 32) >>> 0, offset: null, lastOut: 0, lastWall: 0 };
        this.clocks[t.index].offset = null;
      }
      // Ready for media before PLAY is sent: a camera starts sending right behind its PLAY answer,
      // often in the same read, and those first packets are the keyframe a new viewer starts from.
      this.tagger = sdp_keyCodec(sdp) ? new KeyframeTagger(sdp_keyCodec(sdp)!) : null;
      this.cache.clear();
      for (const v of this.viewers) v.reader.restart();
      this.acceptMedia = true;
      await this.send("PLAY", contentBase, [["Range", "npt=0-"]]);
    } catch (e) {
      if (this.up === up) this.lost((e as Error).message);
      return;
    }
    if (this.closed || this.up !== up) return;
    this.playing = true;
    if (this.everPlayed) {
      this.reconnects++;
      this.log("info", `source ${this.name}: camera session back after ${Date.now() - (this.lostAt ?? Date.now())} ms`);
    } else {
      this.log("info", `source ${this.name}: playing (${this.sdp!.tracks.map((t) => `${t.type} ${t.codec}`).join(", ")})`);
    }
    this.everPlayed = true;
    this.startMs ??= Date.now() - this.openedAt;
    this.lostAt = null;
    this.attempt = 0;
    this.lastMedia = Date.now();
    for (const w of this.readyWaiters) w.resolve(this.sdp!);
    this.readyWaiters = [];
    this.armKeepAlive();
    this.armMediaTimer();
    this.maybeScheduleClose();
  }

  private keepAliveMs = 25_000;

  private armKeepAlive(): void {
    this.keepAliveTimer = setTimeout(() => {
      if (this.closed || !this.playing) return;
      // Answers are not awaited for their own sake: a camera that stops answering stops sending media too.
      this.send("GET_PARAMETER", this.baseUrl, []).catch(() => {});
      this.armKeepAlive();
    }, this.keepAliveMs);
  }

  private armMediaTimer(): void {
    const left = this.lastMedia + this.o.mediaTimeoutMs - Date.now();
    this.mediaTimer = setTimeout(() => {
      this.mediaTimer = null;
      if (this.closed || !this.playing) return;
      if (Date.now() - this.lastMedia >= this.o.mediaTimeoutMs) return this.lost(`no media from the camera for ${this.o.mediaTimeoutMs} ms`);
      this.armMediaTimer();
    }, Math.max(left, 50));
  }

  private dropUpstream(): void {
    const up = this.up;
    this.up = null;
    this.playing = false;
    this.acceptMedia = false;
    for (const p of this.pending.values()) {
      clearTimeout(p.timer);
      p.reject(new Error("camera connection closed"));
    }
    this.pending.clear();
    if (this.keepAliveTimer) clearTimeout(this.keepAliveTimer);
    if (this.mediaTimer) clearTimeout(this.mediaTimer);
    if (up) {
      up.onData = null;
      up.onClose = null;
      up.close();
    }
  }

  private lost(reason: string): void {
    if (this.closed) return;
    this.dropUpstream();
    if (!this.everPlayed) {
      // Nothing to keep alive yet: the viewers asking for it get an error now.
      this.log("info", `source ${this.name}: cannot open: ${reason}`);
      return this.close(`cannot open: ${reason}`);
    }
    const now = Date.now();
    if (this.lostAt === null) {
      this.lostAt = now;
      this.log("warn", `source ${this.name}: camera session lost (${reason}); viewers held for up to ${this.o.sourceTimeoutMs} ms`);
    }
    if (now - this.lostAt >= this.o.sourceTimeoutMs) return this.close(`camera unavailable for ${this.o.sourceTimeoutMs} ms (${reason})`);
    const delay = Math.min(250 * 2 ** this.attempt++, 2000, this.lostAt + this.o.sourceTimeoutMs - now);
    this.retryTimer = setTimeout(() => {
      this.retryTimer = null;
      if (this.closed) return;
      if (Date.now() - this.lostAt! >= this.o.sourceTimeoutMs) return this.close(`camera unavailable for ${this.o.sourceTimeoutMs} ms (${reason})`);
      void this.run();
    }, Math.max(delay, 0));
  }

  private send(method: string, url: string, headers: [string, string][]): Promise<RtspMessage> {
    const up = this.up;
    if (!up) return Promise.reject(new Error("no camera connection"));
    const cseq = String(++this.cseq);
    const h: [string, string][] = [["CSeq", cseq], ...headers, ["User-Agent", "flussonic-streamer"]];
    if (this.session && method !== "DESCRIBE") h.push(["Session", this.session]);
    up.write(serialize({ kind: "message", startLine: `${method} ${url} RTSP/1.0`, headers: h, body: Buffer.alloc(0) }));
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(cseq);
        reject(new Error(`camera did not answer ${method} within ${this.o.requestTimeoutMs} ms`));
      }, this.o.requestTimeoutMs);
      this.pending.set(cseq, {
        timer,
        reject,
        resolve: (m) => {
          const status = Number(m.startLine.split(" ")[1]);
          if (status >= 200 && status < 300) resolve(m);
          else reject(new Error(`camera answered ${m.startLine.slice(9, 60)} to ${method}`));
        },
      });
    });
  }

  private onData(d: Uint8Array): void {
    this.bytesIn += d.length;
    let items;
    try {
      items = this.parser.push(d);
    } catch (e) {
      return this.lost(`camera sent bad RTSP: ${(e as Error).message}`);
    }
    // One clock read per chunk, not per packet: the packets of one read arrived together.
    const now = items.length ? Date.now() : 0;
    for (const it of items) {
      if (this.closed || !this.up) return;
      if (it.kind === "interleaved") {
        // A view into the chunk, not a copy: the GOP cache counts the memory a packet holds on to.
        this.media(it.raw[1], it.raw.subarray(4), now);
        continue;
      }
      if (!it.startLine.startsWith("RTSP/")) continue; // a request from the camera: nothing we must answer
      const cseq = getHeader(it.headers, "cseq") ?? "";
      const p = this.pending.get(cseq);
      if (p) {
        this.pending.delete(cseq);
        clearTimeout(p.timer);
        p.resolve(it);
      }
    }
  }

  private media(channel: number, data: Buffer, now: number): void {
    const ch = this.channels.get(channel);
    if (!ch || !this.acceptMedia) return;
    const clock = this.clocks[ch.track];
    const rate = this.sdp!.tracks[ch.track].clockRate;
    if (ch.rtcp) {
      if (clock.offset === null) return;
      const off = clock.offset;
      restampRtcpSr(data, (ts) => ts + off, clock.ssrc);
      return this.deliver({ track: ch.track, rtcp: true, data, key: false });
    }
    const h = parseRtp(data);
    if (!h) return;
    this.lastMedia = now;
    if (clock.offset === null) {
      // A new camera session: continue this track's timestamps from where the last one stopped, plus the gap.
      clock.offset = clock.lastWall === 0 ? 0 : (clock.lastOut + Math.round(((now - clock.lastWall) * rate) / 1000) - h.timestamp) >>> 0;
    }
    const ts = (h.timestamp + clock.offset) >>> 0;
    restampRtp(data, ts, clock.ssrc);
    clock.lastOut = ts;
    clock.lastWall = now;
    if (ch.track === this.sdp!.keyTrack && this.tagger) {
      for (const t of this.tagger.push(data)) this.deliver({ track: ch.track, rtcp: false, data: t.pkt, key: t.key });
    } else {
      this.deliver({ track: ch.track, rtcp: false, data, key: this.sdp!.keyTrack === null });
    }
  }

  private deliver(p: MediaPacket): void {
    // Without a key track every packet is a start point: a cache would hold one packet, rebuilt
    // for each, and give a new viewer nothing the next live packet does not.
    if (this.sdp!.keyTrack !== null) this.cache.push(p);
    for (const v of this.viewers) v.reader.push(p);
  }
}

function sdp_keyCodec(s: CameraSdp): "h264" | "h265" | null {
  if (s.keyTrack === null) return null;
  return s.tracks[s.keyTrack].codec as "h264" | "h265";
}

function sameTracks(a: CameraSdp, b: CameraSdp): boolean {
  return a.tracks.length === b.tracks.length && a.tracks.every((t, i) => t.codec === b.tracks[i].codec && t.clockRate === b.tracks[i].clockRate);
}
