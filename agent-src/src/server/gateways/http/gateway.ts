/**
 * HTTP for viewers: GET /<device-id>/snapshot.jpg and POST /<device-id>/audio (backchannel), each
 * one exchange with the camera's "http" target through a tunnel stream (camera-http.ts); HLS of
 * the shared sources, GET /<device-id>/<camera path>/index.m3u8 and its segments (../hls/); the
 * player page /<device-id>/<camera path>/ and the operator console / with its /api/ and /assets/
 * (web/). Who may: a console session (cookie), a signed ?token= for the device, or Basic auth;
 * an unauthenticated request learns nothing about which devices exist (401, or the login page).
 * Snapshots come from a per-device cache (snapshot-cache.ts) unless snapshot_max_age_ms is 0;
 * audio uploads are exclusive per device (talker.ts): a second talker gets 409.
 *
 * The port is on the Internet: Node's HTTP server enforces the request and keep-alive timeouts,
 * a ConnectionGuard the per-address and total connection limits, and every request runs inside
 * one error boundary, so input can cost a 4xx/5xx for that request but never the process.
 */

import * as http from "node:http";
import type { LogLevel } from "../../../platform/platform";
import type { Metrics } from "../../metrics";
import { CameraError, cameraRequest } from "./camera-http";
import { ConnectionGuard, type Limits } from "../../limits";
import { DeviceOfflineError, ViewerLimitError, type Registry } from "../../link/registry";
import { TalkerBusyError } from "../../link/talker";
import { REALM, type ViewerAuth } from "../viewer-auth";
import { listenOn } from "../../util/listen";
import { boundedHttpServer, requestTarget } from "../../util/http-server";
import { SnapshotCache, SnapshotStatusError } from "./snapshot-cache";
import type { Sources } from "../../media/sources";
import type { Viewer } from "../../config";
import { HlsService, parseHlsFile } from "../hls/service";
import type { Archive } from "../../record/archive";
import { ARCHIVE_PATH, archiveRequest } from "./archive-http";
import { consoleApi } from "./web/console-api";
import { SECURITY_HEADERS, consolePage, playerPage, sendAsset, sendHtml } from "./web/pages";
import { Sessions, mayWatch } from "./web/sessions";

const MAX_UPLOAD = 16 * 1024 * 1024;

export interface HttpGatewayOptions {
  /** Snapshots are served from a cache at most this old; 0: every request asks the camera. */
  snapshotMaxAgeMs: number;
  /** The shared sources HLS is cut from. */
  sources: Sources;
  /** Console accounts (streamer.viewers). */
  viewers: Viewer[];
  /** Camera path the console opens in the player. */
  webDefaultPath: string;
  /** Recordings served under /<device>/archive/ (null: not configured, 404). */
  archive?: Archive | null;
}

/** "/<device>/<camera path>/<file>": camera path of 1…8 plain segments; file "" is the player page. */
const MEDIA_PATH = /^\/([A-Za-z0-9._-]{1,64})((?:\/[A-Za-z0-9._~-]{1,128}){1,8})\/([A-Za-z0-9.]{0,32})$/;

export function startHttpGateway(
  listen: { host: string; port: number }, registry: Registry, auth: ViewerAuth,
  log: (l: LogLevel, m: string) => void, metrics: Metrics, limits: Limits, opts: HttpGatewayOptions,
): Promise<http.Server> {
  metrics.counter("flussonic_http_requests_total", "viewer HTTP requests");
  metrics.counter("flussonic_http_unauthorized_total", "viewer HTTP requests answered 401");
  metrics.counter("flussonic_http_bad_requests_total", "viewer HTTP requests refused as malformed (400, 408, 431)");
  metrics.counter("flussonic_http_errors_total", "viewer HTTP requests that failed inside the gateway (500)");
  metrics.counter("flussonic_http_viewer_limited_total", "viewer HTTP requests refused by the per-viewer stream limit (429)");
  metrics.counter("flussonic_http_camera_errors_total", "camera answers refused as malformed, too large, too slow or cut off (502)");
  const cache = opts.snapshotMaxAgeMs > 0 ? new SnapshotCache(registry, limits, opts.snapshotMaxAgeMs) : null;
  if (cache) registerSnapshotMetrics(cache, metrics, registry);
  registerTalkerMetrics(registry, metrics);
  const guard = new ConnectionGuard("http", limits.viewerConnectionsTotal, limits.viewerConnectionsPerIp, metrics);
  const sessions = new Sessions(opts.viewers);
  const hls = new HlsService(registry, opts.sources, log, metrics);
  const viewersOf = (id: string) => {
    const srcs = opts.sources.list().filter((s) => s.name.startsWith(`${id}/`) && !s.isClosed);
    const h = hls.info(id);
    // The HLS muxer and the recorder are readers of a source, not viewers.
    return srcs.reduce((n, s) => n + s.viewerCount, 0) - h.streams + h.viewers - (opts.archive?.isAttached(id) ? 1 : 0);
  };

  /**
   * Who asks for a device: a valid ?token= for it, a console session, or Basic credentials.
   * "hidden": logged in, but this account may not watch the device (answered like a missing one).
   */
  const who = (req: http.IncomingMessage, url: URL, deviceId: string): { key: string; token: string | null } | "hidden" | null => {
    const token = url.searchParams.get("token");
    if (auth.checkToken(token, deviceId)) return { key: `address ${req.socket.remoteAddress}`, token };
    const s = sessions.fromCookie(req.headers.cookie);
    if (s) return mayWatch(s.viewer, deviceId) ? { key: `account ${s.viewer.name}`, token: null } : "hidden";
    if (auth.checkBasic(req.headers.authorization, deviceId)) return { key: `account ${basicUser(req.headers.authorization!)}`, token: null };
    return null;
  };

  const handle = async (req: http.IncomingMessage, res: http.ServerResponse) => {
    metrics.inc("flussonic_http_requests_total");
    const url = requestTarget(req.url);
    if (!url) {
      metrics.inc("flussonic_http_bad_requests_total");
      log("info", `HTTP from ${req.socket.remoteAddress}: bad request target ${JSON.stringify(String(req.url).slice(0, 80))}`);
      return send(res, 400, "bad request\n");
    }
    const path = url.pathname;
    const get = req.method === "GET" || req.method === "HEAD";
    if (path === "/") return get ? sendHtml(res, 200, consolePage()) : send(res, 405, "method not allowed\n");
    if (path === "/favicon.ico") return void res.writeHead(204, { "Cache-Control": "public, max-age=86400" }).end();
    if (path.startsWith("/assets/")) return get && sendAsset(res, path.slice(8)) ? undefined : send(res, 404, "not found\n");
    if (path.startsWith("/api/")) {
      return consoleApi(req, res, path, { registry, sessions, viewersOf, defaultPath: opts.webDefaultPath, log });
    }
    const arch = ARCHIVE_PATH.exec(path);
    if (arch) {
      if (!get) return send(res, 405, "method not allowed\n");
      // The same authorization as live video of the device; an archive outlives the device's link.
      const w = who(req, url, arch[1]);
      if (w === "hidden") return send(res, 404, "not found\n");
      if (!w) {
        metrics.inc("flussonic_http_unauthorized_total");
        res.setHeader("WWW-Authenticate", `Basic realm="${REALM}"`);
        return send(res, 401, "unauthorized\n");
      }
      if (!opts.archive) return send(res, 404, "no archive on this streamer\n");
      const suffix = w.token ? `?token=${encodeURIComponent(w.token)}` : "";
      return archiveRequest(res, opts.archive, arch[1], arch, url.searchParams, suffix, req.method === "HEAD");
    }
    const media = MEDIA_PATH.exec(path);
    if (media && !media[2].split("/").some((x) => x === "." || x === "..")) return mediaRequest(req, res, url, media[1], media[2], media[3]);
    const m = /^\/([A-Za-z0-9._-]{1,64})\/(snapshot\.jpg|audio)$/.exec(path);
    if (!m) return send(res, 404, "not found\n");
    const [, deviceId, what] = m;
    const w = who(req, url, deviceId);
    if (w === "hidden") return send(res, 404, "not found\n");
    if (!w) {
      metrics.inc("flussonic_http_unauthorized_total");
      res.setHeader("WWW-Authenticate", `Basic realm="${REALM}"`);
      return send(res, 401, "unauthorized\n");
    }
    const viewerKey = w.key;
    const entry = registry.online(deviceId);
    if (!entry) return send(res, 404, "device offline\n");
    try {
      if (what === "snapshot.jpg" && req.method === "GET" && cache) {
        const snap = await cache.get(deviceId);
        res.writeHead(200, {
          "Content-Type": snap.contentType, "Content-Length": snap.body.length, "Cache-Control": "no-store",
          Age: String(Math.floor(Math.max(0, Date.now() - snap.at) / 1000)),
        });
        return res.end(snap.body);
      }
      if (what === "snapshot.jpg" && req.method === "GET") {
        const r = await cameraRequest(registry, deviceId, viewerKey, limits, { method: "GET", path: entry.link!.hello.snapshot_path ?? "/image.jpg" });
        if (r.status !== 200) return send(res, 502, `camera answered ${r.status}\n`);
        // Only now, with the whole body in hand, does the viewer get a status line.
        res.writeHead(200, { "Content-Type": r.headers["content-type"] ?? "image/jpeg", "Content-Length": r.body.length, "Cache-Control": "no-store" });
        return res.end(r.body);
      }
      if (what === "audio" && req.method === "POST") {
        const len = Number(req.headers["content-length"]);
        if (!Number.isInteger(len)) return send(res, 411, "Content-Length required\n");
        if (len > MAX_UPLOAD) return send(res, 413, "too large\n");
        // Throws TalkerBusyError (409) while another upload to this device is in progress.
        const release = registry.talkers.acquire(deviceId, `http ${viewerKey}`);
        try {
          const r = await cameraRequest(registry, deviceId, viewerKey, limits, {
            method: "POST", path: entry.link!.hello.audio_path ?? "/play_audio", body: req,
            headers: { "Content-Type": req.headers["content-type"] ?? "application/octet-stream", "Content-Length": String(len) },
          });
          return send(res, r.status === 200 ? 200 : 502, r.status === 200 ? "ok\n" : `camera answered ${r.status}\n`);
        } finally {
          release();
        }
      }
      return send(res, 405, "method not allowed\n");
    } catch (e) {
      if (e instanceof DeviceOfflineError) return send(res, 404, "device offline\n");
      if (e instanceof SnapshotStatusError) return send(res, 502, `${e.message}\n`);
      if (e instanceof TalkerBusyError) {
        log("info", `HTTP POST ${url.pathname} from ${viewerKey}: refused, ${e.holder} has talked since ${new Date(e.sinceMs).toISOString()}`);
        // The unread body is discarded by Node after the answer (bounded: MAX_UPLOAD, http_request_timeout_ms).
        return send(res, 409, "two-way audio of this device is in use by another talker; try again when it ends\n");
      }
      if (e instanceof ViewerLimitError) {
        metrics.inc("flussonic_http_viewer_limited_total");
        log("info", `HTTP ${req.method} ${url.pathname}: ${e.message}`);
        return send(res, 429, "too many streams of this device for one viewer\n");
      }
      if (!(e instanceof CameraError)) throw e;
      metrics.inc("flussonic_http_camera_errors_total");
      log("info", `HTTP ${req.method} ${url.pathname}: camera: ${e.message}`);
      return send(res, 502, "camera unreachable or its answer was bad\n");
    }
  };

  /** The player page (file "") and HLS files of a device's camera path. */
  const mediaRequest = async (req: http.IncomingMessage, res: http.ServerResponse, url: URL, deviceId: string, camPath: string, file: string) => {
    if (req.method !== "GET" && req.method !== "HEAD") return send(res, 405, "method not allowed\n");
    const w = who(req, url, deviceId);
    const hlsFile = file === "" ? null : parseHlsFile(file);
    if (file !== "" && !hlsFile) return send(res, 404, "not found\n");
    if (w === "hidden") return file === "" ? sendHtml(res, 404, "<!doctype html><title>Not found</title><p>Not found. <a href=\"/\">Cameras</a></p>\n") : send(res, 404, "not found\n");
    if (!w) {
      metrics.inc("flussonic_http_unauthorized_total");
      if (file === "") {
        // The login page, whatever the device: nothing here says whether it exists.
        res.writeHead(302, { ...SECURITY_HEADERS, Location: "/", "Cache-Control": "no-store", "Content-Length": 0 });
        return res.end();
      }
      return send(res, 401, "unauthorized\n");
    }
    if (file === "") return sendHtml(res, 200, playerPage(deviceId, camPath));
    if (!registry.online(deviceId)) return send(res, 404, "device offline\n");
    const suffix = w.token ? `?token=${encodeURIComponent(w.token)}` : "";
    const a = await hls.answer(deviceId, camPath, hlsFile!, w.key, url.searchParams, suffix);
    metrics.inc("flussonic_hls_requests_total");
    const body = typeof a.body === "string" ? Buffer.from(a.body) : a.body;
    if (res.destroyed) return;
    res.writeHead(a.status, { "Content-Type": a.type, "Content-Length": body.length, "Cache-Control": a.cache, "X-Content-Type-Options": "nosniff" });
    res.end(body);
  };

  const server = boundedHttpServer(limits, guard, log, metrics, "flussonic_http_bad_requests_total", (req, res) => {
    // The error boundary: whatever escapes one request is that request's 500, never the process's.
    handle(req, res).catch((e: Error) => {
      if (e instanceof DeviceOfflineError) return send(res, 404, "device offline\n");
      if (e instanceof ViewerLimitError) {
        metrics.inc("flussonic_http_viewer_limited_total");
        return send(res, 429, "too many streams of this device for one viewer\n");
      }
      metrics.inc("flussonic_http_errors_total");
      log("error", `HTTP ${req.method} ${String(req.url).slice(0, 80)}: ${e.stack ?? e}`);
      send(res, 500, "internal error\n");
    });
  });
  server.on("close", () => {
    hls.close();
    void opts.archive?.close();
  });
  return listenOn(server, listen);
}

/** Per-device snapshot cache figures: admin API "snapshot" and flussonic_snapshot_* metrics. */
function registerSnapshotMetrics(cache: SnapshotCache, metrics: Metrics, registry: Registry): void {
  registry.addDeviceInfo("snapshot", (id) => cache.info(id));
  metrics.gauge("flussonic_snapshot_cache_bytes", "snapshot image bytes held in the cache, all devices", () => cache.bytes);
  metrics.family("flussonic_snapshot_cache_hits_total", "snapshot requests answered from the cache or from a fetch another request started", "counter", ["device"],
    () => [...cache.devices()].map(([id, d]) => [[id], d.hits] as const));
  metrics.family("flussonic_snapshot_camera_fetches_total", "snapshot requests sent to the camera", "counter", ["device"],
    () => [...cache.devices()].map(([id, d]) => [[id], d.fetches] as const));
  metrics.family("flussonic_snapshot_camera_errors_total", "snapshot fetches that failed (502 to the viewers that shared them)", "counter", ["device"],
    () => [...cache.devices()].map(([id, d]) => [[id], d.errors] as const));
  metrics.family("flussonic_snapshot_age_seconds", "age of the cached snapshot (devices with a fresh one)", "gauge", ["device"],
    () => [...cache.devices()].filter(([, d]) => d.age_ms !== null).map(([id, d]) => [[id], d.age_ms! / 1000] as const));
}

/** Two-way audio state: admin API "audio" and flussonic_audio_* metrics. */
function registerTalkerMetrics(registry: Registry, metrics: Metrics): void {
  const talkers = registry.talkers;
  registry.addDeviceInfo("audio", (id) => {
    const t = talkers.current(id);
    return { talker: t?.holder ?? null, since: t ? new Date(t.since).toISOString() : null };
  });
  metrics.gauge("flussonic_audio_talkers", "devices with a two-way audio talker now", () => talkers.size);
  metrics.family("flussonic_audio_talker_active", "1 while a talker holds the device's two-way audio (only such devices are listed)", "gauge", ["device"],
    () => [...talkers.entries()].map(([id]) => [[id], 1] as const));
  metrics.family("flussonic_audio_talker_conflicts_total", "second talkers refused (HTTP 409, RTSP backchannel 453)", "counter", [],
    () => [[[], talkers.conflicts]]);
}

/** The user name of a Basic header that checkBasic already accepted. */
function basicUser(header: string): string {
  const dec = Buffer.from(header.slice(6).trim(), "base64").toString("utf8");
  return dec.slice(0, dec.indexOf(":"));
}

function send(res: http.ServerResponse, status: number, text: string): void {
  if (res.headersSent) return void res.destroy();
  res.writeHead(status, { "Content-Type": "text/plain" });
  res.end(text);
}
