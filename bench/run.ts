// make bench: every row of bench/README.md's table, ours and the peer's from the same run.
//   node build/bench/run.mjs [--tiny] [--only id,id] [--out DIR]
// Prints the table; writes DIR/<date>-<host>.json (figures + raw numbers) and .md (the table).
import { mkdirSync, writeFileSync } from "node:fs";
import { cpus, hostname, totalmem } from "node:os";
import { join } from "node:path";
import { execFileSync } from "node:child_process";
import { cleanup } from "../testkit/procs";
import { REPO_ROOT } from "./lib/common";
import { fmt, type BenchOptions, type Row } from "./lib/row";
import { idleAgents } from "./rows/idle";
import { reconnectStorm } from "./rows/storm";
import { resumeStorm } from "./rows/resume";
import { rtspRtt } from "./rows/rtt";
import { oneStreamThroughput } from "./rows/throughput";
import { serverCpuPerGbit } from "./rows/cpu-gbit";
import { qemuUserCamera } from "./rows/qemu-user";
import { sizes } from "./rows/size";
import { guestRss } from "./rows/guest-rss";
import { hostileServer } from "./rows/hostile";
import { hlsBrowser } from "./rows/hls";
import { restream } from "./rows/restream";
import { recordOneCamera } from "./rows/record";
import { armv5Handshake } from "./rows/handshake-armv5";

type RowFn = (o: BenchOptions) => Promise<Row | Row[]>;
const ROWS: [string, RowFn][] = [
  ["size", sizes],
  ["idle", idleAgents],
  ["storm", reconnectStorm],
  ["resume", resumeStorm],
  ["armv5-handshake", armv5Handshake],
  ["rtt", rtspRtt],
  ["throughput", oneStreamThroughput],
  ["cpu-gbit", serverCpuPerGbit],
  ["qemu-user", qemuUserCamera],
  ["guest-rss", guestRss],
  ["hostile", hostileServer],
  ["hls", hlsBrowser],
  ["restream", restream],
  ["record", recordOneCamera],
];

function arg(name: string): string | undefined {
  const i = process.argv.indexOf(name);
  return i >= 0 ? process.argv[i + 1] : undefined;
}

function machine(): Record<string, string> {
  const sh = (c: string, a: string[]) => {
    try {
      return execFileSync(c, a, { encoding: "utf8" }).trim();
    } catch {
      return "?";
    }
  };
  return {
    host: hostname(), cpu: `${cpus().length} × ${cpus()[0]?.model ?? "?"}`, memory: `${(totalmem() / 2 ** 30).toFixed(1)} GiB`,
    kernel: sh("uname", ["-r"]), os: sh("sh", ["-c", ". /etc/os-release && echo $PRETTY_NAME"]), node: process.version,
    commit: sh("git", ["-C", REPO_ROOT, "rev-parse", "--short", "HEAD"]),
  };
}

export function table(rows: Row[]): string {
  const lines = ["| figure | ours | peer | peer figure | ours/peer | goal | met |", "|---|---|---|---|---|---|---|"];
  for (const r of rows) {
    lines.push(`| ${r.figure} | ${fmt(r.ours)} | ${r.peerName} | ${fmt(r.peer)} | ${r.ratio === null ? "—" : r.ratio.toFixed(2) + "×"} | ${r.goal} | ${r.met === null ? "—" : r.met ? "yes" : "**no**"} |`);
  }
  return lines.join("\n");
}

async function main() {
  const tiny = process.argv.includes("--tiny");
  const only = arg("--only")?.split(",");
  const out = arg("--out") ?? join(REPO_ROOT, tiny ? "build/bench/results" : "bench/results");
  const o: BenchOptions = { tiny, log: (m) => process.stderr.write(`[bench] ${m}\n`) };
  const rows: Row[] = [];
  const errors: string[] = [];
  const started = new Date();
  for (const [id, fn] of ROWS) {
    if (only && !only.includes(id)) continue;
    const t = Date.now();
    o.log(`${id}: start`);
    try {
      const r = await fn(o);
      rows.push(...(Array.isArray(r) ? r : [r]));
    } catch (e) {
      errors.push(`${id}: ${(e as Error).stack ?? e}`);
      o.log(`${id}: FAILED: ${(e as Error).message}`);
    } finally {
      await cleanup();
    }
    o.log(`${id}: ${((Date.now() - t) / 1000).toFixed(1)} s`);
  }
  const md = table(rows);
  const notes = rows.flatMap((r) => r.notes.map((n) => `- ${r.id}: ${n}`));
  process.stdout.write(`\n${md}\n\n${notes.join("\n")}\n`);
  if (errors.length) process.stdout.write(`\nFAILED rows:\n${errors.join("\n")}\n`);
  mkdirSync(out, { recursive: true });
  const stamp = started.toISOString().replace(/[:]/g, "").replace(/\..*/, "Z");
  const base = join(out, `${stamp}${tiny ? "-tiny" : ""}`);
  const m = machine();
  writeFileSync(`${base}.json`, JSON.stringify({ started: started.toISOString(), finished: new Date().toISOString(), tiny, machine: m, command: process.argv.slice(2).join(" "), rows, errors }, null, 1) + "\n");
  writeFileSync(`${base}.md`, `# bench ${started.toISOString()}${tiny ? " (tiny: not meaningful)" : ""}\n\nMachine: ${Object.entries(m).map(([k, v]) => `${k} ${v}`).join("; ")}\n\n${md}\n\n${notes.join("\n")}\n`);
  process.stdout.write(`\nresults: ${base}.json\n`);
  process.exit(errors.length ? 1 : 0);
}

main().catch((e) => {
  process.stderr.write(`${(e as Error).stack ?? e}\n`);
  process.exit(1);
});
