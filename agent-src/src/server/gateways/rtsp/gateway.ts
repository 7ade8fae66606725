/**
 * rtsp://HOST:8554/<device-id>/<camera path>: an RTSP proxy (TCP interleaved) whose upstream is a
 * tunnel stream to the device's "rtsp" target. Requests go down with the URL rewritten to the
 * camera's; responses come up with Content-Base/RTP-Info/SDP URLs rewritten back to ours, so
 * ordinary clients work unchanged. Interleaved RTP/RTCP passes through byte for byte.
 *
 * The port is on the Internet: every connection is counted (ConnectionGuard), has a bounded life
 * (request and idle timeouts, token expiry), and anything it sends that we cannot handle closes
 * that connection alone, never the process.
 */

import * as net from "node:net";
import type { LogLevel } from "../../../platform/platform";
import type { Stream } from "../../../protocol/stream";
import { ConnectionGuard, type Limits } from "../../limits";
import type { Metrics } from "../../metrics";
import { DeviceOfflineError, ViewerLimitError, type Registry } from "../../link/registry";
import { RtspParser, getHeader, removeHeader, response, serialize, setHeader, type RtspMessage } from "../../util/rtsp";
import { ViewerAuth } from "../viewer-auth";
import { listenOn } from "../../util/listen";

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

/**
 * The TCP-interleaved alternatives of a SETUP's Transport header, or null if it offers none. The
 * gateway relays only the RTSP connection: a UDP SETUP forwarded to the camera would make it send
 * RTP to its own loopback while the client waits for packets that never come.
 */
export function tcpTransport(transport: string | undefined): string | null {
  const specs = (transport ?? "").split(",").map((s) => s.trim()).filter((s) => /^RTP\/[A-Z]+\/TCP(;|$)/i.test(s));
  return specs.length ? specs.join(",") : null;
}

const RTSP_URL = /rtsps?:\/\/[^/\s"';,]+/g;
/** setTimeout's ceiling; a longer token expiry is re-armed in steps. */
const MAX_TIMER_MS = 2 ** 31 - 1;

export function startRtspGateway(
  listen: { host: string; port: number }, registry: Registry, auth: ViewerAuth,
  log: (l: LogLevel, m: string) => void, metrics: Metrics, limits: Limits,
): Promise<net.Server> {
  metrics.counter("flussonic_rtsp_sessions_total", "RTSP viewer connections");
  metrics.counter("flussonic_rtsp_unauthorized_total", "RTSP requests answered 401");
  metrics.counter("flussonic_rtsp_bad_requests_total", "RTSP viewer connections closed for malformed input");
  metrics.counter("flussonic_rtsp_udp_refused_total", "RTSP SETUPs asking for UDP, answered 461");
  metrics.counter("flussonic_rtsp_viewer_limit_total", "RTSP streams refused by the per-viewer limit, answered 453");
  const guard = new ConnectionGuard("rtsp", limits.viewerConnectionsTotal, limits.viewerConnectionsPerIp, metrics);
  const server = net.createServer({ allowHalfOpen: true }, (sock) => {
    sock.on("error", () => {});
    if (!guard.admit(sock)) {
      log("debug", `RTSP connection from ${sock.remoteAddress} refused: connection limit`);
      return void sock.destroy();
    }
    metrics.inc("flussonic_rtsp_sessions_total");
    try {
      new ViewerConnection(sock, registry, auth, log, metrics, limits, guard);
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
  private camParser = new RtspParser("camera");
  private deviceId: string | null = null;
  /** Whose stream slots this connection uses: the account, or the address for token viewers (the HTTP gateway's keys, so the share is one per viewer across both). */
  private viewerKey = "";
  private gwBase = "";
  private camBase = "";
  private stream: Stream | null = null;
  private closed = false;
  /** We stopped reading the viewer because the tunnel is full: its partial request is our delay. */
  private viewerPaused = false;
  /** Last complete request from the viewer or data from the camera (ms). */
  private lastActivity = Date.now();
  private idleTimer: NodeJS.Timeout;
  private requestTimer: NodeJS.Timeout | null = null;
  private tokenTimer: NodeJS.Timeout | null = null;
  /** Token viewers: the token's expiry (ms); the connection ends then. */
  private tokenExpiresAt: number | null = null;
  /** The viewer's address, taken at accept: Node forgets it once the socket has closed. */
  private readonly addr: string;

  constructor(
    private readonly sock: net.Socket,
    private readonly registry: Registry,
    private readonly auth: ViewerAuth,
    private readonly log: (l: LogLevel, m: string) => void,
    private readonly metrics: Metrics,
    private readonly limits: Limits,
    private readonly guard: ConnectionGuard,
  ) {
    this.addr = sock.remoteAddress ?? "?";
    sock.setNoDelay(true);
    sock.on("data", (d) => this.fromViewer(d));
    sock.on("end", () => (this.stream ? this.stream.end() : this.close()));
    sock.on("close", () => this.close());
    sock.on("drain", () => this.stream?.resume());
    this.idleTimer = setTimeout(() => this.checkIdle(), limits.rtspIdleTimeoutMs);
  }

  private close(): void {
    if (this.closed) return;
    this.closed = true;
    clearTimeout(this.idleTimer);
    if (this.requestTimer) clearTimeout(this.requestTimer);
    if (this.tokenTimer) clearTimeout(this.tokenTimer);
    this.stream?.reset("viewer_gone");
    this.sock.destroy();
  }

  private reply(buf: Buffer): void {
    if (!this.closed) this.sock.write(buf);
  }

  /** Idle: no request and nothing from the camera for rtspIdleTimeoutMs. A playing viewer is never idle. */
  private checkIdle(): void {
    if (this.closed) return;
    const quiet = Date.now() - this.lastActivity;
    if (quiet < this.limits.rtspIdleTimeoutMs) {
      this.idleTimer = setTimeout(() => this.checkIdle(), this.limits.rtspIdleTimeoutMs - quiet);
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
    this.requestTimer ??= setTimeout(() => {
      this.requestTimer = null;
      if (this.closed) return;
      if (this.viewerPaused) return this.armRequestTimer();
      this.guard.timedOut();
      this.log("debug", `RTSP viewer ${this.addr}: request incomplete after ${this.limits.rtspRequestTimeoutMs} ms, closed`);
      this.reply(response(408, "Request Timeout", undefined));
      this.close();
    }, this.limits.rtspRequestTimeoutMs);
  }

  private fromViewer(d: Buffer): void {
    try {
      for (const it of this.parser.push(d)) {
        if (this.closed) return;
        if (it.kind === "interleaved") {
          // RTCP receiver reports from the viewer; meaningless before a stream exists.
          if (this.stream && !this.stream.write(it.raw)) this.pauseViewer();
          continue;
        }
        this.lastActivity = Date.now();
        this.request(it);
      }
      if (!this.closed) this.armRequestTimer();
    } catch (e) {
      // One boundary for everything the viewer's bytes can set off: this connection ends, nothing else.
      this.metrics.inc("flussonic_rtsp_bad_requests_total");
      this.log("debug", `RTSP viewer ${this.addr}: ${(e as Error).message}`); // counted; no log flood
      this.reply(response(400, "Bad Request", undefined));
      this.close();
    }
  }

  private pauseViewer(): void {
    this.viewerPaused = true;
    this.sock.pause();
  }

  private unauthorized(cseq: string | undefined, stale = false): void {
    this.metrics.inc("flussonic_rtsp_unauthorized_total");
    this.reply(response(401, "Unauthorized", cseq, [["WWW-Authenticate", this.auth.digestChallenge(stale)]]));
  }

  private request(m: RtspMessage): void {
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

    if (method === "SETUP") {
      const tcp = tcpTransport(getHeader(m.headers, "transport"));
      if (!tcp) {
        this.metrics.inc("flussonic_rtsp_udp_refused_total");
        return this.reply(response(461, "Unsupported Transport", cseq));
      }
      setHeader(m.headers, "Transport", tcp);
    }

    if (!this.stream && !this.openUpstream(cseq)) return;
    m.startLine = `${method} ${this.camBase}${t.rest} RTSP/1.0`;
    removeHeader(m.headers, "authorization"); // the viewer's credentials are ours, not the camera's
    if (!this.stream!.write(serialize(m))) this.pauseViewer();
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

  private openUpstream(cseq: string | undefined): boolean {
    let s: Stream;
    try {
      const { entry, stream } = this.registry.open(this.deviceId!, "rtsp", this.viewerKey);
      s = stream;
      const cam = entry.link!.hello.targets?.rtsp ?? "127.0.0.1:554";
      this.camBase = `rtsp://${cam}`;
    } catch (e) {
      if (e instanceof ViewerLimitError) {
        this.metrics.inc("flussonic_rtsp_viewer_limit_total");
        this.reply(response(453, "Not Enough Bandwidth", cseq));
      } else {
        const offline = e instanceof DeviceOfflineError;
        this.reply(response(offline ? 404 : 503, offline ? "Not Found" : "Service Unavailable", cseq));
      }
      this.log("info", `viewer ${this.addr}: ${(e as Error).message}`);
      return false;
    }
    this.stream = s;
    s.onData = (d) => this.fromCamera(d);
    s.onDrain = () => {
      this.viewerPaused = false;
      this.sock.resume();
    };
    s.onEnd = () => this.sock.end();
    s.onClose = (reason) => {
      if (reason) this.log("info", `viewer ${this.addr} of ${this.deviceId}: ${reason}`);
      this.stream = null;
      if (reason) this.close();
    };
    return true;
  }

  private fromCamera(d: Uint8Array): void {
    this.lastActivity = Date.now();
    // One syscall for the whole batch of RTP packets, not one per packet.
    this.sock.cork();
    try {
      let full = false;
      for (const it of this.camParser.push(d)) {
        const buf = it.kind === "interleaved" ? it.raw : serialize(this.rewriteResponse(it));
        full = !this.sock.write(buf) || full;
      }
      // A viewer that stops reading stops our credit to the agent; nobody else waits for it.
      if (full) this.stream?.pause();
    } catch (e) {
      // A camera that speaks bad RTSP loses this viewer, not the process or its other viewers.
      this.log("warn", `camera of ${this.deviceId} sent bad RTSP: ${(e as Error).message}`);
      this.close();
    } finally {
      this.sock.uncork();
    }
  }

  private rewriteResponse(m: RtspMessage): RtspMessage {
    const fix = (v: string) => v.replace(RTSP_URL, this.gwBase);
    for (const h of ["Content-Base", "Content-Location", "RTP-Info", "Location"]) {
      const v = getHeader(m.headers, h);
      if (v !== undefined) setHeader(m.headers, h, fix(v));
    }
    if (m.body.length && /sdp/i.test(getHeader(m.headers, "content-type") ?? "")) {
      m.body = Buffer.from(fix(m.body.toString("latin1")), "latin1");
    }
    return m;
  }
}
