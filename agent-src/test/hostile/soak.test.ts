// Soak: 2,000 idle and slowloris connections on every listener for 60 s (each one the server closes
// is replaced at once) while an agent relays the GStreamer camera and a real ffmpeg viewer plays.
// The viewer must keep >= 95 % of its frames, a new agent must still get in, and every junk
// connection must be closed within the timeout configured for it. Then the per-IP limits: one
// address gets no more than its share while the viewer from another address plays on.
//
// The junk comes from 127.0.0.2/127.0.0.3 (still loopback): per-IP limits count it apart from the
// real agent and viewer on 127.0.0.1, as they would an attacker on the Internet.
// Knobs: SOAK_CONNS (per listener, default 2000), SOAK_SECONDS (default 60).
import { execFileSync } from "node:child_process";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startCamera, type Camera } from "../harness/camera";
import { openFlood, SLOW, type Flood } from "../harness/conn-flood";
import { memKb } from "../harness/proc-stats";
import { cameraTargets, makePki, startAgent, startStreamer, type AgentProc, type Pki, type StreamerProc } from "../harness/system";
import { watchViewer, type WatchedViewer } from "../harness/watch-viewer";

const CONNS = Number(process.env.SOAK_CONNS ?? 2000);
const SOAK_S = Number(process.env.SOAK_SECONDS ?? 60);
const FPS = 25; // CLIPS.long
// Timeouts short enough that every slot turns over several times in the soak, long enough that
// the churn (CONNS per timeout per listener) stays well inside the ephemeral port range.
const LIMITS = {
  handshake_timeout_ms: 8000, rtsp_request_timeout_ms: 8000, rtsp_idle_timeout_ms: 10_000,
  http_request_timeout_ms: 8000, http_keepalive_timeout_ms: 5000,
  // Raised so the CONNS are admitted and the timeouts are what closes them.
  viewer_connections_per_ip: CONNS + 100, viewer_connections_total: 4 * CONNS + 1000,
  agent_pending_per_ip: CONNS + 100, agent_pending_total: 4 * CONNS + 1000,
};
/** Timers may be swept, the machine is shared: how late a close may come. */
const SLACK_MS = 3000;

let pki: Pki, cam: Camera, server: StreamerProc, agent: AgentProc, id: string;
let viewer: WatchedViewer | null = null;
const floods: Flood[] = [];

beforeAll(async () => {
  // 5 listeners x CONNS in this process and in the streamer; make test raises the soft limit.
  const soft = Number(execFileSync("sh", ["-c", "ulimit -n"], { encoding: "utf8" }).trim());
  if (soft < 6 * CONNS) throw new Error(`open-file limit ${soft} is below ${6 * CONNS}: run under \`ulimit -n "$(ulimit -Hn)"\` (mk/core.mk does)`);
  pki = makePki();
  cam = await startCamera();
  server = await startStreamer({
    roles: ["endpoint", "streamer"], pki, tokens: ["soak-a", "soak-b"], limits: LIMITS, name: "streamer(soak)",
    // Admission control is not what is measured here: a real agent arriving mid-soak must not
    // depend on the junk's share of one bucket.
    admission: { rate: 10_000, burst: 10_000, retry_ms: 1000 },
  });
  agent = await startAgent({ pki, endpoints: [`127.0.0.1:${server.ports.endpoint}`], targets: cameraTargets(cam), token: "soak-a" });
  id = agent.deviceId()!;
}, 90_000);

afterAll(async () => {
  floods.forEach((f) => f.stop());
  await viewer?.stop();
  await agent?.stop();
  await server?.stop();
  await cam?.stop();
});

interface Listener {
  name: string;
  port: number;
  slow: Buffer;
  /** Bound for idle and slowloris connections; null: not checked (admin is loopback-only). */
  idleMs: number | null;
  slowMs: number | null;
}

describe("soak", () => {
  it(`${CONNS} idle + slowloris connections per listener for ${SOAK_S} s: viewer keeps >= 95 % of frames, junk closed by the timeouts`, async () => {
    const p = server.ports;
    const listeners: Listener[] = [
      { name: "endpoint (agents, TLS)", port: p.endpoint, slow: SLOW.tls, idleMs: LIMITS.handshake_timeout_ms, slowMs: LIMITS.handshake_timeout_ms },
      { name: "streamer (agents, TLS)", port: p.streamer, slow: SLOW.tls, idleMs: LIMITS.handshake_timeout_ms, slowMs: LIMITS.handshake_timeout_ms },
      { name: "RTSP", port: p.rtsp, slow: SLOW.rtsp, idleMs: LIMITS.rtsp_idle_timeout_ms, slowMs: LIMITS.rtsp_request_timeout_ms },
      {
        name: "HTTP", port: p.http, slow: SLOW.http,
        idleMs: Math.max(LIMITS.http_request_timeout_ms, LIMITS.http_keepalive_timeout_ms), slowMs: LIMITS.http_request_timeout_ms,
      },
      // Loopback-only operator port: no timeouts are promised there, but it must keep answering.
      { name: "admin (loopback)", port: p.admin, slow: SLOW.http, idleMs: null, slowMs: null },
    ];
    const t0 = Date.now();
    const byName = new Map<string, Flood>();
    for (const l of listeners) {
      const f = await openFlood({ port: l.port, count: CONNS, slowloris: l.slow, intervalMs: 1000, localAddress: "127.0.0.2", refill: true });
      floods.push(f);
      byName.set(l.name, f);
    }
    const openMs = Date.now() - t0;
    const rssStart = memKb(server.proc.pid).rss;

    // The viewer connects through the flood, then plays for the whole soak.
    viewer = await watchViewer(server.rtspUrl(id, "long"), { firstPacketsMs: 30_000 });
    const mark = viewer.mark();
    // A new agent activates and goes live through the junk on both agent ports.
    const t1 = Date.now();
    const late = await startAgent({ pki, endpoints: [`127.0.0.1:${p.endpoint}`], targets: cameraTargets(cam), token: "soak-b", name: "agent-mid-soak" });
    const lateAgentMs = Date.now() - t1;
    await late.stop();

    let maxRss = rssStart;
    let adminSlowest = 0;
    const end = Date.now() + SOAK_S * 1000;
    while (Date.now() < end) {
      await new Promise((r) => setTimeout(r, 2000));
      maxRss = Math.max(maxRss, memKb(server.proc.pid).rss);
      const a = Date.now();
      const ok = await fetch(`http://127.0.0.1:${p.admin}/metrics`, { signal: AbortSignal.timeout(5000) }).then((r) => r.ok, () => false);
      adminSlowest = Math.max(adminSlowest, ok ? Date.now() - a : Infinity);
    }
    const w = viewer.since(mark);
    const expected = Math.round((w.ms / 1000) * FPS);

    const problems: string[] = [];
    const rows: string[] = [];
    for (const l of listeners) {
      const s = byName.get(l.name)!.summary();
      rows.push(`${l.name}: opened ${s.opened}, refused ${s.refused}, closed by server ${s.closedByServer} ` +
        `(idle max ${s.idle.maxCloseMs} ms, slowloris max ${s.slow.maxCloseMs} ms), open now ${s.open} ` +
        `(oldest idle ${s.idle.maxOpenMs} ms, slowloris ${s.slow.maxOpenMs} ms)`);
      if (l.idleMs === null || l.slowMs === null) continue;
      if (s.refused > 0) problems.push(`${l.name}: ${s.refused} connections refused although under the raised per-IP limit`);
      const idleLate = Math.max(s.idle.maxCloseMs, s.idle.maxOpenMs);
      const slowLate = Math.max(s.slow.maxCloseMs, s.slow.maxOpenMs);
      if (idleLate > l.idleMs + SLACK_MS) problems.push(`${l.name}: idle connection lived ${idleLate} ms (timeout ${l.idleMs} ms)`);
      if (slowLate > l.slowMs + SLACK_MS) problems.push(`${l.name}: slowloris connection lived ${slowLate} ms (timeout ${l.slowMs} ms)`);
    }
    if (w.packets < 0.95 * expected) problems.push(`viewer got ${w.packets} of ${expected} frames (< 95 %), longest gap ${w.maxGapMs} ms`);
    if (adminSlowest > 2000) problems.push(`admin API took ${adminSlowest} ms to answer`);
    console.log(`soak: ${CONNS} per listener opened in ${openMs} ms; viewer ${w.packets}/${expected} frames ` +
      `(${((100 * w.packets) / Math.max(1, expected)).toFixed(1)} %), max gap ${w.maxGapMs} ms; agent mid-soak live in ${lateAgentMs} ms; ` +
      `streamer RSS ${(rssStart / 1024).toFixed(0)} -> max ${(maxRss / 1024).toFixed(0)} MiB; admin slowest ${adminSlowest} ms\n  ${rows.join("\n  ")}`);
    floods.splice(0).forEach((f) => f.stop());
    expect(problems, problems.join("\n")).toEqual([]);
  }, (SOAK_S + 150) * 1000);

  it("per-IP limits: one address gets its share on viewer and agent ports, the rest is refused, the viewer plays on", async () => {
    expect(viewer, "runs after the soak, with its viewer").not.toBeNull();
    const mark = viewer!.mark();
    const over = 100;
    const rtsp = await openFlood({ port: server.ports.rtsp, count: LIMITS.viewer_connections_per_ip + over, localAddress: "127.0.0.3" });
    const agents = await openFlood({ port: server.ports.streamer, count: LIMITS.agent_pending_per_ip + over, localAddress: "127.0.0.3" });
    floods.push(rtsp, agents);
    await new Promise((r) => setTimeout(r, 2000));
    const [sr, sa] = [rtsp.summary(), agents.summary()];
    const w = viewer!.since(mark);
    console.log(`per-IP: RTSP ${JSON.stringify(sr)}; agent port ${JSON.stringify(sa)}; viewer ${w.packets} frames in ${w.ms} ms`);
    rtsp.stop();
    agents.stop();
    expect(sr.refused, "RTSP connections over viewer_connections_per_ip refused").toBeGreaterThanOrEqual(over);
    expect(sr.refused).toBeLessThanOrEqual(over + 10);
    expect(sa.refused, "agent-port connections over agent_pending_per_ip refused").toBeGreaterThanOrEqual(over);
    expect(sa.refused).toBeLessThanOrEqual(over + 10);
    expect(w.packets).toBeGreaterThanOrEqual(0.9 * (w.ms / 1000) * FPS);
  }, 60_000);
});
