// The esbuild agent payload runs inside QuickJS (quickjs-emscripten, WebAssembly), with its
// Platform bridged to real Node sockets: it activates against a real flussonic-streamer (endpoint
// and streamer roles) over real TLS with a CA made here, then relays RTSP and a snapshot from the
// real third-party camera. Proof that the bundle needs nothing from Node.
import { execFile } from "node:child_process";
import { existsSync, mkdirSync, readFileSync, readdirSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { NodePlatform, makeLogger } from "../src/platform/node";
import { startCamera, type Camera } from "../../testkit/camera";
import { REPO_ROOT } from "../../testkit/paths";
import { comparePackets, framemd5 } from "../../testkit/ffmpeg";
import { BUNDLE, TEST_RECONNECT, VIEWER, cameraTargets, makePki, startStreamer, type Pki, type StreamerProc } from "../../testkit/system";
import { startBridgedAgent, type BridgedAgent } from "../../testkit/qjs-bridge";
import { tempDir } from "../../testkit/procs";

const BRIDGE_BUNDLE = join(BUNDLE, "agent-bridge.js");
const FRAMES = 100;
const TOKEN = "qjs-bridge-activation-token-1";
/** Also valid at the endpoint: an agent that skipped certificate checks would activate with it. */
const SPARE_TOKEN = "qjs-bridge-activation-token-2";

/** `make test-core` builds the bundles first; by hand, build them here when missing or older than the sources. */
async function ensureBundles(): Promise<void> {
  const newestSource = (dir: string): number =>
    Math.max(...readdirSync(dir, { withFileTypes: true, recursive: true })
      .filter((e) => e.isFile() && e.name.endsWith(".ts"))
      .map((e) => statSync(join(e.parentPath ?? (e as unknown as { path: string }).path, e.name)).mtimeMs));
  const built = (f: string) => (existsSync(f) ? statSync(f).mtimeMs : 0);
  const src = newestSource(join(REPO_ROOT, "agent-src/src"));
  if (built(BRIDGE_BUNDLE) >= src && built(join(BUNDLE, "streamer.cjs")) >= src) return;
  await promisify(execFile)(process.execPath, [join(REPO_ROOT, "agent-src/build.mjs"), BUNDLE], { timeout: 60_000 });
}

let tmp: string;
let pki: Pki;
let cam: Camera;
let srv: StreamerProc;
let agent: BridgedAgent | undefined;
let deviceId: string;
const agentLog: string[] = [];

/** An agent.json for the QuickJS agent, in its own directory under tmp. */
function agentConfig(name: string, o: { caFile: string; token: string }): { file: string; stateFile: string } {
  const dir = join(tmp, name);
  mkdirSync(dir);
  writeFileSync(join(dir, "token"), o.token + "\n");
  const stateFile = join(dir, "state", "state.json");
  const file = join(dir, "agent.json");
  writeFileSync(file, JSON.stringify({
    endpoints: [`127.0.0.1:${srv.ports.endpoint}`],
    ca_file: o.caFile,
    activation_token_file: join(dir, "token"),
    state_file: stateFile,
    targets: cameraTargets(cam),
    log_level: "debug",
    reconnect: TEST_RECONNECT,
  }));
  return { file, stateFile };
}

beforeAll(async () => {
  tmp = tempDir("fa-qjs-bridge-");
  pki = makePki();
  [, cam] = await Promise.all([ensureBundles(), startCamera()]);
  srv = await startStreamer({ roles: ["endpoint", "streamer"], pki, tokens: [TOKEN, SPARE_TOKEN], name: "streamer" });
}, 90_000); // a first run on a fresh machine also generates the camera media

afterAll(async () => {
  agent?.dispose();
  await Promise.all([srv?.stop(), cam?.stop()]);
});

describe("agent bundle inside quickjs-emscripten", () => {
  it("is one file with no Node imports", () => {
    const code = readFileSync(BRIDGE_BUNDLE, "utf8");
    expect(code).not.toMatch(/\brequire\s*\(/);
    expect(code).not.toMatch(/["'`]node:/);
    expect(code).not.toMatch(/^\s*(import|export)\b/m);
    expect(code).not.toMatch(/\b(process|Buffer|TextEncoder|TextDecoder)\s*\./);
    // The other bundles name Node built-ins, so the checks above would catch them.
    expect(readFileSync(join(BUNDLE, "agent-node.mjs"), "utf8")).toMatch(/from "node:/);
  });

  it("runs the same CLI: --version prints and exits 0, a bad config exits 2 naming the field", async () => {
    const code = readFileSync(BRIDGE_BUNDLE, "utf8");
    const platform = new NodePlatform(makeLogger("agent-qjs-cli", "error", () => {}));
    const version = await startBridgedAgent(code, { argv: ["--version"], platform, arch: "wasm32-test" });
    try {
      expect(version.exitCode()).toBe(0);
      expect(version.out[0]).toMatch(/^flussonic-agent \S+ \(protocol \d+, wasm32-test\)$/);
    } finally {
      version.dispose();
    }
    const bad = join(tmp, "bad-agent.json");
    writeFileSync(bad, JSON.stringify({ endpoints: ["127.0.0.1:1"], ca_file: pki.caFile, targets: { rtsp: "nowhere" } }));
    const invalid = await startBridgedAgent(code, { argv: ["--config", bad], platform });
    try {
      expect(invalid.exitCode()).toBe(2);
      expect(invalid.logs.join("\n")).toMatch(/config error: field "targets\.rtsp"/);
      expect(invalid.guestErrors).toEqual([]);
    } finally {
      invalid.dispose();
    }
  });

  it("activates at the endpoint over verified TLS and goes live at the streamer", async () => {
    const cfg = agentConfig("agent", { caFile: pki.caFile, token: TOKEN });
    const host = new NodePlatform(makeLogger("agent-qjs", "warn"));
    agent = await startBridgedAgent(readFileSync(BRIDGE_BUNDLE, "utf8"), {
      argv: ["--config", cfg.file],
      platform: host,
      arch: "quickjs-emscripten-wasm32",
      onLog: (l) => {
        agentLog.push(l);
        if (process.env.QJS_BRIDGE_ECHO) process.stderr.write(`[agent-qjs] ${l}\n`);
      },
    });
    const activated = await agent.waitForLog(/activated as device (\S+); streamer (\S+)/, 15_000);
    deviceId = activated[1];
    const streamerAddr = `127.0.0.1:${srv.ports.streamer}`;
    expect(activated[2]).toBe(streamerAddr);
    await agent.waitForLog(new RegExp(`session live at streamer ${streamerAddr.replace(/\./g, "\\.")}`), 15_000);

    // Server's view: the endpoint activated this device, the streamer sees it online.
    await srv.proc.waitForLine(new RegExp(`activated ${deviceId} .*agent \\S+ quickjs-emscripten-wasm32`), { timeoutMs: 5000 });
    await srv.proc.waitForLine(new RegExp(`device ${deviceId} online`), { timeoutMs: 5000 });
    // The identity went to disk through the bridge's writeFileAtomic.
    const state = JSON.parse(readFileSync(cfg.stateFile, "utf8"));
    expect(state).toMatchObject({ device_id: deviceId, streamer: streamerAddr });
    expect(state.key).toMatch(/^[0-9a-f]{64}$/);
    expect(agent.guestErrors).toEqual([]);
    expect(agent.exitCode()).toBeNull();
  }, 40_000);

  it("relays RTSP: ffmpeg through the tunnel gets the same packets as a direct pull", async () => {
    expect(deviceId, "activation test must pass first").toBeTruthy();
    const viaAgent = srv.rtspUrl(deviceId, "stream1");
    expect(viaAgent).toContain(`${VIEWER.name}:${VIEWER.password}@`);
    const t0 = Date.now();
    // The camera serves every client the clip from its first frame, so both pulls can run at once.
    const [direct, tunnelled] = await Promise.all([
      framemd5(cam.rtspUrl("stream1"), { frames: FRAMES, timeoutMs: 25_000 }),
      framemd5(viaAgent, { frames: FRAMES, timeoutMs: 25_000 }),
    ]);
    const r = comparePackets(direct, tunnelled, { minPackets: FRAMES, sameLength: true });
    expect(r.ok, r.message).toBe(true);
    expect(agent!.guestErrors).toEqual([]);
    const s = agent!.stats;
    console.log(
      `[qjs-bridge] ${FRAMES} packets in ${Date.now() - t0} ms; bridge so far: ${s.events} events, ` +
      `${(s.bytesIn / 1024).toFixed(0)} KiB in, ${(s.bytesOut / 1024).toFixed(0)} KiB out, ` +
      `${s.guestMs.toFixed(0)} ms inside QuickJS, heap ${(agent!.memoryUsed() / 1024).toFixed(0)} KiB (peak ${(s.peakHeapBytes / 1024).toFixed(0)} KiB)`,
    );
  }, 40_000);

  it("relays the snapshot byte for byte", async () => {
    expect(deviceId, "activation test must pass first").toBeTruthy();
    const auth = "Basic " + Buffer.from(`${VIEWER.name}:${VIEWER.password}`).toString("base64");
    const res = await fetch(srv.httpUrl(deviceId, "snapshot.jpg"), {
      headers: { authorization: auth }, signal: AbortSignal.timeout(10_000),
    });
    expect(res.status).toBe(200);
    const body = Buffer.from(await res.arrayBuffer());
    expect(body.length).toBe(cam.jpeg.length);
    expect(body.equals(cam.jpeg)).toBe(true);
  }, 20_000);

  it("refuses an endpoint whose certificate does not lead to its CA (TLS options cross the bridge)", async () => {
    const cfg = agentConfig("agent-wrong-ca", { caFile: pki.otherCaFile, token: SPARE_TOKEN });
    const activations = () => srv.proc.lines().filter((l) => / activated /.test(l)).length;
    const activationsBefore = activations();
    const wrong = await startBridgedAgent(readFileSync(BRIDGE_BUNDLE, "utf8"), {
      argv: ["--config", cfg.file],
      platform: new NodePlatform(makeLogger("agent-qjs-wrong-ca", "error")),
    });
    try {
      const m = await wrong.waitForLog(/WARN cannot connect to endpoint 127\.0\.0\.1:\d+: (.*)/, 10_000);
      expect(m[1]).toMatch(/certificate|verify|self.signed/i);
      expect(existsSync(cfg.stateFile)).toBe(false);
      expect(wrong.logs.some((l) => /activated|session live/.test(l))).toBe(false);
      expect(activations()).toBe(activationsBefore);
      expect(wrong.guestErrors).toEqual([]);
    } finally {
      wrong.dispose();
    }
  }, 20_000);

  it("kept a small heap without a single exception escaping the guest", () => {
    expect(agent).toBeDefined();
    expect(agent!.guestErrors).toEqual([]);
    expect(agent!.exitCode()).toBeNull();
    // Measured about 0.3 MiB: the relay buffers are bounded, so a few MiB means something accumulates.
    expect(agent!.stats.peakHeapBytes).toBeGreaterThan(0);
    expect(agent!.stats.peakHeapBytes).toBeLessThan(4 * 1024 * 1024);
    expect(agent!.memoryUsed()).toBeLessThan(4 * 1024 * 1024);
    expect(agentLog.filter((l) => l.startsWith("ERROR"))).toEqual([]);
  });
});
