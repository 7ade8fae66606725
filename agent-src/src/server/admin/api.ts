/**
 * Operator API, on 127.0.0.1 by default: GET /api/devices, GET /metrics,
 * POST /api/devices/<id>/move {"streamer": "host:port"} (sends MOVE to a live agent),
 * POST /api/devices/<id>/disconnect (closes its link; the agent reconnects). The actions are
 * actions.ts's, shared with the web console's admin accounts.
 *
 * POSTs must say Content-Type: application/json. A browser sends that cross-origin only after a
 * CORS preflight, which we never grant, so a web page cannot drive this API through a browser on
 * the admin host; text/plain and form types, which it may send without asking, get 415.
 */

import * as http from "node:http";
import type { LogLevel } from "../../platform/platform";
import { disconnectDevice, moveDevice, type ActionResult } from "./actions";
import { boundedHttpServer, requestTarget } from "../util/http-server";
import type { Limits } from "../limits";
import type { Metrics } from "../metrics";
import type { Registry } from "../link/registry";
import { listenOn } from "../util/listen";

export function startAdmin(
  listen: { host: string; port: number }, registry: Registry | null, metrics: Metrics,
  limits: Limits, log: (l: LogLevel, m: string) => void,
): Promise<http.Server> {
  metrics.counter("flussonic_admin_bad_requests_total", "admin API requests refused as malformed");
  metrics.counter("flussonic_admin_errors_total", "admin API requests that failed inside the server (500)");
  // The error boundary, around the request and around its body's callback: a failure in one
  // request is its 500, never the process's.
  const guarded = (req: http.IncomingMessage, res: http.ServerResponse, fn: () => void) => {
    try {
      fn();
    } catch (e) {
      metrics.inc("flussonic_admin_errors_total");
      log("error", `admin ${req.method} ${String(req.url).slice(0, 80)}: ${(e as Error).stack ?? e}`);
      if (!res.headersSent) res.writeHead(500, { "Content-Type": "application/json" }).end("{\"error\": \"internal error\"}\n");
      else res.destroy();
    }
  };
  const handle = (req: http.IncomingMessage, res: http.ServerResponse) => {
    const json = (status: number, body: unknown) => {
      res.writeHead(status, { "Content-Type": "application/json" });
      res.end(JSON.stringify(body) + "\n");
    };
    const url = requestTarget(req.url);
    if (!url) {
      metrics.inc("flussonic_admin_bad_requests_total");
      return json(400, { error: "bad request target" });
    }
    const path = url.pathname;
    if (req.method === "GET" && path === "/metrics") {
      res.writeHead(200, { "Content-Type": "text/plain; version=0.0.4" });
      return res.end(metrics.render());
    }
    if (req.method === "GET" && path === "/api/devices") return json(200, { devices: registry?.list() ?? [] });
    const act = /^\/api\/devices\/([A-Za-z0-9._-]{1,64})\/(move|disconnect)$/.exec(path);
    if (req.method === "POST" && act && registry) {
      if (!/^application\/json\s*(;|$)/i.test(req.headers["content-type"] ?? "")) {
        return json(415, { error: "Content-Type must be application/json" });
      }
      let body = "";
      req.setEncoding("utf8");
      req.on("data", (d) => (body.length < 4096 ? (body += d) : req.destroy()));
      req.on("end", () => guarded(req, res, () => {
        let r: ActionResult;
        if (act[2] === "move") {
          let streamer: unknown;
          try {
            streamer = JSON.parse(body).streamer;
          } catch {
            streamer = undefined;
          }
          r = moveDevice(registry, act[1], streamer);
        } else {
          r = disconnectDevice(registry, act[1], "the admin API");
        }
        return r.ok ? json(r.status, r.body) : json(r.status, { error: r.error });
      }));
      return;
    }
    json(404, { error: "not found" });
  };
  const server = boundedHttpServer(limits, null, log, metrics, "flussonic_admin_bad_requests_total",
    (req, res) => guarded(req, res, () => handle(req, res)));
  return listenOn(server, listen);
}
