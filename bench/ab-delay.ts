// One-stream throughput when the agent's link has a round trip (a camera on a WAN), for comparing
// streamer builds (e.g. receive-window sizes, bench/README.md). Not a row. The agent dials a proxy
// in this process that holds every chunk `delayMs` in each direction and buffers without limit, so
// TCP never limits and the tunnel's own per-stream window is what is measured.
//   node build/bench/ab-delay.mjs '{"rounds":2,"ms":6000,"delayMs":10,"variants":[{"name":"old","streamerJs":"..."},{"name":"new"}]}'
// (a variant's "agentCmd": another agent build's argv, e.g. ["qemu-arm-static","build/agent/armhf/flussonic-agent"];
// "limits": the streamer's, e.g. {"stream_window_max_bytes":1048576})
import { createServer, connect, type Socket } from "node:net";
import { makePki } from "../testkit/system";
import { startBenchStreamer, treeCpuSeconds } from "./lib/common";
import { FLOOD_STREAMER_SETTINGS, measureFlow, startFlood, startOurAgent } from "./lib/flows";

const a = JSON.parse(process.argv[2]) as { rounds: number; ms: number; delayMs: number; variants: { name: string; streamerJs?: string; agentCmd?: string[]; limits?: Record<string, number> }[] };

/** A TCP proxy to 127.0.0.1:`to` that delivers each chunk `delayMs` after it arrived, in order. */
async function delayProxy(to: number, delayMs: number): Promise<{ port: number; close(): void }> {
  const socks = new Set<Socket>();
  const srv = createServer((c) => {
    const u = connect(to, "127.0.0.1");
    // As the streamer's and agent's own sockets: no Nagle, or small WINDOW frames wait for ACKs.
    c.setNoDelay(true);
    u.setNoDelay(true);
    for (const [from, dst] of [[c, u], [u, c]] as const) {
      socks.add(from);
      from.on("data", (d) => setTimeout(() => dst.destroyed || dst.write(d), delayMs));
      from.on("end", () => setTimeout(() => dst.end(), delayMs));
      from.on("error", () => dst.destroy());
      from.on("close", () => (socks.delete(from), setTimeout(() => dst.destroy(), delayMs)));
    }
  });
  await new Promise<void>((r) => srv.listen(0, "127.0.0.1", () => r()));
  return {
    port: (srv.address() as { port: number }).port,
    close: () => {
      srv.close();
      for (const s of socks) s.destroy();
    },
  };
}

const pki = makePki();
const cam = await startFlood();
const res: Record<string, number[]> = {};
for (let r = 0; r < a.rounds; r++) {
  for (const v of a.variants) {
    if (v.streamerJs) process.env.BENCH_STREAMER_JS = v.streamerJs; else delete process.env.BENCH_STREAMER_JS;
    const st = await startBenchStreamer({ pki, streamerSettings: FLOOD_STREAMER_SETTINGS, limits: v.limits });
    const proxy = await delayProxy(st.ports.streamer, a.delayMs);
    const agent = await startOurAgent(pki, st, "delay-cam", cam.port, v.agentCmd, proxy.port);
    const f = await measureFlow([st.rtspUrl("delay-cam", "flood")], 1, a.ms, {
      streamer: () => treeCpuSeconds(st.proc.pid), agent: () => treeCpuSeconds(agent.pid),
    });
    (res[v.name] ??= []).push(f.mbitPerSec);
    console.log(`${v.name.padEnd(10)} ${f.mbitPerSec.toFixed(0).padStart(5)} Mbit/s with ${2 * a.delayMs} ms round trip`);
    await agent.stop();
    proxy.close();
    await st.proc.stop();
  }
}
for (const [k, v] of Object.entries(res)) console.log(`${k}: ${v.map((x) => x.toFixed(0)).join(" ")} Mbit/s`);
await cam.proc.stop();
process.exit(0);
