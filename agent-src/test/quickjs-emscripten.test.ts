// The esbuild agent payload runs inside QuickJS (quickjs-emscripten, WebAssembly), with its
// Platform bridged to real Node sockets: it activates against a real flussonic-streamer (endpoint
// and streamer roles) over real TLS with a CA made here, then relays RTSP and a snapshot from the
// real third-party camera. Proof that the bundle needs nothing from Node.
import { execFile } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { readdirSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { NodePlatform, makeLogger } from "../src/platform/node";
import { REPO_ROOT, startCamera, type Camera } from "./harness/camera";
import { comparePackets, framemd5 } from "./harness/ffmpeg";
import { freePort, startProc, type Proc } from "./harness/procs";
import { startBridgedAgent, type BridgedAgent } from "./qjs-bridge/host";
import { makePki } from "./qjs-bridge/pki";

const BUNDLE_DIR = join(REPO_ROOT, "build/bundle");
const BRIDGE_BUNDLE = join(BUNDLE_DIR, "agent-bridge.js");
const STREAMER = join(BUNDLE_DIR, "streamer.cjs");
const VIEWER = { name: "viewer", password: "s3cret-pw" };
const FRAMES = 100;
/** Valid at the endpoint: an agent that skipped certificate checks would activate with it. */
const SPARE_TOKEN = "qjs-bridge-activation-token-2";

/** `make test-core` builds the bundles first; by hand, build them here when missing or older than the sources. */
async function ensureBundles(): Promise<void> {
  const newestSource = (dir: string): number =>
    Math.max(...readdirSync(dir, { withFileTypes: true, recursive: true })
      .filter((e) => e.isFile() && e.name.endsWith(".ts"))
      .map((e) => statSync(join(e.parentPath ?? (e as unknown as { path: string }).path, e.name)).mtimeMs));
  const built = (f: string) => (existsSync(f) ? statSync(f).mtimeMs : 0);
  const src = newestSource(join(REPO_ROOT, "agent-src/src"));
  if (built(BRIDGE_BUNDLE) >= src && built(STREAMER) >= src) return;
  await promisify(execFile)("node", [join(REPO_ROOT, "agent-src/build.mjs"), BUNDLE_DIR], { timeout: 60_000 });
}

let tmp: string;
let cam: Camera;
let streamer: Proc;
let agent: BridgedAgent | undefined;
let ports: { endpoint: number; link: number; rtsp: number; http: number };
let deviceId: string;
let stateFile: string;
const agentLog: string[] = [];

beforeAll(async () => {
  tmp = mkdtempSync(join(tmpdir(), "qjs-bridge-"));
  const [, pki, camera] = await Promise.all([ensureBundles(), makePki(tmp), startCamera()]);
  cam = camera;
  ports = { endpoint: await freePort(), link: await freePort(), rtsp: await freePort(), http: await freePort() };

  const token = "qjs-bridge-activation-token-1";
  writeFileSync(join(tmp, "tokens"), `${token}\n${SPARE_TOKEN}\n`);
  writeFileSync(join(tmp, "token"), token + "\n");
  writeFileSync(join(tmp, "cluster-secret"), "qjs-bridge cluster secret, test only, 48 characters\n");
  writeFileSync(join(tmp, "streamer.json"), JSON.stringify({
    tls: { cert_file: pki.certFile, key_file: pki.keyFile },
    cluster_secret_file: "cluster-secret",
    state_dir: "streamer-state",
    log_level: "info",
    admin_listen: null,
    endpoint: { listen: `127.0.0.1:${ports.endpoint}`, tokens_file: "tokens", streamers: [`127.0.0.1:${ports.link}`] },
    streamer: {
      listen: `127.0.0.1:${ports.link}`, rtsp_listen: `127.0.0.1:${ports.rtsp}`, http_listen: `127.0.0.1:${ports.http}`,
      viewers: [VIEWER],
    },
  }));
  stateFile = join(tmp, "agent-state", "state.json");
  writeFileSync(join(tmp, "agent.json"), JSON.stringify({
    endpoints: [`127.0.0.1:${ports.endpoint}`],
    ca_file: pki.caFile,
    activation_token_file: join(tmp, "token"),
    state_file: stateFile,
    targets: { rtsp: `127.0.0.1:${cam.rtspPort}`, http: `127.0.0.1:${cam.httpPort}` },
    log_level: "debug",
    reconnect: { base_ms: 200, cap_ms: 2000, stable_ms: 60_000 },
  }));
  streamer = await startProc("node", [STREAMER, "--config", join(tmp, "streamer.json")], {
    name: "streamer", cwd: tmp, ready: /flussonic-streamer \S+ ready/, timeoutMs: 15_000,
  });
}, 90_000); // a first run on a fresh machine also generates the camera media

afterAll(async () => {
  agent?.dispose();
  await Promise.all([streamer?.stop(), cam?.stop()]);
  if (tmp) rmSync(tmp, { recursive: true, force: true });
});

describe("agent bundle inside quickjs-emscripten", () => {
  it("is one file with no Node imports", () => {
    const code = readFileSync(BRIDGE_BUNDLE, "utf8");
    expect(code).not.toMatch(/\brequire\s*\(/);
    expect(code).not.toMatch(/["'`]node:/);
    expect(code).not.toMatch(/^\s*(import|export)\b/m);
    expect(code).not.toMatch(/\b(process|Buffer|TextEncoder|TextDecoder)\s*\./);
    // The other bundles name Node built-ins, so the checks above would catch them.
    expect(readFileSync(join(BUNDLE_DIR, "agent-node.mjs"), "utf8")).toMatch(/from "node:/);
  });

  it("activates at the endpoint over verified TLS and goes live at the streamer", async () => {
    const code = readFileSync(BRIDGE_BUNDLE, "utf8");
    const host = new NodePlatform(makeLogger("agent-qjs", "warn"));
    agent = await startBridgedAgent(code, {
      argv: ["--config", join(tmp, "agent.json")],
      platform: host,
      arch: "quickjs-emscripten-wasm32",
      onLog: (l) => agentLog.push(l),
    });
    const activated = await agent.waitForLog(/activated as device (\S+); streamer (\S+)/, 15_000);
    deviceId = activated[1];
    expect(activated[2]).toBe(`127.0.0.1:${ports.link}`);
    await agent.waitForLog(new RegExp(`session live at streamer 127\\.0\\.0\\.1:${ports.link}`), 15_000);

    // Server's view: the endpoint activated this device, the streamer sees it online.
    await streamer.waitForLine(new RegExp(`activated ${deviceId} .*agent \\S+ quickjs-emscripten-wasm32`), { timeoutMs: 5000 });
    await streamer.waitForLine(new RegExp(`device ${deviceId} online`), { timeoutMs: 5000 });
    // The identity went to disk through the bridge's writeFileAtomic.
    const state = JSON.parse(readFileSync(stateFile, "utf8"));
    expect(state).toMatchObject({ device_id: deviceId, streamer: `127.0.0.1:${ports.link}` });
    expect(state.key).toMatch(/^[0-9a-f]{64}$/);
    expect(agent.guestErrors).toEqual([]);
    expect(agent.exitCode()).toBeNull();
  }, 40_000);

  it("relays RTSP: ffmpeg through the tunnel gets the same packets as a direct pull", async () => {
    expect(deviceId, "activation test must pass first").toBeTruthy();
    const viaAgent = `rtsp://${VIEWER.name}:${VIEWER.password}@127.0.0.1:${ports.rtsp}/${deviceId}/stream1`;
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
      `${s.guestMs.toFixed(0)} ms inside QuickJS, heap ${(agent!.memoryUsed() / 1024).toFixed(0)} KiB`,
    );
  }, 40_000);

  it("relays the snapshot byte for byte", async () => {
    expect(deviceId, "activation test must pass first").toBeTruthy();
    const auth = "Basic " + Buffer.from(`${VIEWER.name}:${VIEWER.password}`).toString("base64");
    const res = await fetch(`http://127.0.0.1:${ports.http}/${deviceId}/snapshot.jpg`, {
      headers: { authorization: auth }, signal: AbortSignal.timeout(10_000),
    });
    expect(res.status).toBe(200);
    const body = Buffer.from(await res.arrayBuffer());
    expect(body.length).toBe(cam.jpeg.length);
    expect(body.equals(cam.jpeg)).toBe(true);
  }, 20_000);

  it("refuses an endpoint whose certificate does not lead to its CA (TLS options cross the bridge)", async () => {
    const other = join(tmp, "other-ca");
    mkdirSync(other);
    const wrongPki = await makePki(other);
    writeFileSync(join(other, "token"), SPARE_TOKEN + "\n");
    const cfg = JSON.parse(readFileSync(join(tmp, "agent.json"), "utf8"));
    const otherState = join(other, "state.json");
    writeFileSync(join(other, "agent.json"), JSON.stringify({
      ...cfg, ca_file: wrongPki.caFile, activation_token_file: join(other, "token"), state_file: otherState,
    }));
    const activations = () => streamer.lines().filter((l) => / activated /.test(l)).length;
    const activationsBefore = activations();
    const wrong = await startBridgedAgent(readFileSync(BRIDGE_BUNDLE, "utf8"), {
      argv: ["--config", join(other, "agent.json")],
      platform: new NodePlatform(makeLogger("agent-qjs-wrong-ca", "error")),
    });
    try {
      const m = await wrong.waitForLog(/WARN cannot connect to endpoint 127\.0\.0\.1:\d+: (.*)/, 10_000);
      expect(m[1]).toMatch(/certificate|verify|self.signed/i);
      expect(existsSync(otherState)).toBe(false);
      expect(wrong.logs.some((l) => /activated|session live/.test(l))).toBe(false);
      expect(activations()).toBe(activationsBefore);
      expect(wrong.guestErrors).toEqual([]);
    } finally {
      wrong.dispose();
    }
  }, 20_000);

  it("stayed within its heap limit without a single exception escaping the guest", () => {
    expect(agent).toBeDefined();
    expect(agent!.guestErrors).toEqual([]);
    expect(agent!.exitCode()).toBeNull();
    expect(agent!.memoryUsed()).toBeLessThan(16 * 1024 * 1024);
    expect(agentLog.filter((l) => l.startsWith("ERROR"))).toEqual([]);
  });
});
