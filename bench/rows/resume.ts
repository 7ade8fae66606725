// A storm of reconnecting agents (every link dropped at once, as a network blip does), streamer
// CPU from the drop until all are back: agents that resume their TLS session (ticket) against the
// same fleet doing full ECDHE handshakes. The streamer keeps running (its ticket keys live in the
// process), so this is the blip case; after a streamer restart every agent does a full handshake
// (the storm row).
//
// The swarm speaks TLS 1.2, as the camera agent does (tls.c): a resumed 1.2 session skips ECDHE
// and the certificate, a resumed 1.3 one (Node's default, psk_dhe_ke) still does ECDHE. The figure
// is the storm's own CPU: the CPU the same 1000 live links cost while idle (keepalives) over a
// window as long is measured just before the drop and subtracted. Next to it, in the same run, the
// floor: a do-nothing Node TLS server's CPU per connection, full vs resumed (lib/tls-floor.ts).
import { makePki } from "../../testkit/system";
import { cpuSeconds, portsBelowEphemeral, sleep, startBenchStreamer } from "../lib/common";
import { ratioOf, type BenchOptions, type Row } from "../lib/row";
import { DEFAULTS as AGENT_DEFAULTS } from "../../agent-src/src/agent/config";
import { startSwarm } from "../lib/swarm-client";
import { tlsFloor } from "../lib/tls-floor";

interface BlipResult { backS: number | null; streamerCpuS: number; idleCpuS: number; stormCpuS: number; attempts: number; resumed: number; back: number }

const TLS_VERSION = "TLSv1.2";

async function blip(o: BenchOptions, resume: boolean): Promise<BlipResult> {
  const n = o.tiny ? 40 : 1000;
  const pki = makePki();
  const p = await portsBelowEphemeral();
  // Admission control off (a bucket no storm drains): it tells the faster, resumed fleet to retry
  // more often, which would compare a different number of attempts. The storm row measures it.
  const st = await startBenchStreamer({ pki, ports: p, admission: { rate: 1_000_000, burst: 1_000_000, retry_ms: 5000 } });
  const swarm = await startSwarm({
    n, children: o.tiny ? 1 : 2, prefix: `blip-${resume ? "r" : "f"}`, streamer: `127.0.0.1:${p.streamer}`,
    endpoint: `127.0.0.1:${p.endpoint}`, caFile: pki.caFile, resume, tlsMaxVersion: TLS_VERSION,
    reconnect: { base_ms: AGENT_DEFAULTS.reconnect.base_ms, cap_ms: AGENT_DEFAULTS.reconnect.cap_ms },
    rampMs: o.tiny ? 100 : 6000, maxMs: 300_000,
  });
  try {
    if (!(await swarm.waitLive(n, o.tiny ? 15_000 : 90_000))) throw new Error(`resume(${resume}): only ${swarm.stat().live}/${n} connected`);
    await sleep(2000); // the initial connects' admission tokens refill
    // The idle baseline: what the live links cost while nothing happens (keepalives, timers).
    // Not in tiny runs: 40 links idle for a moment are below the clock-tick resolution.
    let idlePerS = 0;
    if (!o.tiny) {
      const idle0 = cpuSeconds(st.proc.pid);
      await sleep(4000);
      idlePerS = (cpuSeconds(st.proc.pid) - idle0) / 4;
    }
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
    const idleCpuS = idlePerS * ((Date.now() - t0) / 1000);
    await sleep(600);
    const s = swarm.stat();
    return { backS, streamerCpuS: cpu, idleCpuS, stormCpuS: Math.max(0, cpu - idleCpuS), attempts: s.attempts - before.attempts, resumed: s.resumed - before.resumed, back: s.live };
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
  const floor = await tlsFloor(makePki(), o.tiny ? 100 : 1000, TLS_VERSION);
  o.log(`resume: bare Node TLS server ${JSON.stringify(floor)}`);
  const n = o.tiny ? 40 : 1000;
  const c = { value: res.stormCpuS, unit: "CPU s" }, cp = { value: full.stormCpuS, unit: "CPU s" };
  const ratio = ratioOf(c, cp);
  const perLink = (b: BlipResult) => ((b.stormCpuS * 1000) / Math.max(1, b.attempts)).toFixed(2);
  return [{
    id: "resume-cpu", figure: `${n} agents (TLS 1.2, as cameras), every link dropped at once: streamer CPU until all are back, idle baseline subtracted (TLS session resumed)`,
    ours: c, peerName: "same agents, full ECDHE handshake", peer: cp, ratio, goal: "≤ 0.5×", met: ratio === null ? null : ratio <= 0.5,
    notes: [`resumed ${res.resumed} of ${res.attempts} reconnects (full: ${full.resumed} of ${full.attempts}); all back after ${res.backS ?? "—"} s vs ${full.backS ?? "—"} s`,
      `measured ${res.streamerCpuS.toFixed(2)} vs ${full.streamerCpuS.toFixed(2)} CPU s, of which the live links' idle baseline ${res.idleCpuS.toFixed(2)} vs ${full.idleCpuS.toFixed(2)}; per reconnect ${perLink(res)} vs ${perLink(full)} ms`,
      `floor, same run: a do-nothing Node TLS server costs ${floor.resumedMsPerConn.toFixed(2)} ms per resumed connection vs ${floor.fullMsPerConn.toFixed(2)} full (${(floor.resumedMsPerConn / floor.fullMsPerConn).toFixed(2)}×, ${floor.resumed}/${floor.n} resumed)`,
      "streamer CPU includes AUTH (HMAC) and the session set-up on every link, resumed or not"],
    raw: { resumed: res, full, floor },
  }];
}
