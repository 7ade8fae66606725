/**
 * Operator API, on 127.0.0.1 by default: GET /api/devices, GET /metrics,
 * POST /api/devices/<id>/move {"streamer": "host:port"} (sends MOVE to a live agent).
 */

import * as http from "node:http";
import { parseHostPort } from "../agent/config";
import { FrameType } from "../protocol/frame";
import type { Metrics } from "./metrics";
import type { Registry } from "./registry";
import { listenOn } from "./listen";

export function startAdmin(listen: { host: string; port: number }, registry: Registry | null, metrics: Metrics): Promise<http.Server> {
  const server = http.createServer((req, res) => {
    const json = (status: number, body: unknown) => {
      res.writeHead(status, { "Content-Type": "application/json" });
      res.end(JSON.stringify(body) + "\n");
    };
    const path = new URL(req.url ?? "/", "http://admin").pathname;
    if (req.method === "GET" && path === "/metrics") {
      res.writeHead(200, { "Content-Type": "text/plain; version=0.0.4" });
      return res.end(metrics.render());
    }
    if (req.method === "GET" && path === "/api/devices") return json(200, { devices: registry?.list() ?? [] });
    const mv = /^\/api\/devices\/([A-Za-z0-9._-]{1,64})\/move$/.exec(path);
    if (req.method === "POST" && mv && registry) {
      let body = "";
      req.setEncoding("utf8");
      req.on("data", (d) => (body.length < 4096 ? (body += d) : req.destroy()));
      req.on("end", () => {
        let streamer: string;
        try {
          streamer = JSON.parse(body).streamer;
          parseHostPort(streamer, "streamer");
        } catch {
          return json(400, { error: "body must be {\"streamer\": \"host:port\"}" });
        }
        const e = registry.online(mv[1]);
        if (!e) return json(404, { error: "device not connected here" });
        e.link!.session.sendControl(FrameType.MOVE, { streamer });
        return json(202, { moved: mv[1], streamer });
      });
      return;
    }
    json(404, { error: "not found" });
  });
  return listenOn(server, listen);
}
