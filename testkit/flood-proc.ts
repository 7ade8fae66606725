// Connection floods (conn-flood.ts) in a child process of their own: at 2,000 connections per
// listener, five listeners, refilled as the server closes them and trickled every second, the
// flood costs a core's worth of event loop. Inside the test process it would delay its own
// timestamps (a close seen late looks like a server timeout missed) and the test's viewer and
// probes; in a child, its lag is measured and reported beside the figures it qualifies.
//
//   const fp = await startFloodProc([{ port, count: 2000, slowloris: SLOW.rtsp, refill: true }, …]);
//   const { summaries, lag } = await fp.summary();   // one FloodSummary per flood, in order
//   await fp.stop();
import { fork, type ChildProcess } from "node:child_process";
import { buildSync } from "esbuild";
import { rmSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import type { FloodOptions, FloodSummary } from "./conn-flood";
import { tempDir } from "./procs";

export type FloodProcRequest = "summary" | "stop";
export interface FloodLag {
  /** The flood process's event-loop delay since every flood was open: how late its timestamps may be. */
  maxMs: number;
  p99Ms: number;
}
export type FloodProcMessage =
  | { kind: "ready"; openMs: number }
  | { kind: "summary"; summaries: FloodSummary[]; lag: FloodLag; cpuMs: { user: number; system: number } }
  | { kind: "error"; message: string };

export interface FloodProc {
  /** Time the child took to open every flood. */
  openMs: number;
  summary(): Promise<{ summaries: FloodSummary[]; lag: FloodLag; cpuMs: { user: number; system: number } }>;
  /** Destroys every connection and ends the child. Idempotent. */
  stop(): Promise<void>;
}

const here = dirname(fileURLToPath(import.meta.url));

export async function startFloodProc(floods: FloodOptions[], opts: { readyTimeoutMs?: number } = {}): Promise<FloodProc> {
  const dir = tempDir("fa-flood-");
  const script = join(dir, "conn-flood-worker.mjs");
  buildSync({ entryPoints: [join(here, "conn-flood-worker.ts")], bundle: true, platform: "node", format: "esm", target: "node20", outfile: script, logLevel: "error" });
  // Buffers (SLOW payloads) travel as base64.
  const wire = floods.map((f) => ({ ...f, slowloris: f.slowloris?.toString("base64") }));
  const child: ChildProcess = fork(script, [JSON.stringify({ floods: wire })], { execArgv: [], stdio: ["ignore", "inherit", "inherit", "ipc"] });
  const exited = new Promise<void>((r) => child.once("exit", () => r()));
  let pending: ((m: FloodProcMessage) => void) | null = null;
  let failure: string | null = null;
  child.on("message", (m: FloodProcMessage) => {
    if (m.kind === "error") failure = m.message;
    const p = pending;
    pending = null;
    p?.(m);
  });
  child.once("exit", (code, sig) => {
    failure ??= `flood process exited (${code ?? sig})`;
    const p = pending;
    pending = null;
    p?.({ kind: "error", message: failure });
  });
  const next = (timeoutMs: number) => new Promise<FloodProcMessage>((resolve, reject) => {
    const t = setTimeout(() => reject(new Error(`flood process: no answer within ${timeoutMs} ms`)), timeoutMs);
    pending = (m) => (clearTimeout(t), resolve(m));
  });
  let stopped = false;
  const stop = async () => {
    if (stopped) return;
    stopped = true;
    if (child.connected) child.send("stop");
    const killer = setTimeout(() => child.kill("SIGKILL"), 5000);
    if (child.exitCode === null && child.signalCode === null) await exited;
    clearTimeout(killer);
    rmSync(dir, { recursive: true, force: true });
  };
  const ready = await next(opts.readyTimeoutMs ?? 120_000).catch(async (e) => (await stop(), Promise.reject(e)));
  if (ready.kind !== "ready") {
    await stop();
    throw new Error(`flood process: ${failure ?? JSON.stringify(ready)}`);
  }
  return {
    openMs: ready.openMs,
    summary: async () => {
      if (!child.connected) throw new Error(`flood process: ${failure ?? "gone"}`);
      const answer = next(30_000);
      child.send("summary");
      const m = await answer;
      if (m.kind !== "summary") throw new Error(`flood process: ${failure ?? JSON.stringify(m)}`);
      return { summaries: m.summaries, lag: m.lag, cpuMs: m.cpuMs };
    },
    stop,
  };
}
