// Shared sources: the streamer pulls each camera once and serves every viewer from that session.
// All in one run, on the same H.264 camera (GStreamer's RTSP server playing a 2 Mbit/s clip with a
// 2 s GOP, real-time paced; a counting proxy in front of it measures the camera's bytes):
//  - camera-side bytes and agent CPU for 1, 10 and 50 viewers of one camera: ours (one shared
//    source) vs the old per-viewer behaviour (each viewer its own camera session through the same
//    agent: distinct query strings) for 1 and 10, vs the camera pulled directly for 50 (one tunnel
//    carries at most 32 streams, so the old behaviour cannot serve 50 at all);
//  - streamer CPU per viewer-Gbit, 50 viewers over 4 cameras, vs GStreamer's RTSP server
//    restreaming the same cameras with a shared media factory (bench/restream-peer.py);
//  - time to first frame for a viewer joining a live stream, vs that peer and vs the camera directly.
import { execFileSync } from "node:child_process";
import { existsSync, mkdirSync, readdirSync, symlinkSync } from "node:fs";
import { createServer, connect, type Socket, type AddressInfo } from "node:net";
import { join } from "node:path";
import { ensureMedia } from "../../testkit/camera";
import { startProc, type Proc } from "../../testkit/procs";
import { openRtspSession } from "../../testkit/rtsp-client";
import { makePki } from "../../testkit/system";
import { BENCH_BUILD, cpuSeconds, median, REPO_ROOT, sleep, startBenchStreamer, threadCpuSeconds, type BenchStreamer } from "../lib/common";
import { measureFlow, startOurAgent, type Flow } from "../lib/flows";
import { ratioOf, type BenchOptions, type Figure, type Row } from "../lib/row";

const PYTHON = existsSync("/usr/bin/python3") ? "/usr/bin/python3" : "python3";
const CLIP = { seconds: 60, bitrate: "2M", gopFrames: 50, fps: 25 };

/** The bench camera's clip, made once: noise keeps x264 at the target rate (a test pattern alone
 *  compresses to a fraction of it). rtsp-camera.py wants all three of its files: the same clip. */
async function benchMedia(): Promise<string> {
  const dir = join(BENCH_BUILD, `media-${CLIP.seconds}s-${CLIP.bitrate}-g${CLIP.gopFrames}`);
  const clip = join(dir, "long.mp4");
  mkdirSync(dir, { recursive: true });
  // The camera refuses to start without any of its mounts' files: the test clips for the others.
  const fixtures = await ensureMedia();
  for (const f of readdirSync(fixtures)) {
    if (!["long.mp4", "clip.mp4", "gop4.mp4"].includes(f) && !existsSync(join(dir, f))) symlinkSync(join(fixtures, f), join(dir, f));
  }
  if (!existsSync(clip)) {
    execFileSync("ffmpeg", ["-nostdin", "-hide_banner", "-loglevel", "error", "-y", "-f", "lavfi", "-i",
      `testsrc2=size=640x360:rate=${CLIP.fps}:duration=${CLIP.seconds},noise=alls=12:allf=t`,
      "-c:v", "libx264", "-preset", "ultrafast", "-profile:v", "baseline", "-pix_fmt", "yuv420p",
      "-g", String(CLIP.gopFrames), "-keyint_min", String(CLIP.gopFrames), "-sc_threshold", "0", "-bf", "0",
      "-b:v", CLIP.bitrate, "-maxrate", CLIP.bitrate, "-bufsize", CLIP.bitrate, "-an", "-movflags", "+faststart", `${clip}.tmp.mp4`], { timeout: 120_000 });
    execFileSync("mv", [`${clip}.tmp.mp4`, clip]);
    for (const f of ["clip.mp4", "gop4.mp4"]) symlinkSync("long.mp4", join(dir, f));
  }
  return dir;
}

/** A TCP proxy that only counts what the camera sends (the camera's uplink) and its sessions. */
async function startCounter(targetPort: number): Promise<{ port: number; bytes(): number; open(): number; sessions(): number; stop(): Promise<void> }> {
  let bytes = 0;
  let sessions = 0;
  const socks = new Set<Socket>();
  const srv = createServer((client) => {
    sessions++;
    const cam = connect(targetPort, "127.0.0.1");
    for (const s of [client, cam]) {
      socks.add(s);
      s.on("error", () => {});
      s.on("close", () => {
        socks.delete(s);
        client.destroy();
        cam.destroy();
      });
    }
    cam.on("data", (d: Buffer) => (bytes += d.length));
    cam.pipe(client);
    client.pipe(cam);
  });
  await new Promise<void>((r) => srv.listen(0, "127.0.0.1", r));
  return {
    port: (srv.address() as AddressInfo).port, bytes: () => bytes, open: () => socks.size / 2, sessions: () => sessions,
    stop: () => {
      socks.forEach((s) => s.destroy());
      return new Promise((r) => srv.close(() => r()));
    },
  };
}

/** A STAP-A (GStreamer aggregates small units) holding an IDR slice. */
function stapHasIdr(nal: Buffer): boolean {
  for (let i = 1; i + 2 < nal.length; i += 2 + nal.readUInt16BE(i)) if ((nal[i + 2] & 0x1f) === 5) return true;
  return false;
}

/** Time from TCP connect until the first complete H.264 IDR picture arrived (what a decoder needs to
 *  show a frame), and until the first RTP packet at all. */
async function timeToFirstFrame(url: string): Promise<{ frameMs: number; packetMs: number }> {
  const t0 = performance.now();
  let packetMs = NaN;
  let done: () => void = () => {};
  const gotFrame = new Promise<void>((r) => (done = r));
  let frameMs = NaN;
  const s = await openRtspSession(url, {
    timeoutMs: 15_000,
    playRange: null, // a live join (see bench/viewers.ts)
    onPacket: (ch, p) => {
      if (ch !== 0 || p.length < 14 || !Number.isNaN(frameMs)) return;
      if (Number.isNaN(packetMs)) packetMs = performance.now() - t0;
      const cc = p[0] & 0x0f;
      const nal = p.subarray(12 + cc * 4);
      const type = nal[0] & 0x1f;
      const marker = (p[1] & 0x80) !== 0;
      // The IDR picture is complete at its last packet: a single NAL or STAP-A with the marker,
      // or the FU-A fragment with the end bit set.
      const idrEnd = (type === 5 && marker) || (type === 28 && (nal[1] & 0x1f) === 5 && (nal[1] & 0x40) !== 0) || (type === 24 && marker && stapHasIdr(nal));
      if (idrEnd) {
        frameMs = performance.now() - t0;
        done();
      }
    },
  });
  await Promise.race([gotFrame, sleep(10_000)]);
  s.close();
  if (Number.isNaN(frameMs)) throw new Error(`no keyframe from ${url} within 10 s`);
  return { frameMs, packetMs };
}

async function waitCameraIdle(c: { open(): number }): Promise<void> {
  const end = Date.now() + 20_000;
  while (c.open() > 0 && Date.now() < end) await sleep(100);
}

export async function restream(o: BenchOptions): Promise<Row[]> {
  const counts = o.tiny ? [1, 3] : [1, 10, 50];
  const perViewerMax = o.tiny ? 1 : 10; // the old behaviour through one tunnel: ≤ 32 streams
  const durationMs = o.tiny ? 1000 : 5000;
  const cameras = o.tiny ? 2 : 4;
  const gbitViewers = o.tiny ? 4 : 50;
  const gbitMs = o.tiny ? 1000 : 10_000;
  const joins = o.tiny ? 2 : 7;
  const media = await benchMedia();
  const pki = makePki();
  const cam = await startProc(PYTHON, [join(REPO_ROOT, "agent-src/test/fixtures/rtsp-camera.py"), "0", media], {
    name: "bench-camera", ready: /^READY rtsp port=(\d+)/, timeoutMs: 30_000, env: { ...process.env, GST_DEBUG: "0" },
  });
  const camPort = Number(cam.ready[1]);
  const counter = await startCounter(camPort);
  // close_after short: each measurement starts with no camera session left over from the last.
  const st: BenchStreamer = await startBenchStreamer({ pki, streamerSettings: { media: { close_after_ms: 300 } } });
  const agents: Proc[] = [];
  let peer: Proc | null = null;
  try {
    for (let i = 0; i < cameras; i++) agents.push(await startOurAgent(pki, st, `cam-${i}`, counter.port));
    const agent = agents[0];
    const oursUrl = (dev: string, q = "") => st.rtspUrl(dev, `long${q}`);
    const load = async (urls: string[], withAgent: boolean): Promise<Flow & { sessions: number }> => {
      await waitCameraIdle(counter);
      const s0 = counter.sessions();
      const f = await measureFlow(urls, 1, durationMs, {
        // The agent uses ~1 % of a core here: its threads' run time in ns, not 10 ms ticks (a 1 s
        // tiny window read 0 ticks for it, and 5 s ones only a few).
        cameraBytes: () => counter.bytes(), agent: () => (withAgent ? threadCpuSeconds(agent.pid) : 0), streamer: () => cpuSeconds(st.proc.pid),
      });
      return { ...f, sessions: counter.sessions() - s0 };
    };

    // 1. Camera side for N viewers of one camera.
    const ours: Record<number, Flow & { sessions: number }> = {};
    const old: Record<number, Flow & { sessions: number }> = {};
    for (const n of counts) {
      ours[n] = await load(Array.from({ length: n }, () => oursUrl("cam-0")), true);
      old[n] = n <= perViewerMax
        ? await load(Array.from({ length: n }, (_, i) => oursUrl("cam-0", `?viewer=${i}`)), true)
        : await load(Array.from({ length: n }, () => `rtsp://127.0.0.1:${counter.port}/long`), false);
      o.log(`restream ${n} viewers: ours ${JSON.stringify(ours[n])}; ${n <= perViewerMax ? "per viewer" : "direct"} ${JSON.stringify(old[n])}`);
    }

    // 2. Streamer CPU per viewer-Gbit: our streamer vs GStreamer's shared factory, same cameras.
    await waitCameraIdle(counter);
    const spread = (f: (i: number) => string) => Array.from({ length: gbitViewers }, (_, i) => f(i % cameras));
    const oursGbit = await measureFlow(spread((i) => oursUrl(`cam-${i}`)), 1, gbitMs, { server: () => cpuSeconds(st.proc.pid), cameraBytes: () => counter.bytes() });
    await waitCameraIdle(counter);
    peer = await startProc(PYTHON, [join(REPO_ROOT, "bench/restream-peer.py"), "0", ...Array.from({ length: cameras }, (_, i) => `cam-${i}=rtsp://127.0.0.1:${counter.port}/long?cam=${i}`)], {
      name: "restream-peer", ready: /^READY rtsp port=(\d+)/, timeoutMs: 30_000, env: { ...process.env, GST_DEBUG: "0" },
    });
    const peerUrl = (i: number) => `rtsp://127.0.0.1:${Number(peer!.ready[1])}/cam-${i}`;
    const peerGbit = await measureFlow(spread(peerUrl), 1, gbitMs, { server: () => cpuSeconds(peer!.pid), cameraBytes: () => counter.bytes() });
    o.log(`restream cpu/viewer-Gbit: ours ${JSON.stringify(oursGbit)}; gst-rtsp-server ${JSON.stringify(peerGbit)}`);

    // 3. Time to first frame for a viewer joining a live stream (a warm source with one viewer),
    //    at spread-out phases of the 2 s GOP; and straight from the camera.
    const ttff = async (url: string) => {
      const warm = await openRtspSession(url, { timeoutMs: 15_000, playRange: null });
      await warm.waitForBytes(1, 10_000);
      const r: { frameMs: number; packetMs: number }[] = [];
      try {
        for (let i = 0; i < joins; i++) {
          await sleep(300 + 290 * i); // phases ~0.3…2 s into the GOP, not in step with it
          r.push(await timeToFirstFrame(url));
        }
      } finally {
        warm.close();
      }
      return r;
    };
    const ttffOurs = await ttff(oursUrl("cam-1"));
    const ttffPeer = await ttff(peerUrl(1));
    const ttffDirect: { frameMs: number; packetMs: number }[] = [];
    for (let i = 0; i < joins; i++) ttffDirect.push(await timeToFirstFrame(`rtsp://127.0.0.1:${camPort}/long`));
    o.log(`restream ttff ms: ours ${JSON.stringify(ttffOurs)}; peer ${JSON.stringify(ttffPeer)}; direct ${JSON.stringify(ttffDirect)}`);

    // Rows.
    const rows: Row[] = [];
    const mbit = (f: Flow & { cpu: Record<string, number> }) => (f.cpu.cameraBytes * 8) / f.seconds / 1e6;
    const oneStream = mbit(ours[1]);
    for (const n of counts) {
      const direct = n > perViewerMax;
      const peerName = direct ? `camera pulled directly by ${n} viewers` : "camera pulled once per viewer through the same agent (the old per-viewer proxy)";
      const us: Figure = { value: mbit(ours[n]), unit: "Mbit/s", text: `${ours[n].sessions} camera session` };
      const them: Figure = { value: mbit(old[n]), unit: "Mbit/s", text: `${old[n].sessions} camera sessions` };
      rows.push({
        id: `restream-camera-${n}`, figure: `camera-side bytes, ${n} viewer${n > 1 ? "s" : ""} of one camera (2 Mbit/s H.264)`, ours: us, peerName, peer: them,
        ratio: ratioOf(us, them), goal: "≤ 1.1× one stream, 1 camera session", met: us.value! <= 1.1 * oneStream && ours[n].sessions <= 1,
        notes: [`viewers received ${(ours[n].mbitPerSec).toFixed(1)} Mbit/s in total (ours), ${old[n].mbitPerSec.toFixed(1)} (${direct ? "direct" : "per viewer"})`],
        raw: { ours: ours[n], peer: old[n] },
      });
      const cpuPct = (f: Flow) => (100 * f.cpu.agent) / f.seconds;
      const usCpu: Figure = { value: cpuPct(ours[n]), unit: "% of a core" };
      rows.push({
        id: `restream-agent-cpu-${n}`, figure: `agent CPU (Node build), ${n} viewer${n > 1 ? "s" : ""} of one camera`, ours: usCpu,
        peerName: direct ? "—" : "the old per-viewer proxy, same agent", peer: direct ? null : { value: cpuPct(old[n]), unit: "% of a core" },
        ratio: direct ? null : ratioOf(usCpu, { value: cpuPct(old[n]), unit: "" }), goal: "about one stream's cost", met: null,
        notes: direct ? [`the old behaviour cannot serve ${n} viewers: one tunnel carries at most 32 streams`] : [], raw: {},
      });
    }
    const perGbit = (f: Flow) => f.cpu.server / ((f.bytes * 8) / 1e9);
    const gUs: Figure = { value: perGbit(oursGbit), unit: "CPU s/viewer-Gbit", text: `${oursGbit.mbitPerSec.toFixed(0)} Mbit/s to viewers` };
    const gPeer: Figure = { value: perGbit(peerGbit), unit: "CPU s/viewer-Gbit", text: `${peerGbit.mbitPerSec.toFixed(0)} Mbit/s to viewers` };
    const gRatio = ratioOf(gUs, gPeer);
    rows.push({
      id: "restream-cpu-gbit", figure: `streamer CPU per viewer-Gbit, ${gbitViewers} viewers over ${cameras} cameras (TCP interleaved)`, ours: gUs,
      peerName: "GStreamer RTSP server, shared media factory (rtspsrc → rtph264pay)", peer: gPeer, ratio: gRatio, goal: "≤ 1.0×", met: gRatio !== null && gRatio <= 1,
      notes: [`camera bytes in the window: ours ${(oursGbit.cpu.cameraBytes / 1e6).toFixed(1)} MB, peer ${(peerGbit.cpu.cameraBytes / 1e6).toFixed(1)} MB; ours also decrypts the agents' TLS, the peer pulls the cameras in the clear`],
      raw: { ours: oursGbit, peer: peerGbit },
    });
    const med = (xs: { frameMs: number }[]) => median(xs.map((x) => x.frameMs));
    const tUs: Figure = { value: med(ttffOurs), unit: "ms", text: `max ${Math.max(...ttffOurs.map((x) => x.frameMs)).toFixed(0)}` };
    const ttffRow = (id: string, peerName: string, xs: { frameMs: number }[]): Row => {
      const p: Figure = { value: med(xs), unit: "ms", text: `max ${Math.max(...xs.map((x) => x.frameMs)).toFixed(0)}` };
      return {
        id, figure: `time to first frame (complete IDR) for a viewer joining a live camera, 2 s GOP, median of ${joins}`, ours: tUs, peerName, peer: p,
        ratio: ratioOf(tUs, p), goal: "≤ 500 ms", met: tUs.value! <= 500, notes: [], raw: id === "restream-ttff" ? { ours: ttffOurs, peer: ttffPeer, direct: ttffDirect } : {},
      };
    };
    rows.push(ttffRow("restream-ttff", "GStreamer RTSP server, shared factory (warm)", ttffPeer));
    rows.push(ttffRow("restream-ttff-direct", "the camera directly (a fresh pipeline per client)", ttffDirect));
    return rows;
  } finally {
    await peer?.stop();
    await Promise.all(agents.map((a) => a.stop()));
    await st.proc.stop();
    await counter.stop();
    await cam.stop();
  }
}
