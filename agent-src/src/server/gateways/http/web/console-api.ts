/**
 * The console's JSON API on the viewer port (the loopback admin API is a different listener):
 *   POST /api/login {name, password}   → session cookie + CSRF token
 *   POST /api/logout                   → cookie cleared
 *   GET  /api/me                       → {name, admin, csrf, default_path}
 *   GET  /api/devices                  → only the devices this account may watch
 *   POST /api/devices/<id>/disconnect, /move {streamer}   (admin accounts; admin/actions.ts)
 * POSTs must be application/json (a cross-site form cannot send it without a CORS preflight,
 * never granted), carry X-CSRF-Token (not login), and, if the browser says where it comes from
 * (Origin), come from this origin. The cookie is SameSite=Strict on top of that.
 */

import type * as http from "node:http";
import { disconnectDevice, moveDevice } from "../../../admin/actions";
import type { Registry } from "../../../link/registry";
import type { LogLevel } from "../../../../platform/platform";
import { Sessions, mayWatch, type WebSession } from "./sessions";
import { SECURITY_HEADERS } from "./pages";

const MAX_BODY = 4096;

export interface ConsoleDeps {
  registry: Registry;
  sessions: Sessions;
  /** Viewers of a device now, RTSP and HLS. */
  viewersOf: (id: string) => number;
  defaultPath: string;
  log: (l: LogLevel, m: string) => void;
}

function json(res: http.ServerResponse, status: number, body: unknown, extra: Record<string, string> = {}): void {
  const text = JSON.stringify(body) + "\n";
  res.writeHead(status, { ...SECURITY_HEADERS, "Content-Type": "application/json", "Cache-Control": "no-store", "Content-Length": Buffer.byteLength(text), ...extra });
  res.end(text);
}

function readJson(req: http.IncomingMessage): Promise<Record<string, unknown> | null> {
  return new Promise((resolve) => {
    let body = "";
    let over = false;
    req.setEncoding("utf8");
    req.on("data", (d: string) => {
      if (over) return;
      body += d;
      if (body.length > MAX_BODY) over = true;
    });
    req.on("end", () => {
      if (over) return resolve(null);
      try {
        const v = body ? JSON.parse(body) : {};
        resolve(typeof v === "object" && v !== null && !Array.isArray(v) ? v : null);
      } catch {
        resolve(null);
      }
    });
    req.on("error", () => resolve(null));
  });
}

/** A POST a browser may only send from our own pages. */
function sameOriginJson(req: http.IncomingMessage): boolean {
  if (!/^application\/json\s*(;|$)/i.test(req.headers["content-type"] ?? "")) return false;
  const origin = req.headers.origin;
  if (origin === undefined) return true; // not a browser, or a same-origin GET-like fetch: the JSON type already needs a preflight cross-site
  try {
    return new URL(origin).host === req.headers.host;
  } catch {
    return false;
  }
}

export async function consoleApi(req: http.IncomingMessage, res: http.ServerResponse, path: string, d: ConsoleDeps): Promise<void> {
  const session = d.sessions.fromCookie(req.headers.cookie);
  const addr = req.socket.remoteAddress ?? "?";
  if (req.method === "POST") {
    if (!sameOriginJson(req)) return json(res, 403, { error: "POSTs must be application/json from this origin" });
    if (path !== "/api/login" && (!session || !d.sessions.checkCsrf(session, req.headers["x-csrf-token"]))) {
      return json(res, session ? 403 : 401, { error: session ? "missing or wrong X-CSRF-Token" : "log in first" });
    }
  } else if (req.method !== "GET") {
    return json(res, 405, { error: "method not allowed" });
  }

  if (path === "/api/login" && req.method === "POST") {
    const body = await readJson(req);
    if (!body) return json(res, 400, { error: "body must be {\"name\": …, \"password\": …}" });
    const s = d.sessions.login(body.name, body.password, addr);
    if (s === "limited") return json(res, 429, { error: "too many failed logins from this address; wait a minute" });
    if (!s) {
      d.log("info", `console: failed login from ${addr}`);
      return json(res, 401, { error: "wrong name or password" });
    }
    if (session) d.sessions.logout(session);
    d.log("info", `console: ${s.viewer.name} logged in from ${addr}`);
    return json(res, 200, me(s, d), { "Set-Cookie": Sessions.cookie(s) });
  }
  if (!session) return json(res, 401, { error: "log in first" });
  if (path === "/api/logout" && req.method === "POST") {
    d.sessions.logout(session);
    return json(res, 200, { ok: true }, { "Set-Cookie": Sessions.clearCookie() });
  }
  if (path === "/api/me" && req.method === "GET") return json(res, 200, me(session, d));
  if (path === "/api/devices" && req.method === "GET") return json(res, 200, { devices: devicesFor(session, d) });
  const act = /^\/api\/devices\/([A-Za-z0-9._-]{1,64})\/(disconnect|move)$/.exec(path);
  if (act && req.method === "POST") {
    // A device the account may not watch answers like one that does not exist.
    if (!mayWatch(session.viewer, act[1])) return json(res, 404, { error: "not found" });
    if (!session.viewer.admin) return json(res, 403, { error: "this account may not do that" });
    const body = await readJson(req);
    if (!body) return json(res, 400, { error: "bad JSON body" });
    const r = act[2] === "move" ? moveDevice(d.registry, act[1], body.streamer) : disconnectDevice(d.registry, act[1], `console account ${session.viewer.name}`);
    d.log("info", `console: ${session.viewer.name} ${act[2]} ${act[1]}: ${r.ok ? "done" : r.error}`);
    return r.ok ? json(res, r.status, r.body) : json(res, r.status, { error: r.error });
  }
  return json(res, 404, { error: "not found" });
}

function me(s: WebSession, d: ConsoleDeps) {
  return { name: s.viewer.name, admin: !!s.viewer.admin, csrf: s.csrf, default_path: d.defaultPath };
}

function devicesFor(s: WebSession, d: ConsoleDeps) {
  return d.registry.list().filter((x) => mayWatch(s.viewer, x.id)).map((x) => ({
    id: x.id, state: x.state, since: x.since, bytes: x.bytes, viewers: d.viewersOf(x.id),
    ...(s.viewer.admin ? { remote: x.remote, agent: x.agent } : {}),
  })).sort((a, b) => a.id.localeCompare(b.id));
}
