/**
 * rtsp://HOST:8554/<device-id>/<camera path>: an RTSP server (RTP over TCP interleaved) for
 * viewers of shared sources (server/media/source.ts). The camera is pulled once per (device,
 * path + query) whatever the number of viewers; each viewer gets the source's SDP with our URLs,
 * SETUP of any subset of its tracks, PLAY from the GOP cache's keyframe (or the next live one)
 * with its own sequence numbers, PAUSE, TEARDOWN and keep-alives. A viewer uses no tunnel stream
 * of its own, but its session counts against the per-viewer share (viewer_streams_per_device).
 * The one exception is the ONVIF audio backchannel (backchannel.ts): a talker gets its own camera
 * session, exclusive per device.
 *
 * The port is on the Internet: every connection is counted (ConnectionGuard), has a bounded life
 * (request and idle timeouts, token expiry), and anything it sends that we cannot handle closes
 * that connection alone, never the process.
 */

import { randomBytes } from "node:crypto";
import * as net from "node:net";
import type { LogLevel } from "../../../platform/platform";
import { Reader } from "../../media/reader";
import type { Source, SourceViewer } from "../../media/source";
import { SKIP_WINDOW_MS, type Sources } from "../../media/sources";
import { viewerSdp } from "../../media/sdp";
import { ConnectionGuard, type Limits } from "../../limits";
import type { Metrics } from "../../metrics";
import { DeviceOfflineError, ViewerLimitError, type Registry } from "../../link/registry";
import { TalkerBusyError } from "../../link/talker";
import { RtspParser, getHeader, response, serialize, setHeader, type RtspMessage } from "../../util/rtsp";
import { ViewerAuth } from "../viewer-auth";
import { listenOn } from "../../util/listen";
import { chooseTransport, UdpPorts, type UdpPair } from "./udp";
import { BACKCHANNEL_REQUIRE, BackchannelRelay, requiredOptions } from "./backchannel";

interface Target {
  deviceId: string;
  /** Camera path plus query, without our token: "/stream1?x=1" */
  rest: string;
  /** "rtsp://host:port/<device>" as the viewer addressed us */
  gwBase: string;
  token: string | null;
}

/** Splits rtsp://host[:port]/<device>/<rest>[?query] as the viewer sent it. */
export function parseViewerUrl(uri: string): Target | null {
  const m = /^rtsps?:\/\/([^/?#]+)\/([A-Za-z0-9._-]{1,64})(\/[^?#]*)?(\?[^#]*)?$/.exec(uri);
  if (!m) return null;
  const params = new URLSearchParams(m[4]?.slice(1) ?? "");
  const token = params.get("token");
  params.delete("token");
  const q = params.toString();
  return { deviceId: m[2], rest: (m[3] ?? "/") + (q ? `?${q}` : ""), gwBase: `rtsp://${m[1]}/${m[2]}`, token };
}

/** "/long/trackID=1?x=1" → the camera path + query "/long?x=1" and track 1; no track suffix → null track. */
export function splitTrack(rest: string): { rest: string; track: number | null } {
  const q = rest.indexOf("?");
  const path = q < 0 ? rest : rest.slice(0, q);
  const query = q < 0 ? "" : rest.slice(q);
  const m = /^(.*)\/trackID=(\d{1,2})$/.exec(path);
  return m ? { rest: (m[1] || "/") + query, track: Number(m[2]) } : { rest, track: null };
}

const PUBLIC = "OPTIONS, DESCRIBE, SETUP, PLAY, PAUSE, TEARDOWN, GET_PARAMETER, SET_PARAMETER";
/** setTimeout's ceiling; a longer token expiry is re-armed in steps. */
const MAX_TIMER_MS = 2 ** 31 - 1;

export function startRtspGateway(
  listen: { host: string; port: number }, registry: Registry, auth: ViewerAuth,
  log: (l: LogLevel, m: string) => void, metrics: Metrics, limits: Limits, sources: Sources,
): Promise<net.Server> {
  metrics.counter("flussonic_rtsp_sessions_total", "RTSP viewer connections");
  metrics.counter("flussonic_rtsp_unauthorized_total", "RTSP requests answered 401");
  metrics.counter("flussonic_rtsp_bad_requests_total", "RTSP viewer connections closed for malformed input");
  metrics.counter("flussonic_rtsp_udp_refused_total", "RTSP SETUPs answered 461: multicast, destination= another host, unknown transport, UDP off or its port range used up");
  const udp = sources.settings.udpPorts ? new UdpPorts(sources.settings.udpPorts) : null;
  if (udp) {
    metrics.gauge("flussonic_rtsp_udp_port_pairs", "UDP port pairs held by RTSP viewer tracks", () => udp.pairs);
    metrics.family("flussonic_rtsp_udp_datagrams_sent_total", "RTP/RTCP datagrams sent to UDP viewers", "counter", [], () => [[[], udp.stats.sent]]);
    metrics.family("flussonic_rtsp_udp_send_errors_total", "datagrams to UDP viewers the kernel refused (dropped)", "counter", [], () => [[[], udp.stats.sendErrors]]);
    metrics.family("flussonic_rtsp_udp_rtcp_in_total", "RTCP packets from UDP viewers (they keep the session alive)", "counter", [], () => [[[], udp.stats.rtcpIn]]);
    metrics.family("flussonic_rtsp_udp_junk_in_total", "datagrams on viewer ports dropped: not RTCP, or not from the viewer", "counter", [], () => [[[], udp.stats.junkIn]]);
  }
  metrics.counter("flussonic_rtsp_viewer_limit_total", "RTSP streams refused by the per-viewer limit, answered 453");
  metrics.counter("flussonic_rtsp_slow_viewers_total", "RTSP viewers disconnected for falling behind repeatedly");
  metrics.counter("flussonic_rtsp_backchannels_total", "RTSP audio backchannel (talker) sessions relayed to cameras");
  metrics.gauge("flussonic_media_sources", "shared camera sources open", () => sources.list().length);
  metrics.gauge("flussonic_media_viewers", "viewers playing from shared sources", () => sources.list().reduce((n, s) => n + s.viewerCount, 0));
  metrics.gauge("flussonic_media_gop_cache_bytes", "bytes in the GOP caches of all sources", () => sources.list().reduce((n, s) => n + s.cache.bytes, 0));
  const guard = new ConnectionGuard("rtsp", limits.viewerConnectionsTotal, limits.viewerConnectionsPerIp, metrics);
  const server = net.createServer({ allowHalfOpen: true }, (sock) => {
    sock.on("error", () => {});
    if (!guard.admit(sock)) {
      log("debug", `RTSP connection from ${sock.remoteAddress} refused: connection limit`);
      return void sock.destroy();
    }
    metrics.inc("flussonic_rtsp_sessions_total");
    try {
      new ViewerConnection(sock, registry, auth, log, metrics, limits, guard, sources, udp);
    } catch (e) {
      log("warn", `RTSP viewer ${sock.remoteAddress}: ${(e as Error).message}`);
      sock.destroy();
    }
  });
  // accept() failing (EMFILE under a flood) is reported here; without a listener it would exit.
  server.on("error", (e) => log("warn", `RTSP listener: ${e.message}`));
  return listenOn(server, listen);
}

class ViewerConnection {
  private parser = new RtspParser("viewer");
  private deviceId: string | null = null;
  /** Whose share this connection counts against: the account, or the address for token viewers (the HTTP gateway's keys, so the share is one per viewer across both). */
  private viewerKey = "";
  private gwBase = "";
  private closed = false;
  /** Last complete request from the viewer (ms); a playing viewer is never idle. */
  private lastActivity = Date.now();
  private idleTimer: NodeJS.Timeout;
  private requestTimer: NodeJS.Timeout | null = null;
  private tokenTimer: NodeJS.Timeout | null = null;
  /** Token viewers: the token's expiry (ms); the connection ends then. */
  private tokenExpiresAt: number | null = null;
  /** Requests are answered in order, one at a time (DESCRIBE may wait for the camera). */
  private chain: Promise<void> = Promise.resolve();
  /** The viewer's address, taken at accept: Node forgets it once the socket has closed. */
  private readonly addr: string;
  private queuedRequests = 0;

  // The shared source this connection watches, and its place in it.
  private source: Source | null = null;
  private sourceRest = "";
  private releaseSource: (() => void) | null = null;
  private releaseShare: (() => void) | null = null;
  private sessionId: string | null = null;
  private reader: Reader | null = null;
  private viewer: SourceViewer | null = null;
  private playing = false;
  /** UDP viewers: source track → its port pair; the reader's (internal) channel 2×track. Empty for TCP. */
  private udpPairs = new Map<number, UdpPair>();
  /** The session's transport, fixed by its first SETUP. */
  private transport: "tcp" | "udp" | null = null;
  /** An audio backchannel talker: everything goes to its own camera session instead. */
  private relay: BackchannelRelay | null = null;

  constructor(
    private readonly sock: net.Socket,
    private readonly registry: Registry,
    private readonly auth: ViewerAuth,
    private readonly log: (l: LogLevel, m: string) => void,
    private readonly metrics: Metrics,
    private readonly limits: Limits,
    private readonly guard: ConnectionGuard,
    private readonly sources: Sources,
    private readonly udp: UdpPorts | null,
  ) {
    this.addr = sock.remoteAddress ?? "?";
    sock.setNoDelay(true);
    sock.on("data", (d) => this.fromViewer(d));
    sock.on("end", () => this.close());
    sock.on("close", () => this.close());
    sock.on("drain", () => this.relay?.drain());
    this.idleTimer = setTimeout(() => this.checkIdle(), limits.rtspIdleTimeoutMs);
  }

  private close(): void {
    if (this.closed) return;
    this.closed = true;
    clearTimeout(this.idleTimer);
    if (this.requestTimer) clearTimeout(this.requestTimer);
    if (this.tokenTimer) clearTimeout(this.tokenTimer);
    this.relay?.close();
    this.leaveSource();
    this.sock.destroy();
  }

  private leaveSource(): void {
    if (this.viewer) this.source?.detach(this.viewer);
    this.reader?.close();
    this.viewer = null;
    this.reader = null;
    this.playing = false;
    this.sessionId = null;
    this.transport = null;
    for (const p of this.udpPairs.values()) p.close();
    this.udpPairs.clear();
    this.releaseSource?.();
    this.releaseShare?.();
    this.releaseSource = this.releaseShare = null;
    this.source = null;
  }

  // A TCP viewer's packets of this event-loop turn, framed into one buffer after it (setImmediate):
  // the packets of every TLS record read in the turn (Node hands them to JS one 16 KiB record at a
  // time) cost one allocation and one write to the viewer, not one per record or per packet.
  private batchData: Buffer[] = [];
  private batchChannel: number[] = [];
  private batchSeq: number[] = [];
  private batchBytes = 0;

  private writeFramed(channel: number, data: Buffer, seq: number | null): void {
    if (this.batchData.length === 0) setImmediate(() => this.flushBatch());
    this.batchData.push(data);
    this.batchChannel.push(channel);
    this.batchSeq.push(seq ?? -1);
    this.batchBytes += 4 + data.length;
  }

  private flushBatch(): void {
    const out = Buffer.allocUnsafe(this.batchBytes);
    let o = 0;
    for (let i = 0; i < this.batchData.length; i++) {
      const d = this.batchData[i];
      const seq = this.batchSeq[i];
      out[o] = 0x24;
      out[o + 1] = this.batchChannel[i];
      out[o + 2] = d.length >> 8;
      out[o + 3] = d.length & 0xff;
      out.set(d, o + 4); // TypedArray#set: a plain memcpy, where Buffer#copy checks its arguments first
      if (seq >= 0) {
        out[o + 6] = seq >> 8;
        out[o + 7] = seq & 0xff;
      }
      o += 4 + d.length;
    }
    this.batchData.length = this.batchChannel.length = this.batchSeq.length = 0;
    this.batchBytes = 0;
    if (!this.closed && !this.sock.destroyed) this.sock.write(out);
  }

  private reply(buf: Buffer): void {
    if (this.closed) return;
    // The idle time runs from our last answer: a DESCRIBE that waited for the camera must not
    // leave the viewer less time for its next request.
    this.lastActivity = Date.now();
    this.sock.write(buf);
  }

  /**
   * Idle: no request for rtspIdleTimeoutMs while not playing. A viewer playing over TCP is alive
   * while its connection is; one playing over UDP must show life within the same time (the
   * session timeout we announce): a request (keep-alive) or an RTCP report on its ports. A
   * backchannel talker must show interleaved packets either way (it holds the device's audio).
   */
  private checkIdle(afterIo = false): void {
    if (this.closed) return;
    // Playing over TCP (a UDP viewer lives by its keep-alives and RTCP), or waiting for our answer
    // to a request (DESCRIBE may wait for the camera): not idle.
    if ((this.playing && this.transport === "tcp") || this.queuedRequests > 0) this.lastActivity = Date.now();
    // A talker lives while its session's RTP/RTCP moves, either way.
    if (this.relay?.playing) this.lastActivity = Math.max(this.lastActivity, this.relay.lastPacketAt);
    const quiet = Date.now() - this.lastActivity;
    if (quiet < this.limits.rtspIdleTimeoutMs) {
      this.idleTimer = setTimeout(() => this.checkIdle(), this.limits.rtspIdleTimeoutMs - quiet);
      return;
    }
    // After a stalled event loop, timers run before the socket reads that arrived meanwhile:
    // look again once pending input has been read, so a request that came in time counts.
    if (!afterIo) {
      setImmediate(() => this.checkIdle(true));
      return;
    }
    this.guard.timedOut();
    this.log("debug", `RTSP viewer ${this.addr}: idle for ${quiet} ms, closed`);
    this.close();
  }

  /** Slowloris and half-sent bodies: a request, once started, must be complete in time. */
  private armRequestTimer(): void {
    if (!this.parser.pending) {
      if (this.requestTimer) clearTimeout(this.requestTimer);
      this.requestTimer = null;
      return;
    }
    // setImmediate: as for the idle check, let input that arrived during a stall be read first.
    this.requestTimer ??= setTimeout(() => setImmediate(() => {
      this.requestTimer = null;
      if (this.closed || !this.parser.pending) return;
      this.guard.timedOut();
      this.log("debug", `RTSP viewer ${this.addr}: request incomplete after ${this.limits.rtspRequestTimeoutMs} ms, closed`);
      this.reply(response(408, "Request Timeout", undefined));
      this.close();
    }), this.limits.rtspRequestTimeoutMs);
  }

  private fromViewer(d: Buffer): void {
    try {
      for (const it of this.parser.push(d)) {
        if (this.closed) return;
        if (it.kind === "interleaved") {
          // A talker's audio goes to its camera; other viewers' RTCP receiver reports: the source does not need them.
          this.relay?.interleaved(it.raw);
          continue;
        }
        this.lastActivity = Date.now();
        // A client pipelining requests while one waits for the camera: a few are fine, a flood is not.
        if (++this.queuedRequests > 16) throw new Error("more than 16 RTSP requests waiting for answers");
        this.chain = this.chain.then(() => this.request(it)).catch((e) => this.failed(e)).finally(() => void this.queuedRequests--);
      }
      if (!this.closed) this.armRequestTimer();
    } catch (e) {
      this.failed(e);
    }
  }

  /** One boundary for everything the viewer's bytes can set off: this connection ends, nothing else. */
  private failed(e: unknown): void {
    if (this.closed) return;
    this.metrics.inc("flussonic_rtsp_bad_requests_total");
    this.log("debug", `RTSP viewer ${this.addr}: ${(e as Error).message}`); // counted; no log flood
    this.reply(response(400, "Bad Request", undefined));
    this.close();
  }

  private unauthorized(cseq: string | undefined, stale = false): void {
    this.metrics.inc("flussonic_rtsp_unauthorized_total");
    this.reply(response(401, "Unauthorized", cseq, [["WWW-Authenticate", this.auth.digestChallenge(stale)]]));
  }

  private async request(m: RtspMessage): Promise<void> {
    if (this.closed) return;
    // The parser only lets through "METHOD URI RTSP/1.0".
    const [method, uri] = m.startLine.split(" ");
    const cseq = getHeader(m.headers, "cseq");
    const t = parseViewerUrl(uri);
    if (!t) return this.deviceId ? this.reply(response(400, "Bad Request", cseq)) : this.unauthorized(cseq);

    if (this.deviceId === null) {
      const expiry = this.auth.tokenExpiry(t.token, t.deviceId);
      if (expiry !== null) {
        this.viewerKey = `address ${this.addr}`;
        this.tokenExpiresAt = expiry;
        this.armTokenTimer();
      } else {
        const header = getHeader(m.headers, "authorization");
        const r = this.auth.checkDigest(method, uri, header, t.deviceId);
        if (r !== "ok") return this.unauthorized(cseq, r === "stale");
        this.viewerKey = `account ${ViewerAuth.digestUser(header)}`;
      }
      this.deviceId = t.deviceId;
      this.gwBase = t.gwBase;
    } else if (t.deviceId !== this.deviceId) {
      return this.reply(response(403, "Forbidden", cseq));
    }
    if (this.tokenExpiresAt !== null && Date.now() >= this.tokenExpiresAt) return this.tokenExpired(cseq);
    if (this.relay) {
      // UDP cannot cross the tunnel: a talker's SETUP goes to the camera with its TCP choices only.
      if (method === "SETUP") {
        const tcp = (getHeader(m.headers, "transport") ?? "").split(",").map((x) => x.trim()).filter((x) => /^RTP\/AVP\/TCP(;|$)/i.test(x));
        if (!tcp.length) {
          this.metrics.inc("flussonic_rtsp_udp_refused_total");
          return this.reply(response(461, "Unsupported Transport", cseq));
        }
        setHeader(m.headers, "Transport", tcp.join(","));
      }
      return this.relay.forward(m, method, t.rest);
    }

    const ok = (extra: [string, string][] = [], body?: { type: string; data: Buffer }) => {
      const h: [string, string][] = [];
      if (cseq !== undefined) h.push(["CSeq", cseq]);
      h.push(...extra, ["Server", "flussonic-streamer"]);
      if (body) h.push(["Content-Type", body.type]);
      return serializeReply(200, "OK", h, body?.data);
    };
    const session = (): [string, string] => ["Session", `${this.sessionId};timeout=${Math.max(1, Math.ceil(this.limits.rtspIdleTimeoutMs / 1000))}`];
    const sessionOk = () => {
      const s = getHeader(m.headers, "session")?.split(";")[0].trim();
      if (!this.sessionId || s !== this.sessionId) {
        this.reply(response(454, "Session Not Found", cseq));
        return false;
      }
      return true;
    };

    switch (method) {
      case "OPTIONS":
        return this.reply(ok([["Public", PUBLIC]]));
      case "GET_PARAMETER":
      case "SET_PARAMETER":
        return this.reply(ok(this.sessionId ? [session()] : []));
      case "DESCRIBE": {
        const required = requiredOptions(m);
        const unsupported = required.filter((o) => o !== BACKCHANNEL_REQUIRE);
        if (unsupported.length) return this.reply(response(551, "Option not supported", cseq, [["Unsupported", unsupported.join(", ")]]));
        if (required.length) return this.startBackchannel(m, t.rest, cseq);
        const { rest } = splitTrack(t.rest);
        const src = await this.useSource(rest, cseq);
        if (!src) return;
        const q = rest.indexOf("?");
        const [path, query] = q < 0 ? [rest, ""] : [rest.slice(0, q), rest.slice(q)];
        const base = `${this.gwBase}${path.replace(/\/$/, "")}`;
        const sdp = viewerSdp(src.sdp!, (i) => `${base}/trackID=${i}${query}`);
        return this.reply(ok([["Content-Base", `${base}/${query}`]], { type: "application/sdp", data: Buffer.from(sdp, "latin1") }));
      }
      case "SETUP": {
        const choice = chooseTransport(getHeader(m.headers, "transport"), this.addr, this.udp !== null);
        const refuse = (why: string) => {
          this.metrics.inc("flussonic_rtsp_udp_refused_total");
          this.log("debug", `RTSP viewer ${this.addr}: SETUP refused 461: ${why}`);
          this.reply(response(461, "Unsupported Transport", cseq));
        };
        if (choice.kind === "refuse") return refuse(choice.why);
        if (this.transport && choice.kind !== this.transport) return refuse("one transport per session");
        if (this.sessionId && getHeader(m.headers, "session") !== undefined && !sessionOk()) return;
        const st = splitTrack(t.rest);
        const src = await this.useSource(st.rest, cseq);
        if (!src) return;
        const tracks = src.sdp!.tracks;
        const track = st.track ?? (tracks.length === 1 ? 0 : -1);
        if (track < 0 || track >= tracks.length) return this.reply(response(404, "Not Found", cseq));
        let channel = 2 * track;
        let answer: string;
        if (choice.kind === "tcp") {
          const im = /interleaved=(\d{1,3})(?:-(\d{1,3}))?/.exec(choice.spec);
          channel = im ? Number(im[1]) : 2 * track;
          if (channel > 254) return refuse(`interleaved channel ${channel}`);
          answer = `RTP/AVP/TCP;unicast;interleaved=${channel}-${channel + 1}`;
        } else {
          this.udpPairs.get(track)?.close();
          this.udpPairs.delete(track);
          const pair = await this.udp!.open(this.sock.localAddress ?? "127.0.0.1", this.addr, choice.rtpPort, choice.rtcpPort, () => {
            this.lastActivity = Date.now();
          });
          if (!pair) return refuse(`UDP port range ${this.udp!.range.first}-${this.udp!.range.last} used up`);
          if (this.closed || this.source !== src) {
            pair.close();
            return;
          }
          this.udpPairs.set(track, pair);
          answer = `RTP/AVP;unicast;client_port=${choice.rtpPort}-${choice.rtcpPort};server_port=${pair.port}-${pair.port + 1}`;
        }
        this.transport = choice.kind;
        this.sessionId ??= randomBytes(8).toString("hex");
        if (!this.reader) {
          const sink = this.transport === "tcp"
            ? {
              write: (b: Buffer) => void this.sock.write(b),
              writeFramed: (channel: number, data: Buffer, seq: number | null) => this.writeFramed(channel, data, seq),
              buffered: () => this.sock.writableLength + this.batchBytes,
            }
            : {
              // The reader frames packets for interleaving ($, channel 2×track or +1 for RTCP, length): unframed here.
              write: (b: Buffer) => this.udpPairs.get(b[1] >> 1)?.send(b.subarray(4), (b[1] & 1) === 1),
              buffered: () => {
                let n = 0;
                for (const p of this.udpPairs.values()) n += p.queued();
                return n;
              },
            };
          this.reader = new Reader(sink, {
            queueBytes: this.sources.settings.viewerQueueBytes,
            maxSkips: this.sources.settings.viewerMaxSkips,
            skipWindowMs: SKIP_WINDOW_MS,
            keyTrack: src.sdp!.keyTrack,
          });
          this.reader.onTooSlow = (why) => this.tooSlow(why);
        }
        this.reader.addTrack(track, channel);
        return this.reply(ok([["Transport", answer], session()]));
      }
      case "PLAY": {
        if (!sessionOk()) return;
        if (!this.reader || !this.source || this.reader.tracks.size === 0) return this.reply(response(455, "Method Not Valid in This State", cseq));
        const src = this.source;
        const cached = src.cache.snapshot();
        const info = [...this.reader.tracks].map(([track, out]) => {
          const first = cached.find((p) => p.track === track && !p.rtcp);
          const ts = first ? first.data.readUInt32BE(4) : src.lastTimestamp(track);
          return `url=${this.gwBase}${controlPath(this.sourceRest, track)};seq=${out.seq};rtptime=${ts}`;
        });
        this.reply(ok([["Range", "npt=0.000-"], ["RTP-Info", info.join(",")], session()]));
        if (!this.playing) {
          this.playing = true;
          this.viewer = { reader: this.reader, end: (why) => this.sourceEnded(why) };
          src.attach(this.viewer);
        }
        return;
      }
      case "PAUSE":
        if (!sessionOk()) return;
        if (this.viewer) this.source?.detach(this.viewer);
        this.viewer = null;
        this.playing = false;
        return this.reply(ok([session()]));
      case "TEARDOWN":
        if (!sessionOk()) return;
        this.reply(ok());
        this.leaveSource();
        return;
      default:
        return this.reply(response(405, "Method Not Allowed", cseq, [["Allow", PUBLIC]]));
    }
  }

  /** A talker's DESCRIBE: its own camera session (relayed) while it holds the device's two-way audio. */
  private startBackchannel(m: RtspMessage, rest: string, cseq: string | undefined): void {
    if (this.sessionId) return this.reply(response(455, "Method Not Valid in This State", cseq)); // one session per connection
    this.leaveSource(); // an earlier plain DESCRIBE's source, never set up
    const who = `RTSP backchannel from ${this.addr} (${this.viewerKey}) to ${this.deviceId}${rest}`;
    try {
      this.relay = BackchannelRelay.open(this.registry, this.deviceId!, this.viewerKey, this.gwBase, {
        write: (b) => !this.closed && this.sock.write(b),
        pause: () => this.sock.pause(),
        resume: () => this.sock.resume(),
        ended: (why) => {
          if (this.closed) return;
          this.log("info", `${who}: ${why}, ending`);
          this.sock.end();
          this.close();
        },
        timedOut: (c) => {
          this.reply(response(504, "Gateway Timeout", c));
          this.sock.end();
          this.close();
        },
      }, this.sources.requestTimeoutMs, this.log);
    } catch (e) {
      if (e instanceof TalkerBusyError) {
        this.log("info", `${who}: refused, ${e.holder} has talked since ${new Date(e.sinceMs).toISOString()}`);
        return this.reply(response(453, "Not Enough Bandwidth (two-way audio of this device is in use by another talker)", cseq));
      }
      if (e instanceof ViewerLimitError) {
        this.metrics.inc("flussonic_rtsp_viewer_limit_total");
        return this.reply(response(453, "Not Enough Bandwidth", cseq));
      }
      if (e instanceof DeviceOfflineError) return this.reply(response(404, "Not Found", cseq));
      throw e;
    }
    const relay = this.relay;
    relay.onClosed = () => {
      if (this.relay === relay) this.relay = null;
      this.log("info", `${who}: ended (${relay.packetsUp} packets to the camera, ${relay.packetsDown} from it), two-way audio free`);
    };
    this.metrics.inc("flussonic_rtsp_backchannels_total");
    this.log("info", `${who}: talking`);
    relay.forward(m, "DESCRIBE", rest);
  }

  /** The shared source of the device's camera path (opened if needed), once it plays; null after answering an error. */
  private async useSource(rest: string, cseq: string | undefined): Promise<Source | null> {
    if (this.source && !this.source.isClosed && this.sourceRest === rest) {
      await this.source.ready().catch(() => {});
      if (this.source?.sdp) return this.source;
    } else if (this.source && this.sessionId) {
      this.reply(response(455, "Method Not Valid in This State", cseq)); // one source per session
      return null;
    } else {
      this.leaveSource();
      try {
        this.releaseShare = this.registry.claimViewerSession(this.deviceId!, this.viewerKey);
        const src = this.sources.get(this.deviceId!, rest);
        this.source = src;
        this.sourceRest = rest;
        this.releaseSource = src.hold();
        await src.ready();
        if (this.closed || this.source !== src) return null;
        return src;
      } catch (e) {
        this.leaveSource();
        if (this.closed) return null;
        const msg = (e as Error).message;
        if (e instanceof ViewerLimitError) {
          this.metrics.inc("flussonic_rtsp_viewer_limit_total");
          this.reply(response(453, "Not Enough Bandwidth", cseq));
        } else if (e instanceof DeviceOfflineError) {
          this.reply(response(404, "Not Found", cseq));
        } else {
          // The camera's own refusal (404 for an unknown path, 401…) is passed on; anything else is ours to report.
          const cam = /camera answered (\d{3}) ([^\n]*?) to /.exec(msg);
          const status = cam && cam[1].startsWith("4") ? Number(cam[1]) : 503;
          this.reply(response(status, status === 503 ? "Service Unavailable" : cam![2], cseq));
        }
        this.log("info", `viewer ${this.addr} of ${this.deviceId}${rest}: ${msg}`);
        return null;
      }
    }
    this.reply(response(503, "Service Unavailable", cseq));
    return null;
  }

  /** The source ended for good (camera gone past source_timeout, SDP changed): a clean end, not a hang. */
  private sourceEnded(why: string): void {
    if (this.closed) return;
    this.log("info", `RTSP viewer ${this.addr} of ${this.deviceId}${this.sourceRest}: ${why}, ending`);
    this.viewer = null;
    this.sock.end();
    this.close();
  }

  private tooSlow(why: string): void {
    if (this.closed) return;
    this.metrics.inc("flussonic_rtsp_slow_viewers_total");
    this.log("info", `RTSP viewer ${this.addr} of ${this.deviceId}${this.sourceRest}: too slow (${why}), disconnected`);
    this.close();
  }

  private armTokenTimer(): void {
    const left = this.tokenExpiresAt! - Date.now();
    this.tokenTimer = setTimeout(() => (left > MAX_TIMER_MS ? this.armTokenTimer() : this.tokenExpired(undefined)), Math.min(Math.max(left, 0), MAX_TIMER_MS));
  }

  /** A token's expiry ends the connection it opened, stream and all. */
  private tokenExpired(cseq: string | undefined): void {
    if (this.closed) return;
    this.log("info", `RTSP viewer ${this.addr} of ${this.deviceId}: token expired, closed`);
    if (cseq !== undefined) this.unauthorized(cseq);
    this.close();
  }
}

/** "/long?x=1", track 0 → "/long/trackID=0?x=1" (what DESCRIBE announced). */
function controlPath(rest: string, track: number): string {
  const q = rest.indexOf("?");
  const [path, query] = q < 0 ? [rest, ""] : [rest.slice(0, q), rest.slice(q)];
  return `${path.replace(/\/$/, "")}/trackID=${track}${query}`;
}

function serializeReply(status: number, reason: string, headers: [string, string][], body?: Buffer): Buffer {
  return serialize({ kind: "message", startLine: `RTSP/1.0 ${status} ${reason}`, headers, body: body ?? Buffer.alloc(0) });
}
