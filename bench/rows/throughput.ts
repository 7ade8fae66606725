// Throughput of one stream, native, TLS on: viewer → streamer → TLS → agent (Node) → camera, vs
// the same camera behind a stunnel pair and a socat (OpenSSL) pair. The camera sends as fast as
// the path takes it (flood-camera).
import { makePki } from "../../testkit/system";
import { startBenchStreamer, treeCpuSeconds } from "../lib/common";
import { measureFlow, startFlood, startOurAgent, startSocatPair, startStunnelPair } from "../lib/flows";
import { ratioOf, type BenchOptions, type Row } from "../lib/row";

export async function oneStreamThroughput(o: BenchOptions): Promise<Row> {
  const durationMs = o.tiny ? 1500 : 10_000;
  const pki = makePki();
  const cam = await startFlood();
  const st = await startBenchStreamer({ pki });
  try {
    const agent = await startOurAgent(pki, st, "tput-cam", cam.port);
    const ours = await measureFlow([st.rtspUrl("tput-cam", "flood")], 1, durationMs, {
      streamer: () => treeCpuSeconds(st.proc.pid), agent: () => treeCpuSeconds(agent.pid), camera: () => treeCpuSeconds(cam.proc.pid),
    });
    await agent.stop();
    const stn = await startStunnelPair(pki, cam.port);
    const stunnel = await measureFlow([`rtsp://127.0.0.1:${stn.port}/flood`], 1, durationMs, {
      server: () => treeCpuSeconds(stn.procs[0].pid), client: () => treeCpuSeconds(stn.procs[1].pid), camera: () => treeCpuSeconds(cam.proc.pid),
    });
    await Promise.all(stn.procs.map((p) => p.stop()));
    const sc = await startSocatPair(pki, cam.port);
    const socat = await measureFlow([`rtsp://127.0.0.1:${sc.port}/flood`], 1, durationMs, {
      server: () => treeCpuSeconds(sc.procs[0].pid), client: () => treeCpuSeconds(sc.procs[1].pid), camera: () => treeCpuSeconds(cam.proc.pid),
    });
    await Promise.all(sc.procs.map((p) => p.stop()));
    o.log(`throughput: ours ${ours.mbitPerSec.toFixed(0)} Mbit/s ${JSON.stringify(ours.cpu)}, stunnel ${stunnel.mbitPerSec.toFixed(0)} ${JSON.stringify(stunnel.cpu)}, socat ${socat.mbitPerSec.toFixed(0)} ${JSON.stringify(socat.cpu)}`);
    const f = (x: { mbitPerSec: number }) => ({ value: x.mbitPerSec, unit: "Mbit/s" });
    const cpuShare = (x: { cpu: Record<string, number>; seconds: number }) => Object.entries(x.cpu).map(([k, v]) => `${k} ${((v / x.seconds) * 100).toFixed(0)} %`).join(", ");
    return {
      id: "throughput", figure: "one stream, native, TLS on: throughput", ours: f(ours), peerName: "stunnel pair", peer: f(stunnel),
      ratio: ratioOf(f(ours), f(stunnel)), goal: "report; ≥ 0.5× stunnel", met: ours.mbitPerSec >= 0.5 * stunnel.mbitPerSec,
      notes: [`socat (OpenSSL) pair: ${socat.mbitPerSec.toFixed(0)} Mbit/s (ours/socat ${(ours.mbitPerSec / socat.mbitPerSec).toFixed(2)}×)`,
        `CPU during the run (share of one core): ours ${cpuShare(ours)}; stunnel ${cpuShare(stunnel)}; socat ${cpuShare(socat)} — 2 shared cores, so the slowest process sets the pace`],
      raw: { ours, stunnel, socat },
    };
  } finally {
    await st.proc.stop();
    await cam.proc.stop();
  }
}
