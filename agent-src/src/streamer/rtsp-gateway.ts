/**
 * rtsp://HOST:8554/<device-id>/<camera path>: an RTSP proxy (TCP interleaved) whose upstream is a
 * tunnel stream to the device's "rtsp" target. Requests go down with the URL rewritten to the
 * camera's; responses come up with Content-Base/RTP-Info/SDP URLs rewritten back to ours, so
 * ordinary clients work unchanged. Interleaved RTP/RTCP passes through byte for byte.
 */

import * as net from "node:net";
import type { LogLevel } from "../platform/platform";
import type { Stream } from "../protocol/stream";
import type { Metrics } from "./metrics";
import { DeviceOfflineError, type Registry } from "./registry";
import { RtspError, RtspParser, getHeader, removeHeader, response, serialize, setHeader, type RtspMessage } from "./rtsp";
import type { ViewerAuth } from "./viewer-auth";
import { listenOn } from "./listen";

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

const RTSP_URL = /rtsps?:\/\/[^/\s"';,]+/g;

export function startRtspGateway(
  listen: { host: string; port: number }, registry: Registry, auth: ViewerAuth,
  log: (l: LogLevel, m: string) => void, metrics: Metrics,
): Promise<net.Server> {
  metrics.counter("flussonic_rtsp_sessions_total", "RTSP viewer connections");
  metrics.counter("flussonic_rtsp_unauthorized_total", "RTSP requests answered 401");
  const server = net.createServer({ allowHalfOpen: true }, (sock) => {
    metrics.inc("flussonic_rtsp_sessions_total");
    new ViewerConnection(sock, registry, auth, log, metrics);
  });
  return listenOn(server, listen);
}

class ViewerConnection {
  private parser = new RtspParser();
  private camParser = new RtspParser("camera");
  private deviceId: string | null = null;
  private gwBase = "";
  private camBase = "";
  private stream: Stream | null = null;
  private closed = false;

  constructor(
    private readonly sock: net.Socket,
    private readonly registry: Registry,
    private readonly auth: ViewerAuth,
    private readonly log: (l: LogLevel, m: string) => void,
    private readonly metrics: Metrics,
  ) {
    sock.setNoDelay(true);
    sock.on("data", (d) => this.fromViewer(d));
    sock.on("end", () => (this.stream ? this.stream.end() : this.close()));
    sock.on("error", () => {});
    sock.on("close", () => this.close());
    sock.on("drain", () => this.stream?.resume());
  }

  private close(): void {
    if (this.closed) return;
    this.closed = true;
    this.stream?.reset("viewer_gone");
    this.sock.destroy();
  }

  private reply(buf: Buffer): void {
    if (!this.closed) this.sock.write(buf);
  }

  private fromViewer(d: Buffer): void {
    let items;
    try {
      items = this.parser.push(d);
    } catch (e) {
      this.log("debug", `viewer ${this.sock.remoteAddress}: ${(e as RtspError).message}`);
      this.reply(response(400, "Bad Request", undefined));
      return this.close();
    }
    for (const it of items) {
      if (this.closed) return;
      if (it.kind === "interleaved") {
        // RTCP receiver reports from the viewer; meaningless before a stream exists.
        if (this.stream && !this.stream.write(it.raw)) this.sock.pause();
        continue;
      }
      this.request(it);
    }
  }

  private request(m: RtspMessage): void {
    const [method, uri, version] = m.startLine.split(" ");
    const cseq = getHeader(m.headers, "cseq");
    if (!method || !uri || version !== "RTSP/1.0") {
      this.reply(response(400, "Bad Request", cseq));
      return this.close();
    }
    const t = parseViewerUrl(uri);
    if (!t) return this.reply(response(this.deviceId ? 400 : 401, this.deviceId ? "Bad Request" : "Unauthorized", cseq,
      this.deviceId ? [] : [["WWW-Authenticate", this.auth.digestChallenge()]]));

    if (this.deviceId === null) {
      if (!this.auth.checkToken(t.token, t.deviceId) && !this.auth.checkDigest(method, getHeader(m.headers, "authorization"), t.deviceId)) {
        this.metrics.inc("flussonic_rtsp_unauthorized_total");
        return this.reply(response(401, "Unauthorized", cseq, [["WWW-Authenticate", this.auth.digestChallenge()]]));
      }
      this.deviceId = t.deviceId;
      this.gwBase = t.gwBase;
    } else if (t.deviceId !== this.deviceId) {
      return this.reply(response(403, "Forbidden", cseq));
    }

    if (!this.stream && !this.openUpstream(cseq)) return;
    m.startLine = `${method} ${this.camBase}${t.rest} RTSP/1.0`;
    removeHeader(m.headers, "authorization"); // the viewer's credentials are ours, not the camera's
    if (!this.stream!.write(serialize(m))) this.sock.pause();
  }

  private openUpstream(cseq: string | undefined): boolean {
    let s: Stream;
    try {
      const { entry, stream } = this.registry.open(this.deviceId!, "rtsp");
      s = stream;
      const cam = entry.link!.hello.targets?.rtsp ?? "127.0.0.1:554";
      this.camBase = `rtsp://${cam}`;
    } catch (e) {
      const offline = e instanceof DeviceOfflineError;
      this.reply(response(offline ? 404 : 503, offline ? "Not Found" : "Service Unavailable", cseq));
      this.log("info", `viewer ${this.sock.remoteAddress}: ${(e as Error).message}`);
      return false;
    }
    this.stream = s;
    s.onData = (d) => this.fromCamera(d);
    s.onDrain = () => this.sock.resume();
    s.onEnd = () => this.sock.end();
    s.onClose = (reason) => {
      if (reason) this.log("info", `viewer ${this.sock.remoteAddress} of ${this.deviceId}: ${reason}`);
      this.stream = null;
      if (reason) this.close();
    };
    return true;
  }

  private fromCamera(d: Uint8Array): void {
    let items;
    try {
      items = this.camParser.push(d);
    } catch (e) {
      this.log("warn", `camera of ${this.deviceId} sent bad RTSP: ${(e as Error).message}`);
      return this.close();
    }
    // One syscall for the whole batch of RTP packets, not one per packet.
    this.sock.cork();
    let full = false;
    for (const it of items) {
      const buf = it.kind === "interleaved" ? it.raw : serialize(this.rewriteResponse(it));
      full = !this.sock.write(buf) || full;
    }
    this.sock.uncork();
    // A viewer that stops reading stops our credit to the agent; nobody else waits for it.
    if (full) this.stream?.pause();
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
