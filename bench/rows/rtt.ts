// RTSP DESCRIBE round trip through the tunnel (viewer → streamer → TLS → agent → camera) vs
// directly to the camera. The camera is GStreamer's RTSP server (the test fixture).
import { startCamera } from "../../agent-src/test/harness/camera";
import { makePki } from "../../agent-src/test/harness/system";
import { median, percentile, startBenchStreamer } from "../lib/common";
import { describeRtt } from "../lib/describe";
import { startOurAgent } from "../lib/flows";
import { ratioOf, type BenchOptions, type Row } from "../lib/row";

export async function rtspRtt(o: BenchOptions): Promise<Row[]> {
  const count = o.tiny ? 10 : 200;
  const cam = await startCamera();
  const pki = makePki();
  const st = await startBenchStreamer({ pki });
  try {
    const agent = await startOurAgent(pki, st, "rtt-cam", cam.rtspPort);
    void agent;
    const direct = await describeRtt(cam.rtspUrl("stream1"), count);
    const tunnel = await describeRtt(st.rtspUrl("rtt-cam", "stream1"), count);
    const stats = (xs: number[]) => ({ median: median(xs), p95: percentile(xs, 95), n: xs.length });
    const raw = { direct: { keepalive: stats(direct.keepalive), fresh: stats(direct.fresh) }, tunnel: { keepalive: stats(tunnel.keepalive), fresh: stats(tunnel.fresh) }, samples: { direct, tunnel } };
    o.log(`rtt: ${JSON.stringify({ direct: raw.direct, tunnel: raw.tunnel })}`);
    const row = (id: string, what: string, t: number[], d: number[]): Row => {
      const ours = { value: median(t), unit: "ms", text: `p95 ${percentile(t, 95).toFixed(2)}` };
      const peer = { value: median(d), unit: "ms", text: `p95 ${percentile(d, 95).toFixed(2)}` };
      return {
        id, figure: `RTSP DESCRIBE round trip through the tunnel (${what}), median`, ours, peerName: "direct to camera", peer,
        ratio: ratioOf(ours, peer), goal: "≤ direct + 5 ms on loopback", met: median(t) <= median(d) + 5,
        notes: [`${what}: tunnel adds ${(median(t) - median(d)).toFixed(2)} ms (median of ${t.length})`], raw: id === "rtt" ? raw : {},
      };
    };
    return [
      row("rtt", "open connection", tunnel.keepalive, direct.keepalive),
      row("rtt-fresh", "new connection each", tunnel.fresh, direct.fresh),
    ];
  } finally {
    await st.proc.stop();
    await cam.stop();
  }
}
