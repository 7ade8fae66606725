// Shared pieces of the bench rows: process CPU/memory from /proc, a quiet streamer, provisioned
// agent state (device keys derive from the cluster secret, so no activation round is needed).
import { createHmac } from "node:crypto";
import { readdirSync, readFileSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { isAbsolute, join } from "node:path";
import { execFileSync } from "node:child_process";
import { BUNDLE, REPO_ROOT } from "../../testkit/paths";
import { tempDir } from "../../testkit/procs";
import { cpuSeconds } from "../../testkit/proc-stats";
import { SECRET, startStreamer, type ServerPorts, type StreamerOptions, type StreamerProc } from "../../testkit/streamer";
import type { Pki } from "../../testkit/system";

export { REPO_ROOT, BUNDLE };
export { cpuSeconds, memKb, threadCpuSeconds } from "../../testkit/proc-stats";
export const BENCH_BUILD = join(REPO_ROOT, "build/bench");

/** A path a script printed: absolute, or relative to the repo. */
const repoPath = (p: string) => (isAbsolute(p) ? p : join(REPO_ROOT, p));

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
function processTree(root: number): number[] {
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

/** On-CPU seconds of a process tree's live threads, to the nanosecond (/proc/<pid>/task/<tid>/
 *  schedstat): fine enough for windows of a few seconds at a few % of a core, where utime/stime's
 *  10 ms ticks would be a 5 % step. What dead members used is not counted. */
export function treeRunSeconds(root: number): number {
  let ns = 0;
  for (const pid of processTree(root)) {
    let tids: string[];
    try {
      tids = readdirSync(`/proc/${pid}/task`);
    } catch {
      continue;
    }
    for (const tid of tids) {
      try {
        ns += Number(readFileSync(`/proc/${pid}/task/${tid}/schedstat`, "utf8").split(" ")[0]);
      } catch {
        // the thread is gone
      }
    }
  }
  return ns / 1e9;
}

/** CPU seconds of a process tree (live members plus what they reaped). */
export function treeCpuSeconds(root: number): number {
  return processTree(root).reduce((a, p) => a + cpuSeconds(p), 0);
}

export function deviceKeyHex(id: string): string {
  return createHmac("sha256", Buffer.from(SECRET)).update(`device-key\n${id}`).digest("hex");
}

export type BenchStreamer = StreamerProc;

/** flussonic-streamer (endpoint + streamer in one process, as on one box), logging warnings only:
 *  per-connection debug lines would be a large part of the CPU we are measuring. */
export async function startBenchStreamer(o: Pick<StreamerOptions, "pki" | "ports" | "dir" | "admission" | "nodeArgs" | "streamerSettings" | "limits">): Promise<BenchStreamer> {
  return startStreamer({
    ...o, roles: ["endpoint", "streamer"], logLevel: "info", name: "streamer",
    // Every simulated camera and viewer comes from 127.0.0.1 and one viewer account: the
    // per-address and per-viewer shares meant for the Internet would refuse the simulated fleet.
    limits: { agent_pending_per_ip: 1_000_000, viewer_connections_per_ip: 1_000_000, viewer_streams_per_device: 1024, ...o.limits },
    nodeArgs: [...(o.nodeArgs ?? []), ...(process.env.BENCH_STREAMER_NODE_ARGS?.split(" ").filter(Boolean) ?? [])],
    script: process.env.BENCH_STREAMER_JS,
  });
}

export interface ProvisionedAgent {
  dir: string;
  configFile: string;
  deviceId: string;
}

/** Agent config + state of an already activated device that caches `streamer`. */
export function provisionAgent(pki: Pki, deviceId: string, endpoint: string, streamer: string,
  targets: Record<string, string>, extra: Record<string, unknown> = {}): ProvisionedAgent {
  const dir = tempDir("fa-bench-agent-");
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
