/**
 * Endpoint role: activates new cameras, authenticates returning ones, and sends each to a
 * streamer. It holds no link after the handshake, so it can die without stopping any video.
 */

import { createHash } from "node:crypto";
import { FrameType } from "../../protocol/frame";
import type { Activated, Hello, Redirect } from "../../protocol/control";
import type { LogLevel } from "../../platform/platform";
import type { StreamerConfig } from "../config";
import { deviceKey, newDeviceId } from "../keys";
import { startLinkServer } from "../link/server";
import type { Metrics } from "../metrics";
import { TokenStore } from "./tokens";
import type * as tls from "node:tls";

/**
 * Rendezvous hashing: a device keeps landing on the same streamer while it is healthy, and
 * streamers the agent reports as failed are skipped.
 */
export function chooseStreamer(streamers: string[], deviceId: string, avoid: string[] = []): string {
  const candidates = streamers.filter((s) => !avoid.includes(s));
  const pool = candidates.length ? candidates : streamers;
  let best = pool[0];
  let bestScore = "";
  for (const s of pool) {
    const score = createHash("sha256").update(`${s}\n${deviceId}`).digest("hex");
    if (score > bestScore) {
      bestScore = score;
      best = s;
    }
  }
  return best;
}

export async function startEndpoint(cfg: StreamerConfig, log: (l: LogLevel, m: string) => void, metrics: Metrics): Promise<tls.Server> {
  const ep = cfg.endpoint!;
  const tokens = new TokenStore(ep.tokensFile, cfg.stateDir);
  metrics.counter("flussonic_endpoint_activations_total", "devices activated");
  metrics.counter("flussonic_endpoint_redirects_total", "agents sent to a streamer");
  const server = await startLinkServer({ role: "endpoint", cfg, admission: ep.admission, log, metrics }, {
    authenticated: ({ session, hello, deviceId, remote }) => {
      const streamer = chooseStreamer(ep.streamers, deviceId, hello.avoid);
      log("info", `device ${deviceId} (${remote}) → streamer ${streamer}`);
      metrics.inc("flussonic_endpoint_redirects_total");
      session.sendControl(FrameType.REDIRECT, { streamer, endpoints: ep.endpoints } satisfies Redirect);
    },
    activate: (session, hello: Hello, token, remote) => {
      const deviceId = newDeviceId();
      let ok = false;
      try {
        ok = tokens.consume(token, deviceId);
      } catch (e) {
        log("error", `cannot record activation: ${(e as Error).message}`);
        return session.fail("unavailable", "activation store unavailable");
      }
      if (!ok) {
        log("warn", `activation refused for ${remote}: unknown or used token`);
        return session.fail("activation", "unknown or already used activation token");
      }
      const streamer = chooseStreamer(ep.streamers, deviceId, hello.avoid);
      metrics.inc("flussonic_endpoint_activations_total");
      log("info", `activated ${deviceId} (${remote}, agent ${hello.agent} ${hello.arch ?? ""}) → streamer ${streamer}`);
      session.sendControl(FrameType.ACTIVATED, {
        device_id: deviceId,
        key: deviceKey(cfg.clusterSecret, deviceId).toString("hex"),
        endpoints: ep.endpoints,
        streamer,
      } satisfies Activated);
    },
  }, ep.listen);
  log("info", `endpoint listening for agents on ${ep.listen.host}:${ep.listen.port}`);
  return server;
}
