// Throughput of one stream, native, TLS on: viewer → streamer → TLS → agent (Node) → camera, vs
// the same camera behind a stunnel pair, a socat (OpenSSL) pair and a plain Node TLS pair. The camera sends as fast as
// the path takes it (flood-camera); ours and stunnel in alternating pairs of short flows. Beside it,
// one flow each: when built (make bench builds it), the camera's own agent — QuickJS + mbedTLS +
// the C relay pump — compiled for this x86-64 machine, the socat pair, and the stunnel pair written
// the plain Node way (bench/node-tls-pair.ts: the floor of any Node relay, ours included).
import { existsSync } from "node:fs";
import { join } from "node:path";
import { makePki } from "../../testkit/system";
import { REPO_ROOT, startBenchStreamer } from "../lib/common";
import { FLOOD_STREAMER_SETTINGS, type Flow, measureOurFlow, measurePairFlow, slowViewerLines, startFlood, startNodeTlsPair, startOurAgent, startSocatPair, startStunnelPair } from "../lib/flows";
import type { BenchOptions, Row } from "../lib/row";

/** Several flows as one: their bytes, seconds and CPU added up. */
function pooled(flows: Flow[]): Flow {
  const bytes = flows.reduce((a, f) => a + f.bytes, 0);
  const seconds = flows.reduce((a, f) => a + f.seconds, 0);
  const cpu: Record<string, number> = {};
  for (const f of flows) for (const [k, v] of Object.entries(f.cpu)) cpu[k] = (cpu[k] ?? 0) + v;
  return { bytes, seconds, mbitPerSec: (bytes * 8) / seconds / 1e6, cpu };
}

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};

export async function oneStreamThroughput(o: BenchOptions): Promise<Row> {
  const durationMs = o.tiny ? 1500 : 10_000;
  // Ours and stunnel in alternating short flows, the ratio taken per pair: this shared machine's
  // speed drifts by more than the gap being measured within a minute (one 10 s flow each, one
  // after the other, gave 0.51–0.79× for the same code), and a pair sees the same machine.
  const rounds = o.tiny ? 1 : 5;
  const roundMs = o.tiny ? 1500 : 3000;
  const pki = makePki();
  const cam = await startFlood();
  const st = await startBenchStreamer({ pki, streamerSettings: FLOOD_STREAMER_SETTINGS });
  try {
    const stn = await startStunnelPair(pki, cam.port);
    const oursRuns: Flow[] = [];
    const stunnelRuns: Flow[] = [];
    // The agent is stopped after each of its flows: the streamer keeps a source open for a while
    // after its last viewer, and that flood would run beside the stunnel flow that follows.
    const measureOurs = async () => {
      const agent = await startOurAgent(pki, st, "tput-cam", cam.port);
      oursRuns.push(await measureOurFlow(st, agent, "tput-cam", cam.proc.pid, roundMs));
      await agent.stop();
    };
    const measureStunnel = async () => void stunnelRuns.push(await measurePairFlow(stn, cam.proc.pid, roundMs));
    for (let r = 0; r < rounds; r++) {
      // Each goes first in every other round, so a machine speeding up or slowing down favours neither.
      if (r % 2 === 0) await measureOurs().then(measureStunnel);
      else await measureStunnel().then(measureOurs);
    }
    await Promise.all(stn.procs.map((p) => p.stop()));
    const ours = pooled(oursRuns);
    const stunnel = pooled(stunnelRuns);
    const pairRatios = oursRuns.map((f, i) => f.mbitPerSec / stunnelRuns[i].mbitPerSec);
    const ratio = median(pairRatios);
    const nativeBin = join(REPO_ROOT, "build/host/x86_64/flussonic-agent");
    let native: Flow | null = null;
    if (existsSync(nativeBin)) {
      const na = await startOurAgent(pki, st, "tput-native", cam.port, [nativeBin]);
      native = await measureOurFlow(st, na, "tput-native", cam.proc.pid, durationMs);
      await na.stop();
    }
    const onePairFlow = async (start: typeof startSocatPair) => {
      const pair = await start(pki, cam.port);
      const flow = await measurePairFlow(pair, cam.proc.pid, durationMs);
      await Promise.all(pair.procs.map((p) => p.stop()));
      return flow;
    };
    const socat = await onePairFlow(startSocatPair);
    const nodePair = await onePairFlow(startNodeTlsPair);
    o.log(`throughput: ours ${ours.mbitPerSec.toFixed(0)} Mbit/s ${JSON.stringify(ours.cpu)}, native agent ${native ? `${native.mbitPerSec.toFixed(0)} ${JSON.stringify(native.cpu)}` : "not built"}, stunnel ${stunnel.mbitPerSec.toFixed(0)} ${JSON.stringify(stunnel.cpu)}, socat ${socat.mbitPerSec.toFixed(0)} ${JSON.stringify(socat.cpu)}, node pair ${nodePair.mbitPerSec.toFixed(0)} ${JSON.stringify(nodePair.cpu)}`);
    const f = (x: { mbitPerSec: number }) => ({ value: x.mbitPerSec, unit: "Mbit/s" });
    const cpuShare = (x: { cpu: Record<string, number>; seconds: number }) => Object.entries(x.cpu).map(([k, v]) => `${k} ${((v / x.seconds) * 100).toFixed(0)} %`).join(", ");
    return {
      id: "throughput", figure: "one stream, native, TLS on: throughput", ours: f(ours), peerName: "stunnel pair", peer: f(stunnel),
      ratio, goal: "≥ 0.8× stunnel", met: ratio >= 0.8,
      notes: [...slowViewerLines(st.proc.output()).map((l) => `the streamer dropped the viewer, so this run's figure is not the path's: ${l}`),
        `${rounds} alternating pair${rounds > 1 ? "s" : ""} of ${roundMs / 1000} s flows; ours/stunnel per pair ${pairRatios.map((x) => x.toFixed(2)).join(", ")}: the ratio is their median (pooled rates: ${(ours.mbitPerSec / stunnel.mbitPerSec).toFixed(2)}×); ours ${oursRuns.map((x) => x.mbitPerSec.toFixed(0)).join(", ")}, stunnel ${stunnelRuns.map((x) => x.mbitPerSec.toFixed(0)).join(", ")} Mbit/s`,
        native
          ? `the camera's agent (C relay pump, mbedTLS, built for x86-64; ChaCha20-Poly1305 as cameras choose): ${native.mbitPerSec.toFixed(0)} Mbit/s (${(native.mbitPerSec / stunnel.mbitPerSec).toFixed(2)}× stunnel; the goal is judged on the Node agent above); CPU ${cpuShare(native)}`
          : "the camera's agent built for x86-64 (build/host/x86_64/flussonic-agent) was not built: not measured",
        `socat (OpenSSL) pair: ${socat.mbitPerSec.toFixed(0)} Mbit/s (ours/socat ${(ours.mbitPerSec / socat.mbitPerSec).toFixed(2)}×)`,
        `plain Node TLS pair (tls + net + pipe, what any Node relay costs): ${nodePair.mbitPerSec.toFixed(0)} Mbit/s (${(nodePair.mbitPerSec / stunnel.mbitPerSec).toFixed(2)}× stunnel pooled; ours/it ${(ours.mbitPerSec / nodePair.mbitPerSec).toFixed(2)}×)`,
        `CPU during the run (share of one core): ours ${cpuShare(ours)}; stunnel ${cpuShare(stunnel)}; socat ${cpuShare(socat)}; Node pair ${cpuShare(nodePair)} — 2 shared cores, so the slowest process sets the pace`],
      raw: { ours, native, stunnel, socat, nodePair, oursRuns, stunnelRuns, pairRatios },
    };
  } finally {
    await st.proc.stop();
    await cam.proc.stop();
  }
}
