// Shared pieces of the bench rows: process CPU/memory from /proc, a quiet streamer, provisioned
// agent state (device keys derive from the cluster secret, so no activation round is needed).
import { createHmac } from "node:crypto";
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { isAbsolute, join } from "node:path";
import { execFileSync } from "node:child_process";
import { REPO_ROOT } from "../../testkit/camera";
import { startProc, type Proc } from "../../testkit/procs";
import { BUNDLE, ports, SECRET, VIEWER, type Pki, type ServerPorts } from "../../testkit/system";
import { cpuSeconds } from "../../testkit/proc-stats";

export { REPO_ROOT, BUNDLE, SECRET, VIEWER };
export { cpuSeconds, memKb } from "../../testkit/proc-stats";
export const BENCH_BUILD = join(REPO_ROOT, "build/bench");

/** A path a script printed: absolute, or relative to the repo. */
export const repoPath = (p: string) => (isAbsolute(p) ? p : join(REPO_ROOT, p));

/** Runs one of the bench's shell helpers and returns the last line it printed (a path). */
export function helperPath(script: string): string {
  return repoPath(execFileSync(join(REPO_ROOT, script), { encoding: "utf8" }).trim().split("\n").pop()!);
}

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

function ppidOf(pid: number): number {
  try {
    const s = readFileSync(`/proc/${pid}/stat`, "utf8");
    return Number(s.slice(s.lastIndexOf(")") + 2).split(" ")[1]);
  } catch {
    return -1;
  }
}

/** pid and all its live descendants. */
export function processTree(root: number): number[] {
  const all = readdirSync("/proc").filter((d) => /^\d+$/.test(d)).map(Number);
  const kids = new Map<number, number[]>();
  for (const p of all) {
    const pp = ppidOf(p);
    if (!kids.has(pp)) kids.set(pp, []);
    kids.get(pp)!.push(p);
  }
  const out: number[] = [];
  const walk = (p: number) => {
    out.push(p);
    for (const k of kids.get(p) ?? []) walk(k);
  };
  walk(root);
  return out;
}

/** CPU seconds of a process tree (live members plus what they reaped). */
export function treeCpuSeconds(root: number): number {
  return processTree(root).reduce((a, p) => a + cpuSeconds(p), 0);
}

export function deviceKeyHex(id: string): string {
  return createHmac("sha256", Buffer.from(SECRET)).update(`device-key\n${id}`).digest("hex");
}

export interface BenchStreamer {
  proc: Proc;
  ports: ServerPorts;
  dir: string;
  configFile: string;
  rtspUrl(deviceId: string, path: string): string;
  metrics(): Promise<Record<string, number>>;
  onlineCount(): Promise<number>;
}

export interface StreamerOpts {
  pki: Pki;
  ports?: ServerPorts;
  dir?: string;
  admission?: { rate: number; burst: number; retry_ms: number };
  /** Extra node flags, e.g. --cpu-prof. */
  nodeArgs?: string[];
}

/** flussonic-streamer (endpoint + streamer in one process, as on one box), logging warnings only:
 *  per-connection debug lines would be a large part of the CPU we are measuring. */
export async function startBenchStreamer(o: StreamerOpts): Promise<BenchStreamer> {
  const p = o.ports ?? (await ports());
  const dir = o.dir ?? mkdtempSync(join(tmpdir(), "fa-bench-streamer-"));
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, "secret"), SECRET + "\n");
  writeFileSync(join(dir, "tokens"), "\n");
  const admission = o.admission ? { admission: o.admission } : {};
  const cfg = {
    tls: { cert_file: o.pki.certFile, key_file: o.pki.keyFile },
    cluster_secret_file: "secret", state_dir: "state", log_level: "info",
    // Every simulated camera and viewer comes from 127.0.0.1 and one viewer account: the
    // per-address and per-viewer shares meant for the Internet would refuse the simulated fleet.
    limits: { agent_pending_per_ip: 1_000_000, viewer_connections_per_ip: 1_000_000, viewer_streams_per_device: 1024 },
    admin_listen: `127.0.0.1:${p.admin}`,
    endpoint: { listen: `127.0.0.1:${p.endpoint}`, tokens_file: "tokens", streamers: [`127.0.0.1:${p.streamer}`], ...admission },
    streamer: {
      listen: `127.0.0.1:${p.streamer}`, rtsp_listen: `127.0.0.1:${p.rtsp}`, http_listen: `127.0.0.1:${p.http}`,
      viewers: [VIEWER], ...admission,
    },
  };
  const configFile = join(dir, "streamer.json");
  writeFileSync(configFile, JSON.stringify(cfg, null, 1));
  const proc = await startProc(process.execPath, [...(o.nodeArgs ?? []), ...(process.env.BENCH_STREAMER_NODE_ARGS?.split(" ").filter(Boolean) ?? []), process.env.BENCH_STREAMER_JS ?? join(BUNDLE, "streamer.cjs"), "--config", configFile], {
    ready: /flussonic-streamer .* ready/, timeoutMs: 15_000, name: "streamer", cwd: dir,
  });
  const admin = `http://127.0.0.1:${p.admin}`;
  return {
    proc, ports: p, dir, configFile,
    rtspUrl: (id, path) => `rtsp://${VIEWER.name}:${VIEWER.password}@127.0.0.1:${p.rtsp}/${id}/${path}`,
    metrics: async () => {
      const text = await (await fetch(`${admin}/metrics`)).text();
      const out: Record<string, number> = {};
      for (const l of text.split("\n")) {
        const m = /^([a-z_]+)\s+([0-9.e+-]+)$/.exec(l);
        if (m) out[m[1]] = Number(m[2]);
      }
      return out;
    },
    onlineCount: async () => {
      const d = (await (await fetch(`${admin}/api/devices`)).json()) as { devices: { state: string }[] };
      return d.devices.filter((x) => x.state === "online").length;
    },
  };
}

export interface ProvisionedAgent {
  dir: string;
  configFile: string;
  deviceId: string;
}

/** Agent config + state of an already activated device that caches `streamer`. */
export function provisionAgent(pki: Pki, deviceId: string, endpoint: string, streamer: string,
  targets: Record<string, string>, extra: Record<string, unknown> = {}): ProvisionedAgent {
  const dir = mkdtempSync(join(tmpdir(), "fa-bench-agent-"));
  const stateFile = join(dir, "state.json");
  writeFileSync(stateFile, JSON.stringify({ device_id: deviceId, key: deviceKeyHex(deviceId), endpoints: [endpoint], streamer }) + "\n");
  const configFile = join(dir, "agent.json");
  writeFileSync(configFile, JSON.stringify({
    endpoints: [endpoint], ca_file: pki.caFile, state_file: stateFile, targets, log_level: "info", ...extra,
  }, null, 1));
  return { dir, configFile, deviceId };
}

export function percentile(xs: number[], p: number): number {
  const s = [...xs].sort((a, b) => a - b);
  if (!s.length) return NaN;
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))];
}

export function median(xs: number[]): number {
  return percentile(xs, 50);
}

/**
 * Listen ports below the kernel's ephemeral range. A streamer restarted on its old ports must not
 * find one of them taken as the source port of some client connection (1000 agents reconnecting
 * use thousands of ephemeral ports), so these never come from that range.
 */
export async function portsBelowEphemeral(): Promise<ServerPorts> {
  const [lo] = readFileSync("/proc/sys/net/ipv4/ip_local_port_range", "utf8").trim().split(/\s+/).map(Number);
  const floor = 10_000;
  const picked: number[] = [];
  for (let i = 0; picked.length < 5 && i < 200; i++) {
    const port = floor + Math.floor(Math.random() * Math.max(1, lo - floor));
    if (picked.includes(port)) continue;
    const free = await new Promise<boolean>((resolve) => {
      const srv = createServer();
      srv.once("error", () => resolve(false));
      srv.listen(port, "127.0.0.1", () => srv.close(() => resolve(true)));
    });
    if (free) picked.push(port);
  }
  if (picked.length < 5) throw new Error("no free ports below the ephemeral range");
  const [endpoint, streamer, rtsp, http, admin] = picked;
  return { endpoint, streamer, rtsp, http, admin };
}
