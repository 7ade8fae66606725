// Faults with real processes: endpoint death, streamer death and failover, a blackholed link,
// restart from the cached streamer, MOVE, and admission control's RETRY_AFTER.
import * as net from "node:net";
import { afterEach, beforeAll, describe, expect, it } from "vitest";
import { startCamera, type Camera } from "../../../testkit/camera";
import { comparePackets, framemd5, startPull } from "../../../testkit/ffmpeg";
import { freePort } from "../../../testkit/procs";
import { cameraTargets, makePki, serverPorts, startAgent, startStreamer, type AgentProc, type Pki, type StreamerProc } from "../../../testkit/system";

let pki: Pki, cam: Camera;
const running: { stop(): Promise<void> }[] = [];
const track = <T extends { stop(): Promise<void> }>(x: T): T => (running.push(x), x);

beforeAll(async () => {
  pki = makePki();
  cam = track(await startCamera());
}, 60_000);
afterEach(async () => {
  // Stop everything but the camera (first entry) after each test.
  for (const x of running.splice(1).reverse()) await x.stop();
});

async function cluster(nStreamers: number, tokens: string[], keepalive?: { ping_interval_ms: number; idle_timeout_ms: number }) {
  const streamers: StreamerProc[] = [];
  for (let i = 0; i < nStreamers; i++) {
    streamers.push(track(await startStreamer({ roles: ["streamer"], pki, keepalive, name: `streamer${i + 1}` })));
  }
  const endpoint = track(await startStreamer({
    roles: ["endpoint"], pki, tokens, keepalive, name: "endpoint",
    streamers: streamers.map((s) => `127.0.0.1:${s.ports.streamer}`),
  }));
  return { endpoint, streamers };
}

function streamerOf(streamers: StreamerProc[], agent: AgentProc): StreamerProc {
  const m = /session live at streamer 127\.0\.0\.1:(\d+)/g;
  let last = 0;
  for (const x of agent.proc.output().matchAll(m)) last = Number(x[1]);
  return streamers.find((s) => s.ports.streamer === last)!;
}

async function playable(s: StreamerProc, id: string) {
  const [direct, via] = await Promise.all([
    framemd5(cam.rtspUrl("stream1"), { frames: 100, timeoutMs: 30_000 }),
    framemd5(s.rtspUrl(id), { frames: 100, timeoutMs: 30_000 }),
  ]);
  const r = comparePackets(direct, via, { minPackets: 100 });
  expect(r.ok, r.message).toBe(true);
}

describe("faults", () => {
  it("endpoint killed after the redirect: streaming continues and new viewers still play", async () => {
    const { endpoint, streamers } = await cluster(1, ["t1"]);
    const agent = track(await startAgent({ pki, endpoints: [`127.0.0.1:${endpoint.ports.endpoint}`], targets: cameraTargets(cam), token: "t1" }));
    const id = agent.deviceId()!;
    const pull = await startPull(streamers[0].rtspUrl(id, "long"));
    await pull.waitForPackets(25, 20_000);
    endpoint.proc.signal("SIGKILL");
    await endpoint.proc.exited;
    const n = pull.packets().length;
    await pull.waitForPackets(n + 50, 20_000);
    await pull.stop();
    await playable(streamers[0], id);
  }, 90_000);

  it("streamer killed: the agent goes back to the endpoint and reaches the second streamer", async () => {
    const { endpoint, streamers } = await cluster(2, ["t2"]);
    const agent = track(await startAgent({ pki, endpoints: [`127.0.0.1:${endpoint.ports.endpoint}`], targets: cameraTargets(cam), token: "t2" }));
    const id = agent.deviceId()!;
    const first = streamerOf(streamers, agent);
    const second = streamers.find((s) => s !== first)!;
    const mark = agent.proc.mark();
    first.proc.signal("SIGKILL");
    await agent.proc.waitForLine(new RegExp(`session live at streamer 127\\.0\\.0\\.1:${second.ports.streamer}`), { timeoutMs: 30_000, after: mark });
    expect(agent.proc.lines().slice(mark).join("\n")).toMatch(/back to the endpoints/);
    expect((await second.devices()).find((d) => d.id === id)?.state).toBe("online");
    await playable(second, id);
  }, 90_000);

  it("a blackholed link is detected by both sides within the keepalive bound", async () => {
    const ka = { ping_interval_ms: 500, idle_timeout_ms: 2000 };
    const streamer = track(await startStreamer({ roles: ["streamer"], pki, keepalive: ka, name: "streamer" }));
    // The endpoint sends the agent to the streamer through a TCP proxy that can silently stop
    // forwarding, like a NAT mapping that died.
    const proxy = await blackholeProxy(streamer.ports.streamer);
    running.push({ stop: proxy.stop });
    const endpoint = track(await startStreamer({ roles: ["endpoint"], pki, tokens: ["t3"], keepalive: ka, name: "endpoint", streamers: [`127.0.0.1:${proxy.port}`] }));
    const agent = track(await startAgent({
      pki, endpoints: [`127.0.0.1:${endpoint.ports.endpoint}`], targets: cameraTargets(cam), token: "t3", extra: { keepalive: ka },
    }));
    const mark = agent.proc.mark();
    const smark = streamer.proc.mark();
    const t0 = Date.now();
    proxy.blackhole();
    await agent.proc.waitForLine(/keepalive timeout/, { timeoutMs: 10_000, after: mark });
    const agentMs = Date.now() - t0;
    await streamer.proc.waitForLine(/offline: keepalive timeout/, { timeoutMs: 10_000, after: smark });
    const serverMs = Date.now() - t0;
    // Bound: idle timeout + one check tick (idle/7); slack for a loaded machine.
    expect(agentMs).toBeLessThan(2000 + 300 + 2000);
    expect(serverMs).toBeLessThan(2000 + 300 + 2000);
  }, 60_000);

  it("agent restarted with the endpoint down: it uses the cached streamer", async () => {
    const { endpoint, streamers } = await cluster(1, ["t4"]);
    const a1 = track(await startAgent({ pki, endpoints: [`127.0.0.1:${endpoint.ports.endpoint}`], targets: cameraTargets(cam), token: "t4" }));
    const id = a1.deviceId()!;
    await a1.stop();
    await endpoint.stop();
    const a2 = track(await startAgent({ pki, dir: a1.dir, endpoints: [`127.0.0.1:${endpoint.ports.endpoint}`], targets: cameraTargets(cam) }));
    expect(a2.proc.output()).not.toMatch(/connecting to endpoint/);
    expect(a2.deviceId()).toBe(id);
    await playable(streamers[0], id);
  }, 90_000);

  it("MOVE: the server moves a live agent to another streamer, and it stays there across restarts", async () => {
    const { endpoint, streamers } = await cluster(2, ["t5"]);
    const agent = track(await startAgent({ pki, endpoints: [`127.0.0.1:${endpoint.ports.endpoint}`], targets: cameraTargets(cam), token: "t5" }));
    const id = agent.deviceId()!;
    const from = streamerOf(streamers, agent);
    const to = streamers.find((s) => s !== from)!;
    const mark = agent.proc.mark();
    const res = await fetch(`http://127.0.0.1:${from.ports.admin}/api/devices/${id}/move`, {
      method: "POST", headers: { "content-type": "application/json" },
      body: JSON.stringify({ streamer: `127.0.0.1:${to.ports.streamer}` }),
    });
    expect(res.status).toBe(202);
    await agent.proc.waitForLine(new RegExp(`session live at streamer 127\\.0\\.0\\.1:${to.ports.streamer}`), { timeoutMs: 15_000, after: mark });
    const { readFileSync } = await import("node:fs");
    expect(JSON.parse(readFileSync(agent.stateFile, "utf8")).streamer).toBe(`127.0.0.1:${to.ports.streamer}`);
    await playable(to, id);
  }, 90_000);

  it("admission control: over the rate, agents are told RETRY_AFTER and come back later", async () => {
    const p = await serverPorts();
    const server = track(await startStreamer({
      roles: ["endpoint", "streamer"], pki, ports: p, tokens: ["t6", "t7"],
      admission: { rate: 0.5, burst: 1, retry_ms: 1500 },
    }));
    // Agent A takes the endpoint's only burst token; B, right behind it, is turned away.
    track(await startAgent({ pki, endpoints: [`127.0.0.1:${p.endpoint}`], targets: cameraTargets(cam), token: "t6", name: "agent-a" }));
    const b = track(await startAgent({ pki, endpoints: [`127.0.0.1:${p.endpoint}`], targets: cameraTargets(cam), token: "t7", ready: /asks to retry after \d+ ms/, name: "agent-b" }));
    await b.proc.waitForLine(/session live at streamer/, { timeoutMs: 30_000 });
    const metrics = await (await fetch(`http://127.0.0.1:${p.admin}/metrics`)).text();
    expect(Number(/flussonic_endpoint_admission_rejects_total (\d+)/.exec(metrics)![1])).toBeGreaterThan(0);
    const retry = Number(/asks to retry after (\d+) ms/.exec(b.proc.output())![1]);
    expect(retry).toBeGreaterThanOrEqual(750); // 1500 ms ± 50 %
    expect(retry).toBeLessThanOrEqual(2250);
  }, 90_000);
});

/** TCP proxy to `port`; blackhole() stops forwarding without closing anything. */
async function blackholeProxy(port: number) {
  let holed = false;
  const socks: net.Socket[] = [];
  const srv = net.createServer((c) => {
    const up = net.connect(port, "127.0.0.1");
    socks.push(c, up);
    c.on("data", (d) => !holed && up.write(d));
    up.on("data", (d) => !holed && c.write(d));
    c.on("error", () => {});
    up.on("error", () => {});
    c.on("close", () => !holed && up.destroy());
    up.on("close", () => !holed && c.destroy());
  });
  const listen = await freePort();
  await new Promise<void>((r) => srv.listen(listen, "127.0.0.1", r));
  return {
    port: listen,
    blackhole: () => (holed = true),
    stop: async () => {
      socks.forEach((s) => s.destroy());
      await new Promise((r) => srv.close(r));
    },
  };
}
