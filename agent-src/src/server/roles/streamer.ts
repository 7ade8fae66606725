/**
 * Streamer role: keeps authenticated agent links and exposes each camera to ordinary clients
 * over RTSP (gateways/rtsp/gateway.ts) and HTTP (gateways/http/gateway.ts).
 */

import type * as net from "node:net";
import { FrameType } from "../../protocol/frame";
import type { LogLevel } from "../../platform/platform";
import type { StreamerConfig } from "../config";
import { startHttpGateway } from "../gateways/http/gateway";
import { startLinkServer } from "../link/server";
import type { Metrics } from "../metrics";
import { Registry } from "../link/registry";
import { startRtspGateway } from "../gateways/rtsp/gateway";
import { Sources } from "../media/sources";
import { sourceVisibility } from "../media/visibility";
import { ViewerAuth } from "../gateways/viewer-auth";
import { Archive } from "../record/archive";
import { onShutdown } from "../shutdown";

export async function startStreamer(
  cfg: StreamerConfig, log: (l: LogLevel, m: string) => void, metrics: Metrics, registry: Registry,
): Promise<net.Server[]> {
  const st = cfg.streamer!;
  metrics.gauge("flussonic_agents_connected", "agents with a live link to this streamer", () => registry.onlineCount);
  metrics.gauge("flussonic_streams_active", "tunnel streams open", () =>
    [...registry.devices.values()].reduce((n, e) => n + (e.link?.session.streams.size ?? 0), 0));
  metrics.gauge("flussonic_link_bytes_total", "bytes on agent links, both directions", () =>
    registry.list().reduce((n, d) => n + d.bytes, 0));

  const links = await startLinkServer({ role: "streamer", cfg, admission: st.admission, log, metrics }, {
    authenticated: (link) => {
      registry.attach(link);
      link.session.sendControl(FrameType.WELCOME, { device_id: link.deviceId });
      log("info", `device ${link.deviceId} online from ${link.remote} (agent ${link.hello.agent} ${link.hello.arch ?? ""})`);
      link.whenClosed((reason) => log("info", `device ${link.deviceId} offline: ${reason.text}`));
    },
  }, st.listen);
  const auth = new ViewerAuth(st.viewers, st.viewerTokenSecret);
  const sources = new Sources(registry, st.media, log);
  sources.requestTimeoutMs = cfg.limits.cameraTimeoutMs;
  sourceVisibility(registry, metrics, sources);
  const archive = st.archive ? new Archive(st.archive, registry, sources, log, metrics) : null;
  if (archive) onShutdown(() => archive.close());
  const rtsp = await startRtspGateway(st.rtspListen, registry, auth, log, metrics, cfg.limits, sources);
  const http = await startHttpGateway(st.httpListen, registry, auth, log, metrics, cfg.limits, {
    snapshotMaxAgeMs: st.snapshotMaxAgeMs, sources, viewers: st.viewers, webDefaultPath: st.webDefaultPath, archive,
  });
  log("info", `streamer: agents on ${st.listen.port}, RTSP on ${st.rtspListen.port}, HTTP on ${st.httpListen.port}`);
  return [links, rtsp, http];
}
