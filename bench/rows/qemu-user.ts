// The camera side under the same qemu-user (armhf): our static agent vs Debian's armhf `ssh -R`
// and `dbclient -R` (dynamic, run by qemu-arm-static from a sysroot of Debian armhf packages),
// each relaying its own 4 Mbit/s RTSP stream. CPU time of the emulated process per Mbit relayed,
// and its peak RSS (which under qemu-user includes QEMU's own memory: see the note).
//
// The three tunnels relay at the same time, and their CPU is read window by window (nanosecond
// schedstat) against the bytes each moved in that window: whatever else the shared machine does
// in a window, it does to all three. The row's ratio is the median of the per-window ratios; the
// spread (min–max) is in the notes. Run one after the other, the same figures moved ±20 % from run
// to run with the machine's load, more than the difference being measured.
import { execFileSync } from "node:child_process";
import { join } from "node:path";
import { startProc, type Proc } from "../../testkit/procs";
import { makePki } from "../../testkit/system";
import { BENCH_BUILD, helperPath, memKb, REPO_ROOT, startBenchStreamer, treeRunSeconds } from "../lib/common";
import { startFlood, startOurAgent } from "../lib/flows";
import { startReverseTunnel, startSshd } from "../lib/peers";
import { ratioOf, type BenchOptions, type Row } from "../lib/row";

export const AGENT_ARMHF = join(REPO_ROOT, "build/agent/armhf/flussonic-agent");
/** Diagnostics: BENCH_QEMU_AGENT=path runs another armhf agent build in this row (A/B). */
const agentArmhf = () => process.env.BENCH_QEMU_AGENT || AGENT_ARMHF;
const RATE = 4_000_000;
/** Diagnostics: BENCH_QEMU_WRAP='["strace","-f","-c","-o","/tmp/st-%s"]' prefixes each emulated
 *  client (%s: ours, ssh, dbclient), e.g. to count its system calls per Mbit. */
function wrap(name: string, argv: string[]): string[] {
  const w = process.env.BENCH_QEMU_WRAP;
  return w ? [...(JSON.parse(w) as string[]).map((x) => x.replace("%s", name)), ...argv] : argv;
}

const SIDES = ["ours", "ssh", "dbclient"] as const;
type SideName = (typeof SIDES)[number];
interface Window { cpuS: Record<SideName, number>; bytes: Record<SideName, number> }

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};
const msPerMbit = (cpuS: number, bytes: number) => (bytes > 0 ? (cpuS * 1000) / ((bytes * 8) / 1e6) : NaN);

/** One viewer per tunnel, all at once; CPU of each tunnel process sampled at every window's edge. */
async function measureWindows(urls: Record<SideName, string>, procs: Record<SideName, Proc>, windowMs: number, windows: number): Promise<Window[]> {
  const v = await startProc(process.execPath, [join(BENCH_BUILD, "viewers.mjs"),
    JSON.stringify({ urls: SIDES.map((s) => urls[s]), n: 1, warmupMs: 2000, durationMs: windowMs, windows })], { name: "viewers" });
  try {
    const out: Window[] = [];
    let after = 0;
    let prev: { cpu: number[]; bytes: number[] } | null = null;
    for (let i = 0; i <= windows; i++) {
      const m = await v.waitForLine(/^TICK (.*)|^RESULT (.*)/, { after, timeoutMs: windowMs + 40_000 });
      if (m[2] !== undefined) throw new Error(`viewers: ${m[2]}`);
      const cpu = SIDES.map((s) => treeRunSeconds(procs[s].pid));
      after = v.mark();
      const bytes = JSON.parse(m[1]) as number[];
      if (prev) {
        const p = prev;
        const pick = (xs: number[], ys: number[]) =>
          Object.fromEntries(SIDES.map((s, k) => [s, xs[k] - ys[k]])) as Record<SideName, number>;
        out.push({ cpuS: pick(cpu, p.cpu), bytes: pick(bytes, p.bytes) });
      }
      prev = { cpu, bytes };
    }
    return out;
  } finally {
    await v.stop();
  }
}

export async function qemuUserCamera(o: BenchOptions): Promise<Row[]> {
  const windowMs = o.tiny ? 1000 : 6000;
  const windows = o.tiny ? 2 : 10;
  const root = helperPath("bench/armhf-peers.sh");
  const pki = makePki();
  const cam = await startFlood({ bitsPerSec: RATE });
  const stops: (() => Promise<unknown>)[] = [() => cam.proc.stop()];
  try {
    const st = await startBenchStreamer({ pki });
    stops.push(() => st.proc.stop());
    const agent = await startOurAgent(pki, st, "qemu-cam", cam.port, wrap("ours", ["qemu-arm-static", agentArmhf()]));
    stops.push(() => agent.stop());
    const sd = await startSshd();
    stops.push(() => sd.proc.stop());
    const t = await startReverseTunnel(sd, cam.port, wrap("ssh", ["qemu-arm-static", "-L", root, join(root, "usr/bin/ssh")]), "armhf ssh -R");
    stops.push(() => t.proc.stop());
    // dbclient reads dropbear's key format; -y -y: accept the unknown host key without a file.
    const dbKey = `${sd.clientKey}.dropbear`;
    execFileSync("dropbearconvert", ["openssh", "dropbear", sd.clientKey, dbKey], { stdio: "ignore" });
    const dbArgs = (rp: number, camPort: number) => ["-N", "-T", "-y", "-y", "-i", dbKey, "-p", String(sd.port),
      "-R", `127.0.0.1:${rp}:127.0.0.1:${camPort}`, "root@127.0.0.1"];
    const d = await startReverseTunnel({ ...sd, clientArgs: dbArgs }, cam.port, wrap("dbclient", ["qemu-arm-static", "-L", root, join(root, "usr/bin/dbclient")]), "armhf dbclient -R");
    stops.push(() => d.proc.stop());

    const procs: Record<SideName, Proc> = { ours: agent, ssh: t.proc, dbclient: d.proc };
    const urls: Record<SideName, string> = {
      ours: st.rtspUrl("qemu-cam", "flood"), ssh: `rtsp://127.0.0.1:${t.port}/flood`, dbclient: `rtsp://127.0.0.1:${d.port}/flood`,
    };
    const ws = await measureWindows(urls, procs, windowMs, windows);
    const hwmKb = Object.fromEntries(SIDES.map((s) => [s, memKb(procs[s].pid).hwm])) as Record<SideName, number>;

    const total = (s: SideName) => {
      const cpuS = ws.reduce((a, w) => a + w.cpuS[s], 0);
      const bytes = ws.reduce((a, w) => a + w.bytes[s], 0);
      return { cpuMsPerMbit: msPerMbit(cpuS, bytes), mbitPerSec: (bytes * 8) / 1e6 / ((windowMs * ws.length) / 1000) };
    };
    const perWindow = (s: SideName) => ws.map((w) => msPerMbit(w.cpuS[s], w.bytes[s]));
    const sums = Object.fromEntries(SIDES.map((s) => [s, total(s)])) as Record<SideName, ReturnType<typeof total>>;
    const raw = {
      rateBitsPerSec: RATE, windowMs, windows: ws.length, msPerMbit: Object.fromEntries(SIDES.map((s) => [s, perWindow(s)])),
      total: sums, hwmKb,
    };
    o.log(`qemu-user: ${JSON.stringify({ total: sums, hwmKb })}`);
    const cpu = (s: SideName) => ({ value: sums[s].cpuMsPerMbit, unit: "CPU ms/Mbit", text: `${sums[s].mbitPerSec.toFixed(2)} Mbit/s` });
    const rows: Row[] = [];
    for (const [id, name] of [["ssh", "armhf ssh -R (OpenSSH 9.2, Debian)"], ["dbclient", "armhf dbclient -R (dropbear 2022.83, Debian)"]] as const) {
      const ratios = ws.map((w) => msPerMbit(w.cpuS.ours, w.bytes.ours) / msPerMbit(w.cpuS[id], w.bytes[id])).filter(Number.isFinite);
      const r = ratios.length ? median(ratios) : null;
      rows.push({
        id: `qemu-cpu-${id}`, figure: "agent CPU per Mbit relayed (4 Mbit/s RTSP), same qemu-arm-static, all three at once; ratio: median of windows",
        ours: cpu("ours"), peerName: name, peer: cpu(id), ratio: r, goal: "≤ 1.0×", met: r !== null && r <= 1.0,
        notes: [`ours/${id} over ${ratios.length} windows of ${windowMs / 1000} s: median ${r?.toFixed(2)}×, min ${Math.min(...ratios).toFixed(2)}×, max ${Math.max(...ratios).toFixed(2)}×; ratio of the totals ${(ratioOf(cpu("ours"), cpu(id)) ?? NaN).toFixed(2)}×`],
        raw: id === "ssh" ? raw : { ratios },
      });
    }
    const rss = (s: SideName) => ({ value: hwmKb[s] / 1024, unit: "MiB peak RSS" });
    rows.push({
      id: "qemu-rss", figure: "agent peak RSS relaying 4 Mbit/s — under qemu-user, INCLUDES QEMU's own memory", ours: rss("ours"),
      peerName: "armhf ssh -R under the same qemu-user", peer: rss("ssh"), ratio: ratioOf(rss("ours"), rss("ssh")), goal: "≤ 2 MB (in a qemu-system guest)", met: null,
      notes: [`qemu-user RSS = QEMU (translator, code cache, host libs) + the guest's pages; not the camera figure. dbclient under the same qemu: ${(hwmKb.dbclient / 1024).toFixed(1)} MiB. The in-guest figure needs a qemu-system image (qemu-tests/).`],
      raw: {},
    });
    return rows;
  } finally {
    for (const stop of stops.reverse()) await stop();
  }
}
