// Throughput of one stream, native, TLS on: viewer → streamer → TLS → agent (Node) → camera, vs
// the same camera behind a stunnel pair and a socat (OpenSSL) pair. The camera sends as fast as
// the path takes it (flood-camera). Beside it, when built (make bench builds it), the camera's own
// agent — QuickJS + mbedTLS + the C relay pump — compiled for this x86-64 machine.
import { existsSync } from "node:fs";
import { join } from "node:path";
import { makePki } from "../../testkit/system";
import { REPO_ROOT, startBenchStreamer, treeCpuSeconds } from "../lib/common";
import { FLOOD_STREAMER_SETTINGS, measureFlow, slowViewerLines, startFlood, startOurAgent, startSocatPair, startStunnelPair } from "../lib/flows";
import { ratioOf, type BenchOptions, type Row } from "../lib/row";

export async function oneStreamThroughput(o: BenchOptions): Promise<Row> {
  const durationMs = o.tiny ? 1500 : 10_000;
  const pki = makePki();
  const cam = await startFlood();
  const st = await startBenchStreamer({ pki, streamerSettings: FLOOD_STREAMER_SETTINGS });
  try {
    const agent = await startOurAgent(pki, st, "tput-cam", cam.port);
    const ours = await measureFlow([st.rtspUrl("tput-cam", "flood")], 1, durationMs, {
      streamer: () => treeCpuSeconds(st.proc.pid), agent: () => treeCpuSeconds(agent.pid), camera: () => treeCpuSeconds(cam.proc.pid),
    });
    await agent.stop();
    const nativeBin = join(REPO_ROOT, "build/host/x86_64/flussonic-agent");
    let native: Awaited<ReturnType<typeof measureFlow>> | null = null;
    if (existsSync(nativeBin)) {
      const na = await startOurAgent(pki, st, "tput-native", cam.port, [nativeBin]);
      native = await measureFlow([st.rtspUrl("tput-native", "flood")], 1, durationMs, {
        streamer: () => treeCpuSeconds(st.proc.pid), agent: () => treeCpuSeconds(na.pid), camera: () => treeCpuSeconds(cam.proc.pid),
      });
      await na.stop();
    }
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
    o.log(`throughput: ours ${ours.mbitPerSec.toFixed(0)} Mbit/s ${JSON.stringify(ours.cpu)}, native agent ${native ? `${native.mbitPerSec.toFixed(0)} ${JSON.stringify(native.cpu)}` : "not built"}, stunnel ${stunnel.mbitPerSec.toFixed(0)} ${JSON.stringify(stunnel.cpu)}, socat ${socat.mbitPerSec.toFixed(0)} ${JSON.stringify(socat.cpu)}`);
    const f = (x: { mbitPerSec: number }) => ({ value: x.mbitPerSec, unit: "Mbit/s" });
    const cpuShare = (x: { cpu: Record<string, number>; seconds: number }) => Object.entries(x.cpu).map(([k, v]) => `${k} ${((v / x.seconds) * 100).toFixed(0)} %`).join(", ");
    return {
      id: "throughput", figure: "one stream, native, TLS on: throughput", ours: f(ours), peerName: "stunnel pair", peer: f(stunnel),
      ratio: ratioOf(f(ours), f(stunnel)), goal: "≥ 0.8× stunnel", met: ours.mbitPerSec >= 0.8 * stunnel.mbitPerSec,
      notes: [...slowViewerLines(st.proc.output()).map((l) => `the streamer dropped the viewer, so this run's figure is not the path's: ${l}`),
        native
          ? `the camera's agent (C relay pump, mbedTLS, built for x86-64; ChaCha20-Poly1305 as cameras choose): ${native.mbitPerSec.toFixed(0)} Mbit/s (${(native.mbitPerSec / stunnel.mbitPerSec).toFixed(2)}× stunnel; the goal is judged on the Node agent above); CPU ${cpuShare(native)}`
          : "the camera's agent built for x86-64 (build/host/x86_64/flussonic-agent) was not built: not measured",
        `socat (OpenSSL) pair: ${socat.mbitPerSec.toFixed(0)} Mbit/s (ours/socat ${(ours.mbitPerSec / socat.mbitPerSec).toFixed(2)}×)`,
        `CPU during the run (share of one core): ours ${cpuShare(ours)}; stunnel ${cpuShare(stunnel)}; socat ${cpuShare(socat)} — 2 shared cores, so the slowest process sets the pace`],
      raw: { ours, native, stunnel, socat },
    };
  } finally {
    await st.proc.stop();
    await cam.proc.stop();
  }
}
