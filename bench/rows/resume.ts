// A storm of reconnecting agents (every link dropped at once, as a network blip does), streamer
// CPU from the drop until all are back: agents that resume their TLS session (ticket) against the
// same fleet doing full ECDHE handshakes. The streamer keeps running (its ticket keys live in the
// process), so this is the blip case; after a streamer restart every agent does a full handshake
// (the storm row).
import { makePki } from "../../testkit/system";
import { cpuSeconds, portsBelowEphemeral, sleep, startBenchStreamer } from "../lib/common";
import { ratioOf, type BenchOptions, type Row } from "../lib/row";
import { DEFAULTS as AGENT_DEFAULTS } from "../../agent-src/src/agent/config";
import { startSwarm } from "../lib/swarm-client";

interface BlipResult { backS: number | null; streamerCpuS: number; attempts: number; resumed: number; back: number }

async function blip(o: BenchOptions, resume: boolean): Promise<BlipResult> {
  const n = o.tiny ? 40 : 1000;
  const pki = makePki();
  const p = await portsBelowEphemeral();
  const st = await startBenchStreamer({ pki, ports: p });
  const swarm = await startSwarm({
    n, children: o.tiny ? 1 : 2, prefix: `blip-${resume ? "r" : "f"}`, streamer: `127.0.0.1:${p.streamer}`,
    endpoint: `127.0.0.1:${p.endpoint}`, caFile: pki.caFile, resume,
    reconnect: { base_ms: AGENT_DEFAULTS.reconnect.base_ms, cap_ms: AGENT_DEFAULTS.reconnect.cap_ms },
    rampMs: o.tiny ? 100 : 6000, maxMs: 300_000,
  });
  try {
    if (!(await swarm.waitLive(n, o.tiny ? 15_000 : 90_000))) throw new Error(`resume(${resume}): only ${swarm.stat().live}/${n} connected`);
    await sleep(2000); // the initial connects' admission tokens refill
    const before = swarm.stat();
    const cpu0 = cpuSeconds(st.proc.pid);
    const t0 = Date.now();
    for (const c of swarm.procs) c.signal("SIGUSR2");
    // Wait for the drop to show, then for everyone to be back.
    while (Date.now() - t0 < 5000 && swarm.stat().live >= n) await sleep(50);
    let backS: number | null = null;
    while (Date.now() - t0 < 90_000) {
      await sleep(100);
      if (swarm.stat().live >= n) {
        backS = (Date.now() - t0) / 1000;
        break;
      }
    }
    const cpu = cpuSeconds(st.proc.pid) - cpu0;
    await sleep(600);
    const s = swarm.stat();
    return { backS, streamerCpuS: cpu, attempts: s.attempts - before.attempts, resumed: s.resumed - before.resumed, back: s.live };
  } finally {
    await swarm.stop();
    await st.proc.stop();
  }
}

export async function resumeStorm(o: BenchOptions): Promise<Row[]> {
  const full = await blip(o, false);
  o.log(`resume: full handshakes ${JSON.stringify(full)}`);
  const res = await blip(o, true);
  o.log(`resume: resumed ${JSON.stringify(res)}`);
  const n = o.tiny ? 40 : 1000;
  const c = { value: res.streamerCpuS, unit: "CPU s" }, cp = { value: full.streamerCpuS, unit: "CPU s" };
  const ratio = ratioOf(c, cp);
  return [{
    id: "resume-cpu", figure: `${n} agents, every link dropped at once: streamer CPU until all are back (TLS session resumed)`,
    ours: c, peerName: "same agents, full ECDHE handshake", peer: cp, ratio, goal: "≤ 0.5×", met: ratio === null ? null : ratio <= 0.5,
    notes: [`resumed ${res.resumed} of ${res.attempts} reconnects (full: ${full.resumed} of ${full.attempts}); all back after ${res.backS ?? "—"} s vs ${full.backS ?? "—"} s`,
      "streamer CPU includes AUTH (HMAC) and the session set-up on every link, resumed or not"],
    raw: { resumed: res, full },
  }];
}
