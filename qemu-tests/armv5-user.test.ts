/**
 * ARMv5 (ARM926EJ-S, e.g. Hi3518): no Debian kernel boots a QEMU ARM926 board, so this camera runs
 * as processes under `qemu-arm-static -cpu arm926`: the armel fake camera and the armel agent,
 * against the real streamer on 127.0.0.1 — same checks as the system-emulated cameras.
 */
import { ChildProcess, spawn } from "node:child_process";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { agentBinary, fakeCameraBinary, TEST_TOKEN } from "./lib/hardened.js";
import { buildFakeCamera, clipMd5s, FAKE_CAMERA_DIR, frameMd5s, JPEG } from "./lib/media.js";
import { qemuPki } from "./lib/pki.js";
import { freePort } from "./lib/qemu.js";
import { serverPorts, startStreamer, VIEWER, type StreamerProc } from "../testkit/streamer.js";
import { tempDir } from "../testkit/procs.js";
import { portOpen } from "./lib/telnet.js";

const ARM926 = ["qemu-arm-static", "-cpu", "arm926"];

describe("ARMv5 camera (ARM926 under qemu-user)", () => {
  let server: StreamerProc | undefined;
  const procs: ChildProcess[] = [];
  const logs: string[] = [];
  let deviceId = "";

  const run = (args: string[]) => {
    const p = spawn(ARM926[0], [...ARM926.slice(1), ...args], { stdio: ["ignore", "pipe", "pipe"] });
    const i = logs.push("") - 1;
    p.stdout!.on("data", (d) => (logs[i] += d));
    p.stderr!.on("data", (d) => (logs[i] += d));
    procs.push(p);
    return p;
  };

  beforeAll(async () => {
    await buildFakeCamera();
    const pki = qemuPki();
    server = await startStreamer({ logLevel: "info", readyTimeoutMs: 20_000, roles: ["endpoint", "streamer"], pki, ports: await serverPorts(), tokens: [TEST_TOKEN], name: "armv5" });
    const rtsp = await freePort();
    const http = await freePort();
    run([fakeCameraBinary("armel"), "--rtsp", String(rtsp), "--http", String(http), "--dir", join(FAKE_CAMERA_DIR, "media"), "--audio", "/dev/null"]);
    const dir = tempDir("fa-armv5-agent-");
    writeFileSync(join(dir, "token"), TEST_TOKEN + "\n");
    writeFileSync(join(dir, "agent.json"), JSON.stringify({
      endpoints: [`127.0.0.1:${server.ports.endpoint}`], ca_file: pki.caFile,
      activation_token_file: join(dir, "token"), state_file: join(dir, "state.json"),
      targets: { rtsp: `127.0.0.1:${rtsp}`, http: `127.0.0.1:${http}` },
    }));
    run([agentBinary("armel"), "--config", join(dir, "agent.json")]);
    for (let i = 0; i < 300 && !deviceId; i++) {
      deviceId = (await server.devices(3000).catch(() => [])).find((d) => d.state === "online")?.id ?? "";
      if (!deviceId) await new Promise((r) => setTimeout(r, 200));
    }
    if (!deviceId) throw new Error(`ARMv5 agent never came online:\n${logs.join("\n---\n")}\n${server.proc.output().slice(-2000)}`);
    // The agent can be online before the fake camera listens (it parses its clip in interpreted JS
    // under emulation first): a viewer then would get "connection refused" relayed, not video.
    let listening = false;
    for (let i = 0; i < 300 && !listening; i++) {
      listening = (await portOpen(rtsp, 50)) && (await portOpen(http, 50));
      if (!listening) await new Promise((r) => setTimeout(r, 200));
    }
    if (!listening) throw new Error(`ARMv5 fake camera never listened on ${rtsp}/${http}:\n${logs.join("\n---\n")}`);
  }, 120_000);
  afterAll(async () => {
    for (const p of procs) p.kill("SIGKILL");
    await server?.stop();
  });

  it("plays 100 frames identical to the clip through the tunnel", async () => {
    const url = `rtsp://${VIEWER.name}:${VIEWER.password}@127.0.0.1:${server!.ports.rtsp}/${deviceId}/stream1`;
    const got = await frameMd5s(url, 100, ["-rtsp_transport", "tcp"], 90_000);
    expect(got).toEqual(await clipMd5s(100));
  }, 120_000);

  it("serves the snapshot byte for byte", async () => {
    const res = await fetch(`http://127.0.0.1:${server!.ports.http}/${deviceId}/snapshot.jpg`, {
      headers: { authorization: "Basic " + Buffer.from(`${VIEWER.name}:${VIEWER.password}`).toString("base64") },
    });
    expect(res.status).toBe(200);
    expect(Buffer.from(await res.arrayBuffer())).toEqual(readFileSync(JPEG));
  }, 30_000);
});
