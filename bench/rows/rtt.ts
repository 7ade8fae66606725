// RTSP DESCRIBE round trip through the tunnel (viewer → streamer → TLS → agent → camera) vs
// directly to the camera. The camera is GStreamer's RTSP server (the test fixture). Measured with
// the Node agent (native speed) and with the static armhf agent under qemu-user (the product).
import { existsSync } from "node:fs";
import { startCamera } from "../../testkit/camera";
import { makePki, SECRET } from "../../testkit/system";
import { signViewerToken } from "../../agent-src/src/server/keys";
import { median, percentile, startBenchStreamer } from "../lib/common";
import { describeRtt } from "../lib/describe";
import { startOurAgent } from "../lib/flows";
import { ratioOf, type BenchOptions, type Row } from "../lib/row";
import { AGENT_ARMHF } from "./qemu-user";

export async function rtspRtt(o: BenchOptions): Promise<Row[]> {
  const count = o.tiny ? 10 : 200;
  const cam = await startCamera();
  const pki = makePki();
  const st = await startBenchStreamer({ pki });
  const rows: Row[] = [];
  try {
    const direct = await describeRtt(cam.rtspUrl("stream1"), count);
    const agents: [string, string, string[] | undefined][] = [["", "Node agent", undefined]];
    if (existsSync(AGENT_ARMHF)) agents.push(["-native", "armhf agent under qemu-user", ["qemu-arm-static", AGENT_ARMHF]]);
    for (const [suffix, who, cmd] of agents) {
      const id = `rtt-cam${suffix}`;
      const agent = await startOurAgent(pki, st, id, cam.rtspPort, cmd);
      // A signed URL token, not Digest: a Digest nonce opens one connection only, and the
      // new-connection figure would then time a 401 round trip the direct pull does not have.
      const token = signViewerToken(Buffer.from(SECRET + "\nviewer-token"), id, Math.floor(Date.now() / 1000) + 3600);
      const tunnel = await describeRtt(`rtsp://127.0.0.1:${st.ports.rtsp}/${id}/stream1?token=${token}`, count);
      await agent.stop();
      const stats = (xs: number[]) => ({ median: median(xs), p95: percentile(xs, 95), n: xs.length });
      const raw = { direct: { keepalive: stats(direct.keepalive), fresh: stats(direct.fresh) }, tunnel: { keepalive: stats(tunnel.keepalive), fresh: stats(tunnel.fresh) }, samples: { direct, tunnel } };
      o.log(`rtt ${who}: ${JSON.stringify({ direct: raw.direct, tunnel: raw.tunnel })}`);
      const row = (rid: string, what: string, t: number[], d: number[]): Row => {
        const ours = { value: median(t), unit: "ms", text: `p95 ${percentile(t, 95).toFixed(2)}` };
        const peer = { value: median(d), unit: "ms", text: `p95 ${percentile(d, 95).toFixed(2)}` };
        return {
          id: rid, figure: `RTSP DESCRIBE round trip through the tunnel, ${who} (${what}), median`, ours, peerName: "direct to camera", peer,
          ratio: ratioOf(ours, peer), goal: "≤ direct + 5 ms on loopback", met: median(t) <= median(d) + 5,
          notes: [`${who}, ${what}: tunnel adds ${(median(t) - median(d)).toFixed(2)} ms (median of ${t.length})`], raw: rid.endsWith("-fresh") ? {} : raw,
        };
      };
      rows.push(row(`rtt${suffix}`, "open connection", tunnel.keepalive, direct.keepalive));
      rows.push(row(`rtt${suffix}-fresh`, "new connection each", tunnel.fresh, direct.fresh));
    }
    return rows;
  } finally {
    await st.proc.stop();
    await cam.stop();
  }
}
