// The camera side under the same qemu-user (armhf): our static agent vs Debian's armhf `ssh -R`
// and `dbclient -R` (dynamic, run by qemu-arm-static from a sysroot of Debian armhf packages),
// each relaying the same 4 Mbit/s RTSP stream. CPU time of the emulated process per Mbit relayed,
// and its peak RSS (which under qemu-user includes QEMU's own memory: see the note).
import { execFileSync } from "node:child_process";
import { join } from "node:path";
import type { Proc } from "../../testkit/procs";
import { makePki } from "../../testkit/system";
import { helperPath, memKb, REPO_ROOT, startBenchStreamer, treeCpuSeconds } from "../lib/common";
import { cpuMsPerMbit, measureFlow, startFlood, startOurAgent, type Flow } from "../lib/flows";
import { startReverseTunnel, startSshd } from "../lib/peers";
import { ratioOf, type BenchOptions, type Row } from "../lib/row";

export const AGENT_ARMHF = join(REPO_ROOT, "build/agent/armhf/flussonic-agent");
const RATE = 4_000_000;
/** Diagnostics: BENCH_QEMU_WRAP='["strace","-f","-c","-o","/tmp/st-%s"]' prefixes each emulated
 *  client (%s: ours, ssh, dbclient), e.g. to count its system calls per Mbit. */
function wrap(name: string, argv: string[]): string[] {
  const w = process.env.BENCH_QEMU_WRAP;
  return w ? [...(JSON.parse(w) as string[]).map((x) => x.replace("%s", name)), ...argv] : argv;
}

interface Side { flow: Flow; cpuMsPerMbit: number; hwmKb: number }

/** Relays one paced stream through `proc`'s tunnel; samples the peak RSS at the end. */
async function side(url: string, proc: Proc, durationMs: number): Promise<Side> {
  const flow = await measureFlow([url], 1, durationMs, { client: () => treeCpuSeconds(proc.pid) });
  return { flow, cpuMsPerMbit: cpuMsPerMbit(flow.cpu.client, flow), hwmKb: memKb(proc.pid).hwm };
}

export async function qemuUserCamera(o: BenchOptions): Promise<Row[]> {
  const durationMs = o.tiny ? 2000 : 20_000;
  const root = helperPath("bench/armhf-peers.sh");
  const pki = makePki();
  const cam = await startFlood({ bitsPerSec: RATE });
  try {
    const st = await startBenchStreamer({ pki });
    let ours: Side;
    try {
      const agent = await startOurAgent(pki, st, "qemu-cam", cam.port, wrap("ours", ["qemu-arm-static", AGENT_ARMHF]));
      ours = await side(st.rtspUrl("qemu-cam", "flood"), agent, durationMs);
      await agent.stop();
    } finally {
      await st.proc.stop();
    }
    const sd = await startSshd();
    let ssh: Side, db: Side;
    try {
      const t = await startReverseTunnel(sd, cam.port, wrap("ssh", ["qemu-arm-static", "-L", root, join(root, "usr/bin/ssh")]), "armhf ssh -R");
      ssh = await side(`rtsp://127.0.0.1:${t.port}/flood`, t.proc, durationMs);
      await t.proc.stop();
      // dbclient reads dropbear's key format; -y -y: accept the unknown host key without a file.
      const dbKey = `${sd.clientKey}.dropbear`;
      execFileSync("dropbearconvert", ["openssh", "dropbear", sd.clientKey, dbKey], { stdio: "ignore" });
      const dbArgs = (rp: number, camPort: number) => ["-N", "-T", "-y", "-y", "-i", dbKey, "-p", String(sd.port),
        "-R", `127.0.0.1:${rp}:127.0.0.1:${camPort}`, "root@127.0.0.1"];
      const d = await startReverseTunnel({ ...sd, clientArgs: dbArgs }, cam.port, wrap("dbclient", ["qemu-arm-static", "-L", root, join(root, "usr/bin/dbclient")]), "armhf dbclient -R");
      db = await side(`rtsp://127.0.0.1:${d.port}/flood`, d.proc, durationMs);
      await d.proc.stop();
    } finally {
      await sd.proc.stop();
    }
    const raw = { rateBitsPerSec: RATE, durationMs, ours, ssh, dbclient: db };
    o.log(`qemu-user: ${JSON.stringify({ ours: [ours.cpuMsPerMbit, ours.hwmKb, ours.flow.mbitPerSec], ssh: [ssh.cpuMsPerMbit, ssh.hwmKb, ssh.flow.mbitPerSec], db: [db.cpuMsPerMbit, db.hwmKb, db.flow.mbitPerSec] })}`);
    const cpu = (s: Side) => ({ value: s.cpuMsPerMbit, unit: "CPU ms/Mbit", text: `${s.flow.mbitPerSec.toFixed(2)} Mbit/s` });
    const rss = (s: Side) => ({ value: s.hwmKb / 1024, unit: "MiB peak RSS" });
    const rows: Row[] = [];
    for (const [id, name, s] of [["ssh", "armhf ssh -R (OpenSSH 9.2, Debian)", ssh], ["dbclient", "armhf dbclient -R (dropbear 2022.83, Debian)", db]] as const) {
      const r = ratioOf(cpu(ours), cpu(s));
      rows.push({
        id: `qemu-cpu-${id}`, figure: "agent CPU per Mbit relayed (4 Mbit/s RTSP), same qemu-arm-static", ours: cpu(ours), peerName: name, peer: cpu(s),
        ratio: r, goal: "≤ 1.0×", met: r !== null && r <= 1.0, notes: [], raw: id === "ssh" ? raw : {},
      });
    }
    const rr = ratioOf(rss(ours), rss(ssh));
    rows.push({
      id: "qemu-rss", figure: "agent peak RSS relaying 4 Mbit/s — under qemu-user, INCLUDES QEMU's own memory", ours: rss(ours),
      peerName: "armhf ssh -R under the same qemu-user", peer: rss(ssh), ratio: rr, goal: "≤ 2 MB (in a qemu-system guest)", met: null,
      notes: [`qemu-user RSS = QEMU (translator, code cache, host libs) + the guest's pages; not the camera figure. dbclient under the same qemu: ${(db.hwmKb / 1024).toFixed(1)} MiB. The in-guest figure needs a qemu-system image (qemu-tests/).`],
      raw: {},
    });
    return rows;
  } finally {
    await cam.proc.stop();
  }
}
