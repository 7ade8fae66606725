// 10 000 idle agents held by one streamer: the streamer's memory per connected agent.
import { makePki } from "../../testkit/system";
import { cpuSeconds, memKb, sleep, startBenchStreamer } from "../lib/common";
import { ratioOf, type BenchOptions, type Row } from "../lib/row";
import { startSwarm } from "../lib/swarm-client";

export async function idleAgents(o: BenchOptions): Promise<Row> {
  const n = o.tiny ? 50 : 10_000;
  const pki = makePki();
  // Admission is not what this row measures: let the whole fleet in at a rate the load
  // generator can handshake (the storm row measures admission).
  const st = await startBenchStreamer({ pki, admission: { rate: 2000, burst: 2000, retry_ms: 2000 } });
  const notes: string[] = [];
  try {
    await sleep(1000);
    const base = memKb(st.proc.pid);
    const t0 = Date.now();
    const swarm = await startSwarm({
      n, children: o.tiny ? 1 : 4, prefix: "idle", streamer: `127.0.0.1:${st.ports.streamer}`,
      endpoint: `127.0.0.1:${st.ports.endpoint}`, caFile: pki.caFile,
      reconnect: { base_ms: 1000, cap_ms: 10_000 }, rampMs: o.tiny ? 200 : 10_000, maxMs: o.tiny ? 30_000 : 240_000,
    });
    try {
      const all = await swarm.waitLive(n, o.tiny ? 20_000 : 180_000);
      const connectS = (Date.now() - t0) / 1000;
      const live = swarm.stat().live;
      if (!all) notes.push(`only ${live} of ${n} agents connected in time`);
      await sleep(o.tiny ? 1000 : 5000); // let the handshake garbage go
      const online = await st.onlineCount();
      const cpu0 = cpuSeconds(st.proc.pid);
      const idleS = o.tiny ? 2 : 20;
      await sleep(idleS * 1000);
      const idleCpu = (cpuSeconds(st.proc.pid) - cpu0) / idleS;
      const held = memKb(st.proc.pid);
      const perAgentKb = (held.rss - base.rss) / Math.max(1, online);
      o.log(`idle: ${online} online, streamer RSS ${base.rss} → ${held.rss} KiB, ${perAgentKb.toFixed(1)} KiB/agent, idle CPU ${(idleCpu * 100).toFixed(1)} %`);
      const ours = { value: perAgentKb, unit: "KiB/agent", text: `${online} agents, RSS ${(held.rss / 1024).toFixed(0)} MiB` };
      return {
        id: "idle", figure: `${n} idle agents held by one streamer: memory each`, ours,
        peerName: "—", peer: null, ratio: ratioOf(ours, null),
        goal: "10 000 at ≤ 50 KB each", met: online >= 10_000 && perAgentKb * 1.024 <= 50,
        notes: [...notes, `streamer CPU while ${online} agents idle (keepalive): ${(idleCpu * 100).toFixed(1)} % of a core`,
          `all connected after ${connectS.toFixed(1)} s (admission 2000/s for this row)`],
        raw: { n, online, baseRssKb: base.rss, heldRssKb: held.rss, hwmKb: held.hwm, perAgentKb, idleCpuShare: idleCpu, connectS },
      };
    } finally {
      await swarm.stop();
    }
  } finally {
    await st.proc.stop();
  }
}
