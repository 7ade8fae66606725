// ffmpeg/ffprobe as the independent RTSP client of the tests: pull a stream, hash every packet, compare.
//
//   const direct = await framemd5(cam.rtspUrl("stream1"), { frames: 120, timeoutMs: 20_000 });
//   const viaGateway = await framemd5(gatewayUrl, { frames: 120, timeoutMs: 20_000 });
//   const r = comparePackets(direct, viaGateway, { minPackets: 100 });
//   expect(r.ok, r.message).toBe(true);
import { startProc, type Proc } from "./procs";

export { slowReader, openRtspSession, type RtspSession } from "./rtsp-client";

/** One line of `-f framemd5`: a compressed packet as ffmpeg received it (`-c copy`). */
export interface Packet {
  stream: number;
  dts: number;
  pts: number;
  duration: number;
  size: number;
  /** MD5 of the packet payload. Side data (e.g. RTCP wall-clock PRFT) is deliberately not part of it. */
  hash: string;
}

export interface PullOptions {
  /** Stop after this many video packets (`-frames:v N`); default: until the stream ends. */
  frames?: number;
  /** Kill ffmpeg and reject after this long. */
  timeoutMs: number;
  /** Input options inserted before `-i` (e.g. ["-timeout", "5000000"] or ["-user_agent", "x"]). */
  extraArgs?: string[];
  /** Default "tcp" (RTP interleaved in the RTSP connection). */
  transport?: "tcp" | "udp";
  /** Which stream to hash (default "0:v:0"); with "0:a:0", `frames` counts audio packets. */
  map?: string;
}

const quiet = ["-nostdin", "-hide_banner", "-loglevel", "error"];

/**
 * `ffmpeg -rtsp_transport tcp -i URL -c copy -f framemd5 -` and the parsed packets.
 * Rejects (with ffmpeg's stderr in the message, e.g. "401 Unauthorized") if ffmpeg fails or times out.
 */
export async function framemd5(url: string, opts: PullOptions): Promise<Packet[]> {
  const out = await runToEnd("ffmpeg", framemd5Args(url, opts), opts.timeoutMs);
  return parseFramemd5(out);
}

function framemd5Args(url: string, opts: Omit<PullOptions, "timeoutMs">): string[] {
  return [
    ...quiet,
    "-rtsp_transport", opts.transport ?? "tcp",
    ...(opts.extraArgs ?? []),
    "-i", url,
    "-map", opts.map ?? "0:v:0", "-c", "copy",
    ...(opts.frames ? [(opts.map ?? "0:v").startsWith("0:a") ? "-frames:a" : "-frames:v", String(opts.frames)] : []),
    "-f", "framemd5", "-",
  ];
}

/** A framemd5 pull that runs in the background, for "the stream keeps flowing while X happens". */
export interface LivePull {
  proc: Proc;
  /** Packets received so far. */
  packets(): Packet[];
  /** Resolves once at least n packets arrived; rejects on timeout or if ffmpeg exits short of n. */
  waitForPackets(n: number, timeoutMs: number): Promise<Packet[]>;
  /** Stops ffmpeg (SIGTERM: it flushes its output) and returns every packet received. */
  stop(): Promise<Packet[]>;
}

/** Starts `ffmpeg … -f framemd5 -` without waiting for it; pause it with `pull.proc.signal("SIGSTOP")`. */
export async function startPull(url: string, opts: Omit<PullOptions, "timeoutMs"> = {}): Promise<LivePull> {
  const proc = await startProc("ffmpeg", framemd5Args(url, opts), { name: "ffmpeg-pull", stdoutMode: "raw" });
  // Only complete lines: the last one may still be being written.
  const packets = () => parseFramemd5(proc.stdout().replace(/[^\n]*$/, ""));
  return {
    proc,
    packets,
    waitForPackets: async (n, timeoutMs) => {
      const until = Date.now() + timeoutMs;
      for (;;) {
        const got = packets();
        if (got.length >= n) return got;
        const e = proc.exit();
        if (e) throw new Error(`ffmpeg exited (code ${e.code}) after ${got.length} of ${n} packets:\n${proc.output().slice(-2000)}`);
        if (Date.now() > until) throw new Error(`ffmpeg: ${got.length} of ${n} packets within ${timeoutMs} ms:\n${proc.output().slice(-2000)}`);
        await new Promise((r) => setTimeout(r, 50));
      }
    },
    stop: async () => {
      await proc.stop();
      return packets();
    },
  };
}

export interface ProbeStream {
  index: number;
  codec_type: string;
  codec_name: string;
  profile?: string;
  width?: number;
  height?: number;
  [key: string]: unknown;
}

/** `ffprobe -show_streams` over RTSP/TCP (or any URL), parsed. */
export async function ffprobe(url: string, opts: { timeoutMs: number; extraArgs?: string[] }): Promise<ProbeStream[]> {
  const rtsp = url.startsWith("rtsp") ? ["-rtsp_transport", "tcp"] : [];
  const args = ["-v", "error", ...rtsp, ...(opts.extraArgs ?? []), "-show_streams", "-of", "json", url];
  const out = await runToEnd("ffprobe", args, opts.timeoutMs);
  return (JSON.parse(out) as { streams?: ProbeStream[] }).streams ?? [];
}

/** Parses framemd5 text: "stream, dts, pts, duration, size, hash[, S=n, size, hash…]" per packet. */
export function parseFramemd5(text: string): Packet[] {
  const packets: Packet[] = [];
  for (const line of text.split("\n")) {
    if (!line || line.startsWith("#")) continue;
    const f = line.split(",").map((s) => s.trim());
    if (f.length < 6 || !/^[0-9a-f]{32}$/.test(f[5])) throw new Error(`unexpected framemd5 line: ${line}`);
    packets.push({ stream: +f[0], dts: +f[1], pts: +f[2], duration: +f[3], size: +f[4], hash: f[5] });
  }
  return packets;
}

export interface CompareOptions {
  /** Fail unless at least this many packets were compared (default 1). */
  minPackets?: number;
  /** Also require both lists to have the same length (default false: compare the common prefix). */
  sameLength?: boolean;
  /** Allowed difference of dts/pts, each taken relative to its list's first packet, in stream time
   *  base units (90 kHz for RTSP video). Default 1 tick; Infinity to ignore timestamps. */
  tsTolerance?: number;
}

export interface CompareResult {
  ok: boolean;
  /** Packets compared (the common prefix, or up to the first mismatch). */
  compared: number;
  /** Human-readable verdict; names the first mismatching packet. */
  message: string;
}

/** Compares two pulls packet by packet: same order, same payload hashes, timestamps within a tick. */
export function comparePackets(a: Packet[], b: Packet[], opts: CompareOptions = {}): CompareResult {
  const tol = opts.tsTolerance ?? 1;
  const min = opts.minPackets ?? 1;
  const n = Math.min(a.length, b.length);
  const a0 = a[0], b0 = b[0];
  const show = (p: Packet) => `{stream ${p.stream} dts ${p.dts} pts ${p.pts} size ${p.size} hash ${p.hash}}`;
  for (let i = 0; i < n; i++) {
    const x = a[i], y = b[i];
    let why = "";
    if (x.stream !== y.stream) why = "stream index";
    else if (x.size !== y.size || x.hash !== y.hash) why = "payload";
    else if (Math.abs(x.dts - a0.dts - (y.dts - b0.dts)) > tol) why = "dts (relative to the first packet)";
    else if (Math.abs(x.pts - a0.pts - (y.pts - b0.pts)) > tol) why = "pts (relative to the first packet)";
    if (why) {
      return { ok: false, compared: i, message: `packet #${i} differs in ${why}: a=${show(x)} b=${show(y)} (${i} packets matched before it)` };
    }
  }
  if (opts.sameLength && a.length !== b.length) {
    return { ok: false, compared: n, message: `lengths differ: a has ${a.length} packets, b has ${b.length} (first ${n} match)` };
  }
  if (n < min) {
    return { ok: false, compared: n, message: `only ${n} packets to compare (a ${a.length}, b ${b.length}), need ${min}` };
  }
  return { ok: true, compared: n, message: `${n} packets identical (a ${a.length}, b ${b.length})` };
}

/** Runs a program to completion; resolves with stdout, rejects with the exit status and stderr. */
async function runToEnd(cmd: string, args: string[], timeoutMs: number): Promise<string> {
  // framemd5/JSON go to stdout, kept apart from the diagnostics on stderr.
  const p = await startProc(cmd, args, { name: cmd, stdoutMode: "raw" });
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    void p.stop(500);
  }, timeoutMs);
  const e = await p.exited;
  clearTimeout(timer);
  if (timedOut || e.code !== 0) {
    const why = timedOut ? `timed out after ${timeoutMs} ms` : e.signal ? `killed by ${e.signal}` : `exit code ${e.code}`;
    throw new Error(`${cmd} ${args.join(" ")}: ${why}\n${p.output().slice(-2000)}`);
  }
  return p.stdout();
}
