// Activation and relay through the real system: GStreamer camera ← agent ← TLS → streamer ← ffmpeg/curl.
import { existsSync, readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import type { Camera } from "../../../testkit/camera";
import { comparePackets, framemd5, slowReader, startPull } from "../../../testkit/ffmpeg";
import { useRelaySystem } from "../../../testkit/vitest";
import { VIEWER, type AgentProc, type StreamerProc } from "../../../testkit/system";

let cam: Camera, server: StreamerProc, agent: AgentProc, id: string;
useRelaySystem(["token-relay-1"], (s) => ({ cam, server, agent, id } = s));
const basic = "Basic " + Buffer.from(`${VIEWER.name}:${VIEWER.password}`).toString("base64");

describe("activation", () => {
  it("first boot: token → device id and key stored atomically, agent online at the streamer", async () => {
    const st = JSON.parse(readFileSync(agent.stateFile, "utf8"));
    expect(st.device_id).toMatch(/^cam-[0-9a-f]{12}$/);
    expect(st.key).toMatch(/^[0-9a-f]{64}$/);
    expect(st.streamer).toBe(`127.0.0.1:${server.ports.streamer}`);
    expect(existsSync(agent.stateFile.replace(/state\.json$/, ".state.json.tmp"))).toBe(false);
    const devs = await server.devices();
    expect(devs).toEqual([expect.objectContaining({ id, state: "online" })]);
    // the key never appears in logs
    expect(agent.proc.output()).not.toContain(st.key);
    expect(server.proc.output()).not.toContain(st.key);
  });
});

describe("relay", () => {
  it("ffmpeg through the tunnel gets the same packets as pulling the camera directly", async () => {
    const [direct, tunneled] = await Promise.all([
      framemd5(cam.rtspUrl("stream1"), { timeoutMs: 40_000 }),
      framemd5(server.rtspUrl(id), { timeoutMs: 40_000 }),
    ]);
    const r = comparePackets(direct, tunneled, { minPackets: 150, sameLength: true });
    expect(r.ok, r.message).toBe(true);
  }, 60_000);

  it("snapshot is byte-identical to the camera's JPEG", async () => {
    const res = await fetch(server.httpUrl(id, "snapshot.jpg"), { headers: { authorization: basic } });
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toBe("image/jpeg");
    expect(Buffer.from(await res.arrayBuffer()).equals(cam.jpeg)).toBe(true);
  });

  it("backchannel audio reaches the camera's /play_audio", async () => {
    const pcm = Buffer.alloc(100_000);
    for (let i = 0; i < pcm.length; i++) pcm[i] = (i * 7) & 0xff;
    const res = await fetch(server.httpUrl(id, "audio"), {
      method: "POST", body: pcm, headers: { authorization: basic, "content-type": "audio/pcma" },
    });
    expect(res.status).toBe(200);
    expect((await cam.audioReceived()).equals(pcm)).toBe(true);
  });

  it("two clients at once; a paused client does not stall the other", async () => {
    // Viewer 1 PLAYs the long clip and then stops reading its socket.
    const paused = await slowReader(server.rtspUrl(id, "long"), { timeoutMs: 20_000 });
    expect(paused.isPaused()).toBe(true);
    const live = await startPull(server.rtspUrl(id, "long"));
    // Viewer 2 keeps getting frames while viewer 1 is stalled (and the direct pull agrees).
    // The first relay test's shared source of /stream1 closes close_after (10 s) after its viewer left;
    // a fresh one starts at the clip's beginning, so this pull matches a direct one packet for packet.
    await server.proc.waitForLine(/source .*\/stream1: closed/, { timeoutMs: 30_000 });
    const [direct, second] = await Promise.all([
      framemd5(cam.rtspUrl("stream1"), { timeoutMs: 40_000 }),
      framemd5(server.rtspUrl(id), { timeoutMs: 40_000 }),
    ]);
    expect(comparePackets(direct, second, { minPackets: 150, sameLength: true }).ok).toBe(true);
    expect(live.packets().length).toBeGreaterThan(100);
    // Both viewers of /long share one camera session: one tunnel stream per camera path, not per viewer.
    const devs = await server.devices();
    expect(devs[0].streams).toBeLessThanOrEqual(2);
    // The paused viewer is held to the streamer's per-viewer queue bound plus socket buffers.
    expect(paused.bytes()).toBeLessThan(2 * 1024 * 1024);
    paused.close();
    await live.stop();
  }, 120_000);
});
