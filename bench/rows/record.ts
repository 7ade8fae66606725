// Recording one camera on the server: our streamer recording the shared source it pulls through
// the agent's tunnel, vs GStreamer's splitmuxsink (rtspsrc ! rtph264depay ! h264parse ! splitmuxsink,
// fragmented mp4mux) pulling the same RTSP clip straight from the camera, one after the other in
// one run. Figures: CPU seconds per minute recorded, and disk bytes per byte the camera sent.
// Ours includes terminating the agent's TLS link and the tunnel; the peer has neither.
import { execFileSync } from "node:child_process";
import { existsSync, mkdirSync, readdirSync, renameSync, symlinkSync } from "node:fs";
import { join } from "node:path";
import { FIXTURES_DIR, ensureMedia } from "../../testkit/camera";
import { startProc, tempDir } from "../../testkit/procs";
import { makePki, startStreamer } from "../../testkit/system";
import { BENCH_BUILD, cpuSeconds, sleep } from "../lib/common";
import { startOurAgent } from "../lib/flows";
import { ratioOf, type BenchOptions, type Row } from "../lib/row";

const PYTHON = existsSync("/usr/bin/python3") ? "/usr/bin/python3" : "python3";

/** A 4 Mbit/s CBR 960x540 H.264 clip as the camera's /long (cached under build/bench); its other mounts are the test clips. */
async function media(seconds: number): Promise<string> {
  const dir = join(BENCH_BUILD, `record-media-${seconds}`);
  const file = join(dir, "long.mp4");
  mkdirSync(dir, { recursive: true });
  // The camera refuses to start without any of its mounts' files: link every test clip but /long's.
  const fixtures = await ensureMedia();
  for (const f of readdirSync(fixtures)) if (f !== "long.mp4" && !existsSync(join(dir, f))) symlinkSync(join(fixtures, f), join(dir, f));
  if (existsSync(file)) return dir;
  execFileSync("ffmpeg", ["-nostdin", "-hide_banner", "-loglevel", "error", "-y", "-f", "lavfi", "-i", `testsrc2=size=960x540:rate=25:duration=${seconds}`,
    "-vf", "noise=alls=12:allf=t", "-c:v", "libx264", "-preset", "ultrafast", "-profile:v", "baseline", "-pix_fmt", "yuv420p", "-g", "50", "-keyint_min", "50",
    "-sc_threshold", "0", "-b:v", "4M", "-minrate", "4M", "-maxrate", "4M", "-bufsize", "2M", "-x264-params", "nal-hrd=cbr", "-an", file + ".tmp.mp4"], { timeout: 600_000 });
  renameSync(file + ".tmp.mp4", file);
  return dir;
}

const du = (dir: string) => Number(execFileSync("du", ["-sb", dir], { encoding: "utf8" }).split("\t")[0]);

export async function recordOneCamera(o: BenchOptions): Promise<Row[]> {
  const clipS = o.tiny ? 8 : 150;
  const windowS = o.tiny ? 3 : 60;
  const mediaDir = await media(clipS);
  const cam = await startProc(PYTHON, [join(FIXTURES_DIR, "rtsp-camera.py"), "0", mediaDir], { name: "rtsp-camera", ready: /^READY rtsp port=(\d+)/, timeoutMs: 30_000 });
  const camPort = Number(/port=(\d+)/.exec(cam.lines().join("\n"))![1]);
  const pki = makePki();
  const archiveDir = tempDir("fa-bench-archive-");
  const raw: Record<string, unknown> = { clipS, windowS };
  try {
    // Ours.
    const st = await startStreamer({
      roles: ["endpoint", "streamer"], pki, logLevel: "info", name: "streamer",
      streamerSettings: { archive: { dir: archiveDir, segment_s: 10, devices: { "*": { record: "continuous", path: "/long" } } } },
    });
    let ours: { cpu: number; disk: number; stream: number };
    let scale: { cameras: number; cpu: number; loopMaxMs: number; diskPerStream: number[] };
    try {
      const agent = await startOurAgent(pki, st, "rec-0", camPort);
      const bytesIn = async (id = "rec-0") => {
        const d = (await st.devices()).find((x) => x.id === id) as unknown as { sources?: { bytes_in: number }[] };
        return d?.sources?.[0]?.bytes_in ?? 0;
      };
      for (let i = 0; i < 100 && !(await bytesIn()); i++) await sleep(100);
      await sleep(1500);
      const c0 = cpuSeconds(st.proc.pid), d0 = du(archiveDir), b0 = await bytesIn();
      await sleep(windowS * 1000);
      const c1 = cpuSeconds(st.proc.pid), d1 = du(archiveDir), b1 = await bytesIn();
      ours = { cpu: c1 - c0, disk: d1 - d0, stream: b1 - b0 };
      // Several cameras on the one streamer (each its own device and agent, the same clip):
      // CPU per camera, and whether every archive still grows with its stream.
      const n = o.tiny ? 2 : 8;
      const agents = [agent];
      for (let i = 1; i < n; i++) agents.push(await startOurAgent(pki, st, `rec-${i}`, camPort));
      const ids = agents.map((_, i) => `rec-${i}`);
      for (let i = 0; i < 100 && (await Promise.all(ids.map((id) => bytesIn(id)))).some((b) => !b); i++) await sleep(100);
      await sleep(o.tiny ? 1000 : 3000);
      const scaleS = o.tiny ? 2 : 30;
      const s0 = cpuSeconds(st.proc.pid), in0 = await Promise.all(ids.map((id) => bytesIn(id))), disk0 = ids.map((id) => du(join(archiveDir, id)));
      await sleep(scaleS * 1000);
      const s1 = cpuSeconds(st.proc.pid), in1 = await Promise.all(ids.map((id) => bytesIn(id))), disk1 = ids.map((id) => du(join(archiveDir, id)));
      const loopMaxMs = (await st.metrics()).flussonic_event_loop_delay_max_ms ?? -1;
      scale = { cameras: n, cpu: ((s1 - s0) / scaleS) * 60, loopMaxMs, diskPerStream: ids.map((_, i) => (disk1[i] - disk0[i]) / Math.max(1, in1[i] - in0[i])) };
      raw.scale = { ...scale, windowS: scaleS };
      o.log(`record ${n} cameras: ${JSON.stringify(scale)}`);
      await Promise.all(agents.map((a) => a.stop()));
    } finally {
      await st.proc.stop();
    }
    raw.ours = ours;
    o.log(`record ours: ${JSON.stringify(ours)}`);
    // Peer: splitmuxsink straight from the camera, fragmented MP4 (1 s fragments, like ours) of 10 s.
    const peerDir = tempDir("fa-bench-splitmux-");
    const gst = await startProc("gst-launch-1.0", ["-e", "rtspsrc", `location=rtsp://127.0.0.1:${camPort}/long`, "protocols=tcp", "latency=0", "!",
      "rtph264depay", "!", "h264parse", "!", "splitmuxsink", `location=${peerDir}/seg%05d.mp4`, "max-size-time=10000000000",
      "muxer=mp4mux fragment-duration=1000"], { name: "gst-splitmux", ready: /Setting pipeline to PLAYING|New clock/, timeoutMs: 30_000 });
    let peer: { cpu: number; disk: number };
    try {
      await sleep(1500);
      const c0 = cpuSeconds(gst.pid), d0 = du(peerDir);
      await sleep(windowS * 1000);
      peer = { cpu: cpuSeconds(gst.pid) - c0, disk: du(peerDir) - d0 };
    } finally {
      await gst.stop();
    }
    raw.peer = peer;
    o.log(`record splitmuxsink: ${JSON.stringify(peer)}`);
    const perMin = (cpu: number) => (cpu / windowS) * 60;
    const oursCpu = { value: perMin(ours.cpu), unit: "CPU s/min" };
    const peerCpu = { value: perMin(peer.cpu), unit: "CPU s/min" };
    const oursDisk = { value: ours.disk / ours.stream, unit: "× stream bytes", text: `${(ours.disk / windowS / 1e6).toFixed(3)} MB/s` };
    // The peer's stream is the same clip at the same rate: its bytes over the same window.
    const peerDisk = { value: peer.disk / ours.stream, unit: "× stream bytes", text: `${(peer.disk / windowS / 1e6).toFixed(3)} MB/s` };
    return [{
      id: "record-cpu", figure: "recording one 4 Mbit/s camera: streamer CPU (incl. its TLS link and tunnel)", ours: oursCpu,
      peerName: "GStreamer splitmuxsink (mp4mux, 1 s fragments) from the camera directly", peer: peerCpu, ratio: ratioOf(oursCpu, peerCpu),
      goal: "report", met: null, notes: [`window ${windowS} s; ours ${ours.cpu.toFixed(2)} CPU s, peer ${peer.cpu.toFixed(2)} CPU s`], raw,
    }, {
      id: "record-disk", figure: "recording one 4 Mbit/s camera: disk bytes per byte the camera sent (RTP)", ours: oursDisk,
      peerName: "GStreamer splitmuxsink", peer: peerDisk, ratio: ratioOf(oursDisk, peerDisk),
      goal: "≤ 1.02×", met: ours.disk / ours.stream <= 1.02, notes: [`stream ${(ours.stream / windowS / 1e6).toFixed(3)} MB/s as RTP over the tunnel`], raw: {},
    }, (() => {
      const perCam = scale.cpu / scale.cameras;
      const keptUp = scale.diskPerStream.every((r) => r > 0.9 && r < 1.1);
      const f = { value: 60 / perCam, unit: "cameras per core", text: `extrapolated from ${scale.cameras} cameras at ${perCam.toFixed(2)} CPU s/min each; event loop max ${scale.loopMaxMs} ms` };
      return {
        id: "record-scale", figure: `4 Mbit/s cameras one streamer can record (${scale.cameras} recorded at once, CPU per camera → one core)`, ours: f,
        peerName: "—", peer: null, ratio: null, goal: "report; every archive keeps up with its stream", met: keptUp,
        notes: [`disk/stream per camera over the window: ${scale.diskPerStream.map((r) => r.toFixed(3)).join(", ")}; the agents and the camera ran on the same 2 cores`], raw: {},
      };
    })()];
  } finally {
    await cam.stop();
  }
}
