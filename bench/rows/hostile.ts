// The native armhf agent (qemu-user) against a hostile server (the hostile-server suite's attacks,
// testkit/attacks.ts): its peak RSS under each attack vs the same agent idle, and
// its CPU while a server floods PINGs and reads the PONGs. Each measurement is a fresh agent
// process, so VmHWM is that attack's peak alone.
import { rmSync, writeFileSync } from "node:fs";
import { createServer, type AddressInfo, type Socket } from "node:net";
import { join } from "node:path";
import { FrameType } from "../../agent-src/src/protocol/frame";
import { DEFAULT_SESSION_OPTIONS } from "../../agent-src/src/protocol/session";
import { activatedAgentDir, HOSTILE_DEVICE, openResetFlood, pingFlood } from "../../testkit/attacks";
import { startFakeServer, type FakeScript } from "../../testkit/fake-server";
import { cpuSeconds, memKb } from "../../testkit/proc-stats";
import { startProc, type Proc } from "../../testkit/procs";
import { makePki, type Pki } from "../../testkit/system";
import { sleep } from "../lib/common";
import type { BenchOptions, Row } from "../lib/row";
import { AGENT_ARMHF } from "./qemu-user";

/**
 * PINGs per second in the CPU measurement (the server reads the PONGs): just under the rate at
 * which the agent drops the link as a flood, i.e. the most a server can make it work for PINGs.
 */
const PING_RATE = Math.floor(DEFAULT_SESSION_OPTIONS.pingFloodPerSecond * 0.9);

interface Attacked {
  proc: Proc;
  stop(): Promise<void>;
}

/** A fake streamer running `script`, and the native agent connected to it (camera target: `camPort`). */
async function attacked(pki: Pki, script: FakeScript, camPort: number, extra: Record<string, unknown> = {}): Promise<Attacked> {
  const srv = await startFakeServer(pki, script);
  const dir = activatedAgentDir(srv.addr);
  const configFile = join(dir, "agent.json");
  writeFileSync(configFile, JSON.stringify({
    endpoints: [srv.addr], ca_file: pki.caFile, state_file: join(dir, "state", "state.json"),
    targets: { rtsp: `127.0.0.1:${camPort}` }, log_level: "warn", ...extra,
  }));
  const proc = await startProc("qemu-arm-static", [AGENT_ARMHF, "--config", configFile, "--log-level", "info"], {
    name: "hostile-agent", ready: /session live at streamer/, timeoutMs: 30_000,
  });
  return {
    proc,
    stop: async () => {
      await proc.stop();
      await srv.stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** Accepts and holds connections, like a camera whose RTSP server says nothing first. */
async function holdingCamera() {
  const socks = new Set<Socket>();
  const srv = createServer((c) => {
    socks.add(c);
    c.on("error", () => {});
    c.on("close", () => socks.delete(c));
  });
  await new Promise<void>((r) => srv.listen(0, "127.0.0.1", r));
  return {
    port: (srv.address() as AddressInfo).port,
    stop: async () => {
      socks.forEach((s) => s.destroy());
      await new Promise((r) => srv.close(r));
    },
  };
}

async function until(cond: () => boolean, timeoutMs: number): Promise<boolean> {
  const end = Date.now() + timeoutMs;
  while (!cond() && Date.now() < end) await sleep(50);
  return cond();
}

export async function hostileServer(o: BenchOptions): Promise<Row[]> {
  const pki = makePki();
  const cam = await holdingCamera();
  const notes: string[] = [];
  try {
    // Idle: live, nothing asked.
    const idleAgent = await attacked(pki, { onAuth: (l) => l.session.sendControl(FrameType.WELCOME, { device_id: HOSTILE_DEVICE }) }, cam.port);
    await sleep(o.tiny ? 1000 : 3000);
    const idle = memKb(idleAgent.proc.pid);
    await idleAgent.stop();

    // OPEN + immediate RESET flood, then one stream that stays.
    const n = o.tiny ? 500 : 10_000;
    const opens = openResetFlood(n);
    const openAgent = await attacked(pki, opens.script, cam.port);
    const openedInTime = await until(opens.opened, o.tiny ? 20_000 : 60_000);
    const openPeak = memKb(openAgent.proc.pid).hwm;
    await openAgent.stop();
    if (!openedInTime) notes.push(`OPEN/RESET flood: the agent did not accept a stream afterwards in time`);

    // PING flood with the server not reading (keepalive 0.5 s / 2 s: a non-reading peer is dropped soon).
    const noRead = pingFlood({
      readAgent: false, perSecond: 400_000, maxBytes: o.tiny ? 300_000 : 6_000_000, durationMs: o.tiny ? 2000 : 15_000, startAfterMs: 500,
    });
    const pingAgent = await attacked(pki, noRead.script, cam.port, { keepalive: { ping_interval_ms: 500, idle_timeout_ms: 2000 } });
    await until(noRead.done, o.tiny ? 10_000 : 30_000);
    // "Sent" is what the fake handed its socket; the agent works through it later: wait until it
    // dropped the link, or long enough for the PONGs of all of it to pile up.
    await until(() => /link to streamer .* closed/.test(pingAgent.proc.output()), o.tiny ? 3000 : 30_000);
    const pingPeak = memKb(pingAgent.proc.pid).hwm;
    const linkDropped = /link to streamer .* closed/.test(pingAgent.proc.output());
    await pingAgent.stop();
    notes.push(`PING flood, server not reading: ${(noRead.sent() / 1e6).toFixed(1)} MB of PINGs sent, link ${linkDropped ? "dropped" : "NOT dropped"} by the agent`);

    // CPU under a steady PING flood the server reads.
    const seconds = o.tiny ? 2 : 10;
    const steady = pingFlood({ readAgent: true, perSecond: PING_RATE, maxBytes: Infinity, durationMs: seconds * 1000, startAfterMs: 1000 });
    const cpuAgent = await attacked(pki, steady.script, cam.port);
    await sleep(1000);
    const c0 = cpuSeconds(cpuAgent.proc.pid);
    const t0 = Date.now();
    await until(steady.done, seconds * 1000 + 10_000);
    const cpuShare = (cpuSeconds(cpuAgent.proc.pid) - c0) / ((Date.now() - t0) / 1000);
    const pingsPerSec = steady.sent() / 20 / ((Date.now() - t0) / 1000);
    await cpuAgent.stop();

    const worst = Math.max(openPeak, pingPeak);
    const worstName = openPeak >= pingPeak ? `${n} OPEN+RESET` : "PING flood, server not reading";
    const ratio = worst / idle.hwm;
    o.log(`hostile: idle hwm ${idle.hwm} KiB, OPEN/RESET ${openPeak}, PING no-read ${pingPeak}, CPU ${(cpuShare * 100).toFixed(1)} % at ${pingsPerSec.toFixed(0)} PING/s`);
    const raw = { idleRssKb: idle.rss, idleHwmKb: idle.hwm, openResetHwmKb: openPeak, pingNoReadHwmKb: pingPeak, pingBytes: noRead.sent(), linkDropped, cpuShare, pingsPerSec, n };
    return [
      {
        id: "hostile-rss", figure: "native armhf agent peak RSS under the worst hostile-server attack (qemu-user, includes QEMU)",
        ours: { value: worst / 1024, unit: "MiB", text: worstName },
        peerName: "the same agent idle", peer: { value: idle.hwm / 1024, unit: "MiB" }, ratio,
        // Not met while a non-reading server keeps the link: its PONGs are still piling up.
        goal: "≤ 1.5× idle, link dropped", met: ratio <= 1.5 && linkDropped,
        notes: [...notes, `peaks: OPEN/RESET ${(openPeak / 1024).toFixed(1)} MiB, PING flood not read ${(pingPeak / 1024).toFixed(1)} MiB; under qemu-user RSS includes QEMU's own memory (translator, code cache), so the ratio understates the growth of the agent's own heap`],
        raw,
      },
      {
        id: "hostile-cpu", figure: `native armhf agent CPU while a server sends ${PING_RATE} PINGs/s and reads the PONGs (qemu-user)`,
        ours: { value: cpuShare * 100, unit: "% of a core", text: `${pingsPerSec.toFixed(0)} PING/s delivered` },
        peerName: "—", peer: null, ratio: null, goal: "≤ 10 % of a core", met: cpuShare <= 0.1,
        notes: [
          `above ${DEFAULT_SESSION_OPTIONS.pingFloodPerSecond} PINGs/s the agent drops the link as a flood; it answers at most ${DEFAULT_SESSION_OPTIONS.pongsPerSecond} per second`,
          "qemu-user CPU time: translation overhead included, a real ARM core differs",
        ], raw: {},
      },
    ];
  } finally {
    await cam.stop();
  }
}
