/**
 * HTTP for viewers: GET /<device-id>/snapshot.jpg and POST /<device-id>/audio (backchannel), each
 * one HTTP/1.0 exchange with the camera's "http" target through a tunnel stream.
 */

import * as http from "node:http";
import type { LogLevel } from "../platform/platform";
import type { Stream } from "../protocol/stream";
import type { Metrics } from "./metrics";
import { DeviceOfflineError, type Registry } from "./registry";
import { REALM, type ViewerAuth } from "./viewer-auth";
import { listenOn } from "./listen";

const MAX_RESPONSE = 16 * 1024 * 1024;
const MAX_UPLOAD = 16 * 1024 * 1024;
const CAMERA_TIMEOUT_MS = 15_000;

export interface CameraResponse {
  status: number;
  headers: Record<string, string>;
  body: Buffer;
}

/** Parses a complete HTTP/1.x response (Content-Length, chunked, or read-to-close). */
export function parseHttpResponse(raw: Buffer): CameraResponse {
  const end = raw.indexOf("\r\n\r\n");
  if (end < 0) throw new Error("camera sent no complete HTTP header");
  const lines = raw.subarray(0, end).toString("latin1").split("\r\n");
  const m = /^HTTP\/1\.[01] (\d{3})/.exec(lines[0]);
  if (!m) throw new Error(`camera sent a bad status line "${lines[0].slice(0, 60)}"`);
  const headers: Record<string, string> = {};
  for (const l of lines.slice(1)) {
    const i = l.indexOf(":");
    if (i > 0) headers[l.slice(0, i).trim().toLowerCase()] = l.slice(i + 1).trim();
  }
  let body = raw.subarray(end + 4);
  if (/chunked/i.test(headers["transfer-encoding"] ?? "")) {
    const parts: Buffer[] = [];
    let off = 0;
    for (;;) {
      const nl = body.indexOf("\r\n", off);
      if (nl < 0) throw new Error("truncated chunked body");
      const size = parseInt(body.subarray(off, nl).toString("latin1"), 16);
      if (!Number.isFinite(size)) throw new Error("bad chunk size");
      if (size === 0) break;
      parts.push(body.subarray(nl + 2, nl + 2 + size));
      off = nl + 2 + size + 2;
    }
    body = Buffer.concat(parts);
  } else if (headers["content-length"] !== undefined) {
    const n = Number(headers["content-length"]);
    if (!(n >= 0) || body.length < n) throw new Error(`camera body truncated (${body.length} of ${headers["content-length"]})`);
    body = body.subarray(0, n);
  }
  return { status: Number(m[1]), headers, body: Buffer.from(body) };
}

/** One request/response with the device's "http" target. `body` may be a readable to stream up. */
export function cameraRequest(
  registry: Registry, deviceId: string, method: string, path: string,
  extraHeaders: Record<string, string>, body: http.IncomingMessage | null,
): Promise<CameraResponse> {
  return new Promise((resolve, reject) => {
    let s: Stream;
    let host: string;
    try {
      const { entry, stream } = registry.open(deviceId, "http");
      s = stream;
      host = entry.link!.hello.targets?.http ?? "127.0.0.1";
    } catch (e) {
      return reject(e);
    }
    const chunks: Buffer[] = [];
    let size = 0;
    const timer = setTimeout(() => s.reset("timeout"), CAMERA_TIMEOUT_MS);
    s.onData = (d) => {
      size += d.length;
      if (size > MAX_RESPONSE) return s.reset("too_large", "camera response too large");
      chunks.push(Buffer.from(d));
    };
    s.onEnd = () => s.end();
    s.onClose = (reason) => {
      clearTimeout(timer);
      if (reason && size === 0) return reject(new Error(reason));
      try {
        resolve(parseHttpResponse(Buffer.concat(chunks)));
      } catch (e) {
        reject(e);
      }
    };
    const head = [`${method} ${path} HTTP/1.0`, `Host: ${host}`, "Connection: close",
      ...Object.entries(extraHeaders).map(([k, v]) => `${k}: ${v}`), "", ""].join("\r\n");
    s.write(Buffer.from(head, "latin1"));
    if (!body) return s.end();
    body.on("data", (d: Buffer) => {
      if (!s.write(new Uint8Array(d.buffer, d.byteOffset, d.length))) body.pause();
    });
    s.onDrain = () => body.resume();
    body.on("end", () => s.end());
    body.on("error", () => s.reset("viewer_gone"));
  });
}

export function startHttpGateway(
  listen: { host: string; port: number }, registry: Registry, auth: ViewerAuth,
  log: (l: LogLevel, m: string) => void, metrics: Metrics,
): Promise<http.Server> {
  metrics.counter("flussonic_http_requests_total", "viewer HTTP requests");
  metrics.counter("flussonic_http_unauthorized_total", "viewer HTTP requests answered 401");
  const server = http.createServer(async (req, res) => {
    metrics.inc("flussonic_http_requests_total");
    const url = new URL(req.url ?? "/", "http://gateway");
    const m = /^\/([A-Za-z0-9._-]{1,64})\/(snapshot\.jpg|audio)$/.exec(url.pathname);
    if (!m) return send(res, 404, "not found\n");
    const [, deviceId, what] = m;
    if (!auth.checkToken(url.searchParams.get("token"), deviceId) && !auth.checkBasic(req.headers.authorization, deviceId)) {
      metrics.inc("flussonic_http_unauthorized_total");
      res.setHeader("WWW-Authenticate", `Basic realm="${REALM}"`);
      return send(res, 401, "unauthorized\n");
    }
    const entry = registry.online(deviceId);
    if (!entry) return send(res, 404, "device offline\n");
    try {
      if (what === "snapshot.jpg" && req.method === "GET") {
        const r = await cameraRequest(registry, deviceId, "GET", entry.link!.hello.snapshot_path ?? "/image.jpg", {}, null);
        if (r.status !== 200) return send(res, 502, `camera answered ${r.status}\n`);
        res.writeHead(200, { "Content-Type": r.headers["content-type"] ?? "image/jpeg", "Content-Length": r.body.length, "Cache-Control": "no-store" });
        return res.end(r.body);
      }
      if (what === "audio" && req.method === "POST") {
        const len = Number(req.headers["content-length"]);
        if (!Number.isInteger(len)) return send(res, 411, "Content-Length required\n");
        if (len > MAX_UPLOAD) return send(res, 413, "too large\n");
        const r = await cameraRequest(registry, deviceId, "POST", entry.link!.hello.audio_path ?? "/play_audio", {
          "Content-Type": req.headers["content-type"] ?? "application/octet-stream", "Content-Length": String(len),
        }, req);
        return send(res, r.status === 200 ? 200 : 502, r.status === 200 ? "ok\n" : `camera answered ${r.status}\n`);
      }
      return send(res, 405, "method not allowed\n");
    } catch (e) {
      const offline = e instanceof DeviceOfflineError;
      log("info", `HTTP ${req.method} ${url.pathname}: ${(e as Error).message}`);
      return send(res, offline ? 404 : 502, offline ? "device offline\n" : "camera unreachable\n");
    }
  });
  return listenOn(server, listen);
}

function send(res: http.ServerResponse, status: number, text: string): void {
  if (res.headersSent) return void res.end();
  res.writeHead(status, { "Content-Type": "text/plain" });
  res.end(text);
}
