// Interleaved A/B of our one-stream throughput (other streamer/agent builds) vs stunnel, with CPU
// per Gbit of each process: for comparing builds on a noisy machine (bench/README.md). Not a row.
//   node build/bench/ab-throughput.mjs '{"rounds":3,"ms":6000,"variants":[{"name":"base"},{"name":"x","streamerJs":"...","agentCmd":["node","..."]}],"stunnel":true}'
//   "nodePair": true adds the same pair written in plain Node (bench/node-tls-pair.ts).
// A variant may also set streamer `limits` (e.g. {"stream_window_max_bytes": 1048576}).
import { makePki } from "../testkit/system";
import { startBenchStreamer } from "./lib/common";
import { FLOOD_STREAMER_SETTINGS, measureOurFlow, measurePairFlow, startFlood, startNodeTlsPair, startOurAgent, startStunnelPair } from "./lib/flows";

const a = JSON.parse(process.argv[2]) as { rounds: number; ms: number; variants: { name: string; streamerJs?: string; agentCmd?: string[]; streamerArgs?: string[]; limits?: Record<string, number> }[]; stunnel: boolean; nodePair?: boolean };
const pki = makePki();
const cam = await startFlood();
const res: Record<string, number[]> = {};
const line = (name: string, f: { mbitPerSec: number; bytes: number; cpu: Record<string, number> }) => {
  const gbit = (f.bytes * 8) / 1e9;
  (res[name] ??= []).push(f.mbitPerSec);
  console.log(`${name.padEnd(10)} ${f.mbitPerSec.toFixed(0).padStart(5)} Mbit/s  s/Gbit: ${Object.entries(f.cpu).map(([k, v]) => `${k} ${(v / gbit).toFixed(3)}`).join(", ")}  total ${(Object.values(f.cpu).reduce((x, y) => x + y, 0) / gbit).toFixed(3)}`);
};
for (let r = 0; r < a.rounds; r++) {
  for (const v of a.variants) {
    if (v.streamerJs) process.env.BENCH_STREAMER_JS = v.streamerJs; else delete process.env.BENCH_STREAMER_JS;
    if (v.agentCmd) process.env.BENCH_AGENT_CMD = JSON.stringify(v.agentCmd); else delete process.env.BENCH_AGENT_CMD;
    const st = await startBenchStreamer({ pki, nodeArgs: v.streamerArgs, streamerSettings: FLOOD_STREAMER_SETTINGS, limits: v.limits });
    const agent = await startOurAgent(pki, st, "tput-cam", cam.port);
    console.log(`PIDS ${st.proc.pid} ${agent.pid}`);
    const f = await measureOurFlow(st, agent, "tput-cam", cam.proc.pid, a.ms);
    line(v.name, f);
    for (const l of st.proc.output().split("\n")) if (/slow|skip|behind|WARN|ERROR/i.test(l)) console.log("   streamer: " + l.slice(0, 200));
    await agent.stop();
    await st.proc.stop();
  }
  const pairs = [...(a.nodePair ? [["node-pair", startNodeTlsPair] as const] : []), ...(a.stunnel ? [["stunnel", startStunnelPair] as const] : [])];
  for (const [name, start] of pairs) {
    const pair = await start(pki, cam.port);
    const f = await measurePairFlow(pair, cam.proc.pid, a.ms);
    line(name, f);
    await Promise.all(pair.procs.map((p) => p.stop()));
  }
}
for (const [k, v] of Object.entries(res)) console.log(`${k}: ${v.map((x) => x.toFixed(0)).join(" ")}${res.stunnel && k !== "stunnel" ? `  ratio ${v.map((x, i) => (x / res.stunnel[i]).toFixed(2)).join(" ")}` : ""}`);
await cam.proc.stop();
process.exit(0);
