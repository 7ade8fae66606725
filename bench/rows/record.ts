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
import { makePki, startStreamer, type Pki } from "../../testkit/system";
import { BENCH_BUILD, cpuSeconds, sleep, type BenchStreamer } from "../lib/common";
import { startSwarm } from "../lib/swarm-client";
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

/** Segment length of the recordings here, as the streamer's default. */
const SEGMENT_S = 10;

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
      streamerSettings: { archive: { dir: archiveDir, segment_s: SEGMENT_S, devices: { "*": { record: "continuous", path: "/long" } } } },
    });
    let ours: { cpu: number; disk: number; stream: number };
    let ramp: RampResult;
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
      await agent.stop();
      ramp = await rampCameras(o, st, pki, camPort, ours.stream / windowS, archiveDir);
      raw.ramp = ramp;
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
      const ok = ramp.steps.filter((x) => x.keptUp);
      const best = ok[ok.length - 1];
      const f = { value: best ? best.cameras : 0, unit: "cameras", text: ramp.verdict };
      return {
        id: "record-scale", figure: "4 Mbit/s cameras one streamer records before it falls behind (ramp)", ours: f,
        peerName: "—", peer: null, ratio: null, goal: "report", met: null,
        notes: ramp.steps.map((x) => `${x.cameras} cameras: ${x.keptUp ? "kept up" : "fell behind"}; ${x.why}`), raw: {},
      };
    })()];
  } finally {
    await cam.stop();
  }
}

interface RampStep {
  cameras: number;
  /** Every camera delivered at least FED of the single camera's rate to the streamer. */
  fed: boolean;
  keptUp: boolean;
  why: string;
  cpuPerMin: number;
  loopMaxMs: number;
  inRate: { min: number; median: number };
  diskPerStream: { min: number; max: number };
  lagS: { max: number };
  notRecording: number;
}
interface RampResult {
  steps: RampStep[];
  verdict: string;
}

/** Fractions of the single camera's byte rate (in), and of each camera's own stream (disk), that count as keeping up. */
const FED = 0.95;
const DISK_MIN = 0.95;
/** Write lag (now − the end of the media last written to disk, the segment under way included) beyond which the disk trails the cameras. */
const MAX_LAG_S = 5;

/**
 * How many cameras one streamer records before it falls behind: 8, 16, 32, 64, 96, 128 cameras (the
 * product's Agent class in a few swarm processes, each agent relaying its own session of the
 * camera's 4 Mbit/s clip), each step a fresh fleet, WINDOW seconds measured after every archive
 * is recording. The recorder has fallen behind at a step when any camera's archive grew less than
 * DISK_MIN of the bytes its source received over the window, when what is written to disk trails
 * the wall clock by more than MAX_LAG_S at the window's end (write lag: fragments, ≤ 1 s each,
 * queue in memory and are written late; healthy is 1–2 s), or when any archive is not in state "recording" (a write
 * error, including the recorder's own "disk too slow" cut at 16 MiB queued). When a camera
 * delivers less than FED of the single camera's rate, the feed (the camera, agents and tunnel on
 * the same machine) is the limit, not the recorder: the ramp stops and says so.
 */
async function rampCameras(o: BenchOptions, st: BenchStreamer, pki: Pki, camPort: number, oneRate: number, archiveDir: string): Promise<RampResult> {
  const sizes = o.tiny ? [2] : [8, 16, 32, 64, 96, 128];
  const windowS = o.tiny ? 2 : 20;
  // Bounded in time as well as in count: a step that would start past this is not run.
  const until = Date.now() + (o.tiny ? 60_000 : 9 * 60_000);
  const steps: RampStep[] = [];
  let verdict = "";
  for (const n of sizes) {
    if (Date.now() + (windowS + 40) * 1000 > until) {
      verdict = `stopped at the time cap before ${n} cameras`;
      break;
    }
    const prefix = `rk${n}x`;
    const swarm = await startSwarm({
      n, children: Math.min(4, Math.ceil(n / 16)), prefix, streamer: `127.0.0.1:${st.ports.streamer}`, endpoint: `127.0.0.1:${st.ports.endpoint}`,
      caFile: pki.caFile, reconnect: { base_ms: 1000, cap_ms: 5000 }, rampMs: Math.min(5000, n * 50), maxMs: 180_000, rtsp: `127.0.0.1:${camPort}`,
    });
    try {
      type Dev = { id: string; sources?: { bytes_in: number }[]; archive?: { state: string; written_to_ms: number | null } | null };
      const fleet = async () => ((await st.devices()) as unknown as Dev[]).filter((d) => d.id.startsWith(prefix));
      // Every camera's archive recording (or the wait's bound), then a moment for the sessions to settle.
      const ready = Date.now() + 60_000;
      for (;;) {
        const f = await fleet();
        if (f.length >= n && f.every((d) => d.archive?.state === "recording")) break;
        if (Date.now() > ready) break;
        await sleep(500);
      }
      await sleep(3000);
      const ids = (await fleet()).map((d) => d.id).sort();
      const bytesIn = async () => {
        const m = new Map((await fleet()).map((d) => [d.id, d.sources?.[0]?.bytes_in ?? 0]));
        return ids.map((id) => m.get(id) ?? 0);
      };
      const c0 = cpuSeconds(st.proc.pid), in0 = await bytesIn(), d0 = ids.map((id) => du(join(archiveDir, id)));
      await sleep(windowS * 1000);
      const c1 = cpuSeconds(st.proc.pid), in1 = await bytesIn(), d1 = ids.map((id) => du(join(archiveDir, id)));
      const end = await fleet();
      const now = Date.now();
      const loopMaxMs = (await st.metrics()).flussonic_event_loop_delay_max_ms ?? -1;
      const rates = ids.map((_, i) => (in1[i] - in0[i]) / windowS).sort((a, b) => a - b);
      const disk = ids.map((_, i) => (d1[i] - d0[i]) / Math.max(1, in1[i] - in0[i]));
      const lags = end.map((d) => (d.archive?.written_to_ms ? (now - d.archive.written_to_ms) / 1000 : Infinity));
      const notRecording = end.filter((d) => d.archive?.state !== "recording").length + Math.max(0, n - end.length);
      const fed = ids.length === n && rates[0] >= FED * oneRate;
      const lagMax = Math.max(...lags);
      const reasons: string[] = [];
      if (Math.min(...disk) < DISK_MIN) reasons.push(`an archive grew ${Math.min(...disk).toFixed(3)}× its stream`);
      if (lagMax > MAX_LAG_S) reasons.push(`write lag ${lagMax.toFixed(1)} s`);
      if (notRecording) reasons.push(`${notRecording} archive(s) not recording`);
      const step: RampStep = {
        cameras: n, fed, keptUp: fed && !reasons.length, cpuPerMin: ((c1 - c0) / windowS) * 60, loopMaxMs,
        inRate: { min: rates[0] ?? 0, median: rates[Math.floor(rates.length / 2)] ?? 0 },
        diskPerStream: { min: Math.min(...disk), max: Math.max(...disk) }, lagS: { max: lagMax }, notRecording,
        why: "",
      };
      step.why = [
        ...reasons,
        ...(ids.length < n ? [`only ${ids.length} of ${n} cameras came online within 60 s (the camera, agents and tunnel share the machine)`] : []),
        ...(ids.length === n && !fed ? [`fed ${(rates[0] / oneRate).toFixed(2)}× of one camera's rate at the slowest (the camera, agents and tunnel share the machine)`] : []),
        `streamer ${step.cpuPerMin.toFixed(1)} CPU s/min (${(step.cpuPerMin / 60 * 100).toFixed(0)} % of a core), event loop max ${loopMaxMs} ms, disk/stream ${step.diskPerStream.min.toFixed(3)}–${step.diskPerStream.max.toFixed(3)}, write lag ≤ ${lagMax.toFixed(1)} s`,
      ].join("; ");
      steps.push(step);
      o.log(`record ramp ${n} cameras: ${JSON.stringify(step)}`);
      if (!step.keptUp) {
        verdict = reasons.length ? `fell behind at ${n} cameras: ${reasons.join(", ")}` : `the feed ran short at ${n} cameras (${step.why.split("; ")[0]}): the recorder had not fallen behind`;
        break;
      }
    } finally {
      await swarm.stop();
    }
    // The fleet's sources end and their recorders close their segments before the next step.
    await sleep(3000);
  }
  const ok = steps.filter((x) => x.keptUp);
  if (!verdict) verdict = `kept up at every step, up to the cap of ${sizes[sizes.length - 1]}`;
  else if (ok.length) verdict = `${ok[ok.length - 1].cameras} kept up; ${verdict}`;
  return { steps, verdict };
}
