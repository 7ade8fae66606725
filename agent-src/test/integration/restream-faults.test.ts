// The shared source when its camera or its agent goes away, with real processes on 127.0.0.1:
// GStreamer camera ← tap ← agent ← TLS → streamer ← ffmpeg. Apart from restream.test.ts because these
// two exercise the agent (it loses its camera connection and dials again; it is killed), so
// test-native reruns them with the static agent, while the rest of restreaming is the streamer's.
import { describe, expect, it, beforeAll, afterAll } from "vitest";
import { startCamera, type Camera } from "../../../testkit/camera";
import { startPull } from "../../../testkit/ffmpeg";
import { startTap, type Tap } from "../../../testkit/tap";
import { makePki, startAgent, startStreamer, type AgentProc, type Pki, type StreamerProc } from "../../../testkit/system";

const MEDIA = { close_after_ms: 1500, source_timeout_ms: 8000, viewer_queue_bytes: 256 * 1024 };
let pki: Pki, cam: Camera, tap: Tap, server: StreamerProc, agent: AgentProc, id: string;

beforeAll(async () => {
  pki = makePki();
  cam = await startCamera();
  tap = await startTap(cam.rtspPort);
  server = await startStreamer({ roles: ["endpoint", "streamer"], pki, tokens: ["tok-restream"], streamerSettings: { media: MEDIA } });
  agent = await startAgent({ pki, endpoints: [`127.0.0.1:${server.ports.endpoint}`], targets: { rtsp: `127.0.0.1:${tap.port}`, http: `127.0.0.1:${cam.httpPort}` }, token: "tok-restream" });
  id = agent.deviceId()!;
}, 90_000);
afterAll(async () => {
  await agent?.stop();
  await server?.stop();
  await tap?.stop();
  await cam?.stop();
});

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe("faults", () => {
  it("camera RTSP server restarted mid-play: the viewer keeps playing after the gap", async () => {
    const live = await startPull(server.rtspUrl(id, "long"));
    await live.waitForPackets(25, 20_000);
    const port = cam.rtspPort;
    await cam.stop();
    await sleep(1000);
    cam = await startCamera({ rtspPort: port });
    const n = live.packets().length;
    await live.waitForPackets(n + 50, 15_000);
    expect(live.proc.exit()).toBeNull();
    await server.proc.waitForLine(/camera session back after \d+ ms/, { timeoutMs: 1000 });
    await live.stop();
  }, 60_000);

  it("agent killed: viewers get a clean end within source_timeout, not a hang", async () => {
    const live = await startPull(server.rtspUrl(id, "long"));
    await live.waitForPackets(10, 20_000);
    const t = Date.now();
    agent.proc.signal("SIGKILL");
    const e = await Promise.race([live.proc.exited, sleep(MEDIA.source_timeout_ms + 5000).then(() => null)]);
    expect(e, "ffmpeg still waiting").not.toBeNull();
    console.log(`viewer ended ${Date.now() - t} ms after the agent was killed`);
    await server.proc.waitForLine(/camera unavailable for 8000 ms/, { timeoutMs: 1000 });
  }, 40_000);
});
