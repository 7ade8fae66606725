// Security properties with real processes: viewer authorisation, server pinning, replay and
// key misuse, the target allowlist against a hostile server, and garbage on the agent port.
import { execFileSync } from "node:child_process";
import * as net from "node:net";
import * as tls from "node:tls";
import { describe, expect, it } from "vitest";
import { FrameType } from "../../src/protocol/frame";
import type { Challenge, ErrorMsg, Reset } from "../../src/protocol/control";
import type { Camera } from "../../../testkit/camera";
import { framemd5, startPull } from "../../../testkit/ffmpeg";
import { authFor, deviceKeyFor, RawAgent, startFakeStreamer } from "../../../testkit/fake-server";
import { useRelaySystem } from "../../../testkit/vitest";
import { cameraTargets, SECRET, startAgent, VIEWER, type AgentProc, type Pki, type StreamerProc } from "../../../testkit/system";
import { BUNDLE } from "../../../testkit/system";
import { join } from "node:path";
import { tempDir } from "../../../testkit/procs";

let pki: Pki, cam: Camera, server: StreamerProc, agent: AgentProc, id: string;
useRelaySystem(["tok-a", "tok-pin", "tok-wrongca", "tok-wrongpin"], (s) => ({ pki, cam, server, agent, id } = s));

function signUrl(device: string, ttl: number): string {
  return execFileSync(process.execPath, [join(BUNDLE, "streamer.cjs"), "--config", server.configFile, "sign-url", device, String(ttl)], { encoding: "utf8" }).trim();
}

describe("viewers", () => {
  it("no credentials: the same 401 for a real device and a made-up one, over RTSP and HTTP", async () => {
    const real = await fetch(server.httpUrl(id, "snapshot.jpg"));
    const fake = await fetch(server.httpUrl("cam-000000000000", "snapshot.jpg"));
    expect([real.status, fake.status]).toEqual([401, 401]);
    expect(await real.text()).toBe(await fake.text());
    for (const dev of [id, "cam-000000000000"]) {
      await expect(framemd5(server.rtspUrl(dev, "stream1", false), { frames: 5, timeoutMs: 10_000 })).rejects.toThrow(/401/);
    }
    // Wrong password is no better.
    await expect(framemd5(`rtsp://${VIEWER.name}:wrong@127.0.0.1:${server.ports.rtsp}/${id}/stream1`, { frames: 5, timeoutMs: 10_000 }))
      .rejects.toThrow(/401/);
    // The full device list is only on the admin port (loopback); the viewer port's console API
    // (issue 14) lists an account's devices to its session only: without one, 401 and no ids.
    const list = await fetch(`http://127.0.0.1:${server.ports.http}/api/devices`);
    expect(list.status).toBe(401);
    expect(await list.text()).not.toContain(id);
  });

  it("signed URL tokens: valid works, expired or for another device gets 401", async () => {
    const good = signUrl(id, 60);
    const ok = await fetch(`${server.httpUrl(id, "snapshot.jpg")}?token=${good}`);
    expect(ok.status).toBe(200);
    expect(Buffer.from(await ok.arrayBuffer()).equals(cam.jpeg)).toBe(true);
    const pkts = await framemd5(`rtsp://127.0.0.1:${server.ports.rtsp}/${id}/stream1?token=${good}`, { frames: 10, timeoutMs: 20_000 });
    expect(pkts.length).toBeGreaterThanOrEqual(10);

    const expired = `${Math.floor(Date.now() / 1000) - 10}.${good.split(".")[1]}`;
    expect((await fetch(`${server.httpUrl(id, "snapshot.jpg")}?token=${expired}`)).status).toBe(401);
    const other = signUrl("cam-ffffffffffff", 60);
    expect((await fetch(`${server.httpUrl(id, "snapshot.jpg")}?token=${other}`)).status).toBe(401);
    await expect(framemd5(`rtsp://127.0.0.1:${server.ports.rtsp}/${id}/stream1?token=${expired}`, { frames: 5, timeoutMs: 10_000 }))
      .rejects.toThrow(/401/);
  }, 60_000);
});

describe("server authentication (pinning)", () => {
  it("an agent with the wrong CA refuses the server and never spends its token", async () => {
    const a = await startAgent({
      pki, endpoints: [`127.0.0.1:${server.ports.endpoint}`], targets: cameraTargets(cam), token: "tok-wrongca",
      tls: { ca_file: pki.otherCaFile }, ready: /cannot connect to endpoint .*(certificate|verify|issuer)/i, name: "agent-wrongca",
    });
    await a.stop();
    expect(a.deviceId()).toBeNull();
    // The token is still unused: an agent that trusts the right CA activates with it.
    const b = await startAgent({
      pki, endpoints: [`127.0.0.1:${server.ports.endpoint}`], targets: cameraTargets(cam), token: "tok-wrongca", name: "agent-rightca",
    });
    expect(b.deviceId()).toMatch(/^cam-/);
    await b.stop();
  }, 40_000);

  it("a wrong SPKI pin is refused; the right pin alone is accepted", async () => {
    const bad = await startAgent({
      pki, endpoints: [`127.0.0.1:${server.ports.endpoint}`], targets: cameraTargets(cam), token: "tok-wrongpin",
      tls: { spki_pins: [pki.otherPin] }, ready: /does not match any pinned SPKI/, name: "agent-wrongpin",
    });
    await bad.stop();
    expect(bad.deviceId()).toBeNull();
    const good = await startAgent({
      pki, endpoints: [`127.0.0.1:${server.ports.endpoint}`], targets: cameraTargets(cam), token: "tok-pin",
      tls: { spki_pins: [pki.serverPin] }, name: "agent-pin",
    });
    expect(good.deviceId()).toMatch(/^cam-/);
    await good.stop();
  }, 40_000);
});

describe("agent authentication", () => {
  async function challenge(deviceId: string) {
    const a = await RawAgent.connect(server.ports.streamer, pki.caPem);
    a.send(FrameType.HELLO, { proto: 1, agent: "raw", device_id: deviceId });
    const c = await a.next<Challenge>(FrameType.CHALLENGE);
    return { a, nonce: c!.nonce };
  }

  it("a correct AUTH is welcomed; the same AUTH replayed on a new connection is refused", async () => {
    const key = deviceKeyFor(SECRET, "cam-replay0001");
    const first = await challenge("cam-replay0001");
    const auth = authFor(key, "cam-replay0001", first.nonce);
    first.a.send(FrameType.AUTH, auth);
    expect(await first.a.next(FrameType.WELCOME)).toEqual({ device_id: "cam-replay0001" });
    first.a.close();

    const second = await challenge("cam-replay0001");
    expect(second.nonce).not.toBe(first.nonce);
    second.a.send(FrameType.AUTH, auth); // recorded from the first connection
    expect(await second.a.next<ErrorMsg>(FrameType.ERROR)).toMatchObject({ code: "auth" });
    expect(second.a.got(FrameType.WELCOME)).toEqual([]);
  });

  it("device A's key cannot log in as device B", async () => {
    const keyA = deviceKeyFor(SECRET, id);
    const { a, nonce } = await challenge("cam-bbbbbbbbbbbb");
    a.send(FrameType.AUTH, authFor(keyA, "cam-bbbbbbbbbbbb", nonce));
    expect(await a.next<ErrorMsg>(FrameType.ERROR)).toMatchObject({ code: "auth" });
    // nor claim B in AUTH after saying A in HELLO
    const c2 = await challenge(id);
    c2.a.send(FrameType.AUTH, authFor(keyA, "cam-bbbbbbbbbbbb", c2.nonce));
    expect(await c2.a.next<ErrorMsg>(FrameType.ERROR)).toMatchObject({ code: "auth" });
  });

  it("garbage on the agent port is dropped while other agents keep streaming", async () => {
    const pull = await startPull(server.rtspUrl(id, "long"));
    await pull.waitForPackets?.(20, 20_000);
    const before = pull.packets().length;
    // TLS garbage: valid TLS, invalid frames.
    for (let i = 0; i < 20; i++) {
      const s = tls.connect({ host: "127.0.0.1", port: server.ports.streamer, ca: pki.caPem });
      s.on("error", () => {});
      s.on("secureConnect", () => s.write(Buffer.from(Array.from({ length: 4096 }, (_, j) => (j * 31 + i) & 0xff))));
    }
    // An authenticated agent that turns hostile after the handshake.
    const key = deviceKeyFor(SECRET, "cam-garbage0001");
    const rogue = await RawAgent.connect(server.ports.streamer, pki.caPem);
    rogue.send(FrameType.HELLO, { proto: 1, agent: "rogue", device_id: "cam-garbage0001" });
    const ch = await rogue.next<Challenge>(FrameType.CHALLENGE);
    rogue.send(FrameType.AUTH, authFor(key, "cam-garbage0001", ch!.nonce));
    expect(await rogue.next(FrameType.WELCOME)).toBeTruthy();
    rogue.session.sendFrame(FrameType.DATA, 0, new Uint8Array(10)); // DATA on stream 0: protocol error
    expect(await rogue.next<ErrorMsg>(FrameType.ERROR)).toMatchObject({ code: "stream" });
    // Not even TLS.
    for (let i = 0; i < 20; i++) {
      const s = net.connect(server.ports.streamer, "127.0.0.1", () => s.end("GET / HTTP/1.0\r\n\r\n" + "\x00".repeat(1000)));
      s.on("error", () => {});
    }
    await new Promise((r) => setTimeout(r, 3000));
    expect(pull.packets().length).toBeGreaterThan(before + 40); // ~25 fps kept flowing
    expect(pull.proc.exit()).toBeNull();
    const metrics = await (await fetch(`http://127.0.0.1:${server.ports.admin}/metrics`)).text();
    expect(Number(/flussonic_streamer_protocol_errors_total (\d+)/.exec(metrics)![1])).toBeGreaterThanOrEqual(10);
    expect((await server.devices()).find((d) => d.id === id)!.state).toBe("online");
    await pull.stop();
  }, 60_000);
});

describe("hostile server", () => {
  it("OPEN of a target the agent's config does not name is refused and logged; a named one works", async () => {
    const results: Record<string, string> = {};
    const fake = await startFakeStreamer(pki, (s) => {
      s.sendControl(FrameType.WELCOME, { device_id: "cam-hostile" });
      for (const target of ["lan", "127.0.0.1:22", "http"]) {
        const st = s.openStream(target);
        st.onOpen = () => (results[target] = "opened");
        st.onClose = (r) => (results[target] ??= r ?? "closed");
      }
    });
    const { mkdirSync, writeFileSync } = await import("node:fs");
    const dir = tempDir("fa-hostile-");
    mkdirSync(join(dir, "state"));
    writeFileSync(join(dir, "state", "state.json"), JSON.stringify({ device_id: "cam-hostile", key: "00".repeat(32), endpoints: [fake.addr], streamer: fake.addr }));
    const a = await startAgent({ pki, dir, endpoints: [fake.addr], targets: cameraTargets(cam), name: "agent-hostile" });
    const until = Date.now() + 10_000;
    while (Object.keys(results).length < 3 && Date.now() < until) await new Promise((r) => setTimeout(r, 50));
    expect(results.lan).toMatch(/reset by peer: forbidden/);
    expect(results["127.0.0.1:22"]).toMatch(/reset by peer: forbidden/);
    expect(results.http).toBe("opened");
    expect(a.proc.output()).toMatch(/refused OPEN of stream \d+: target "lan" is not in this agent's config/);
    await a.stop();
    await fake.stop();
  }, 40_000);
});
