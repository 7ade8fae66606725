// Moving bytes for the throughput/CPU rows: the flood camera, viewer processes, our tunnel
// (streamer + agent) and the peers' tunnels (stunnel, socat, sshd -R, OpenVPN).
import { execFileSync } from "node:child_process";
import { writeFileSync } from "node:fs";
import { connect } from "node:net";
import { join } from "node:path";
import { freePort, startProc, tempDir, type Proc } from "../../testkit/procs";
import type { Pki } from "../../testkit/system";
import { BENCH_BUILD, BUNDLE, provisionAgent, sleep, treeCpuSeconds, type BenchStreamer } from "./common";

/** Runs argv inside a network namespace when one is given. */
export function inNs(ns: string | undefined, cmd: string, args: string[]): [string, string[]] {
  return ns ? ["ip", ["netns", "exec", ns, cmd, ...args]] : [cmd, args];
}

/**
 * Streamer settings for rows that flood one viewer per stream as fast as the path goes. A live
 * restreamer skips a viewer whose socket queue passes viewer_queue_bytes (2 MiB) and disconnects it
 * after three skips; at 2-3 Gbit/s that is ~6 ms of lag, which a viewer process on a busy machine
 * has now and then — the row's outliers (0, 39, 254 Mbit/s) were such disconnects, not the path.
 * The peers (stunnel, socat, sshd) never drop: TCP slows their camera instead. 64 MiB here.
 */
export const FLOOD_STREAMER_SETTINGS = { media: { viewer_queue_bytes: 64 * 1024 * 1024 } };

/** Lines where the streamer disconnected a viewer as too slow (a flood row's figure is then not the path's). */
export const slowViewerLines = (output: string) => output.split("\n").filter((l) => / too slow /.test(l));

export async function startFlood(o: { bitsPerSec?: number; host?: string; ns?: string } = {}): Promise<{ proc: Proc; port: number }> {
  const [cmd, args] = inNs(o.ns, process.execPath, [join(BENCH_BUILD, "flood-camera.mjs"), JSON.stringify({ port: 0, host: o.host ?? "127.0.0.1", bitsPerSec: o.bitsPerSec ?? 0 })]);
  const proc = await startProc(cmd, args, { name: "flood-camera", ready: /^READY rtsp port=(\d+)/, timeoutMs: 10_000 });
  return { proc, port: Number(proc.ready[1]) };
}

export interface Flow {
  bytes: number;
  seconds: number;
  mbitPerSec: number;
  /** CPU seconds of each watched process tree during the measured window. */
  cpu: Record<string, number>;
}

/**
 * Plays `n` sessions of each URL in a viewers process; measures bytes and the CPU the watched
 * processes (trees) spent while the viewers were counting.
 */
export async function measureFlow(urls: string[], n: number, durationMs: number, watch: Record<string, () => number>, ns?: string): Promise<Flow> {
  const [cmd, args] = inNs(ns, process.execPath, [join(BENCH_BUILD, "viewers.mjs"), JSON.stringify({ urls, n, warmupMs: 1000, durationMs })]);
  const v = await startProc(cmd, args, { name: "viewers" });
  await v.waitForLine(/^MEASURING|^RESULT/, { timeoutMs: 40_000 });
  watch = { ...watch, viewers: () => treeCpuSeconds(v.pid) };
  const c0 = Object.fromEntries(Object.entries(watch).map(([k, f]) => [k, f()]));
  const m = await v.waitForLine(/^RESULT (.*)/, { timeoutMs: durationMs + 40_000 });
  const cpu = Object.fromEntries(Object.entries(watch).map(([k, f]) => [k, f() - c0[k]]));
  await v.stop();
  const r = JSON.parse(m[1]) as { bytes?: number; seconds?: number; error?: string };
  if (r.error !== undefined || r.bytes === undefined) throw new Error(`viewers of ${urls[0]}: ${r.error}`);
  return { bytes: r.bytes, seconds: r.seconds!, mbitPerSec: (r.bytes * 8) / r.seconds! / 1e6, cpu };
}

/** One flood flow through a relay pair (stunnel, socat, plain Node): CPU of its two halves and the camera. */
export const measurePairFlow = (pair: { port: number; procs: Proc[] }, cameraPid: number, durationMs: number) =>
  measureFlow([`rtsp://127.0.0.1:${pair.port}/flood`], 1, durationMs, {
    server: () => treeCpuSeconds(pair.procs[0].pid), client: () => treeCpuSeconds(pair.procs[1].pid), camera: () => treeCpuSeconds(cameraPid),
  });

/** One flood flow through our streamer and an agent started for `deviceId`: CPU of both and the camera. */
export const measureOurFlow = (st: BenchStreamer, agent: Proc, deviceId: string, cameraPid: number, durationMs: number) =>
  measureFlow([st.rtspUrl(deviceId, "flood")], 1, durationMs, {
    streamer: () => treeCpuSeconds(st.proc.pid), agent: () => treeCpuSeconds(agent.pid), camera: () => treeCpuSeconds(cameraPid),
  });

/** CPU seconds per gigabit of payload. */
export const cpuPerGbit = (cpuS: number, f: Flow) => cpuS / ((f.bytes * 8) / 1e9);
/** CPU milliseconds per megabit of payload. */
export const cpuMsPerMbit = (cpuS: number, f: Flow) => (cpuS * 1000) / ((f.bytes * 8) / 1e6);

/**
 * Our agent (Node build by default, or `cmd` e.g. qemu-arm-static + native binary) for one camera;
 * it dials `streamerPort` (the streamer's own by default, e.g. a delaying proxy's instead).
 */
export async function startOurAgent(pki: Pki, st: BenchStreamer, deviceId: string, camPort: number, cmd?: string[], streamerPort = st.ports.streamer): Promise<Proc> {
  const a = provisionAgent(pki, deviceId, `127.0.0.1:${st.ports.endpoint}`, `127.0.0.1:${streamerPort}`,
    { rtsp: `127.0.0.1:${camPort}`, http: "127.0.0.1:9" });
  // BENCH_AGENT_CMD (JSON argv, like the tests' FLUSSONIC_AGENT_CMD) swaps in another agent build.
  const env = process.env.BENCH_AGENT_CMD;
  const [c, ...pre] = cmd ?? (env ? (JSON.parse(env) as string[]) : [process.execPath, join(BUNDLE, "agent-node.mjs")]);
  return startProc(c, [...pre, "--config", a.configFile], { name: `agent ${deviceId}`, ready: /session live at streamer/, timeoutMs: 30_000 });
}

/** Resolves once something accepts TCP connections on host:port (bounded). */
export async function waitPort(port: number, timeoutMs: number, host = "127.0.0.1", ns?: string): Promise<void> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const ok = ns
      ? (() => {
        try {
          execFileSync("ip", ["netns", "exec", ns, "bash", "-c", `exec 3<>/dev/tcp/${host}/${port}`], { stdio: "ignore", shell: false });
          return true;
        } catch {
          return false;
        }
      })()
      : await new Promise<boolean>((r) => {
        const s = connect({ host, port }, () => {
          s.destroy();
          r(true);
        });
        s.on("error", () => r(false));
      });
    if (ok) return;
    if (Date.now() > end) throw new Error(`nothing listens on ${host}:${port} after ${timeoutMs} ms`);
    await sleep(100);
  }
}

/** stunnel4 pair: plain → TLS client → TLS server → camera. Returns the plain port viewers use. */
export async function startStunnelPair(pki: Pki, camPort: number): Promise<{ port: number; procs: Proc[] }> {
  const dir = tempDir("fa-bench-stunnel-");
  const [tlsPort, plainPort] = [await freePort(), await freePort()];
  writeFileSync(join(dir, "server.conf"), `foreground = yes\npid =\ndebug = 3\n[srv]\naccept = 127.0.0.1:${tlsPort}\nconnect = 127.0.0.1:${camPort}\ncert = ${pki.certFile}\nkey = ${pki.keyFile}\n`);
  writeFileSync(join(dir, "client.conf"), `foreground = yes\npid =\ndebug = 3\n[cli]\nclient = yes\naccept = 127.0.0.1:${plainPort}\nconnect = 127.0.0.1:${tlsPort}\nCAfile = ${pki.caFile}\nverifyChain = yes\ncheckHost = localhost\n`);
  const srv = await startProc("stunnel4", [join(dir, "server.conf")], { name: "stunnel-server" });
  const cli = await startProc("stunnel4", [join(dir, "client.conf")], { name: "stunnel-client" });
  await waitPort(tlsPort, 10_000);
  await waitPort(plainPort, 10_000);
  return { port: plainPort, procs: [srv, cli] };
}

/**
 * The same pair as plain Node (bench/node-tls-pair.ts: tls, net, pipe, default ciphers): what any
 * Node relay costs before it does anything of its own.
 */
export async function startNodeTlsPair(pki: Pki, camPort: number): Promise<{ port: number; procs: Proc[] }> {
  const [tlsPort, plainPort] = [await freePort(), await freePort()];
  const script = join(BENCH_BUILD, "node-tls-pair.mjs");
  const srv = await startProc(process.execPath, [script, "server", String(tlsPort), String(camPort), pki.certFile, pki.keyFile], { name: "node-tls-server", ready: /^READY/ });
  const cli = await startProc(process.execPath, [script, "client", String(plainPort), String(tlsPort), pki.caFile], { name: "node-tls-client", ready: /^READY/ });
  return { port: plainPort, procs: [srv, cli] };
}

/** socat pair with OpenSSL: the same shape as the stunnel pair. */
export async function startSocatPair(pki: Pki, camPort: number): Promise<{ port: number; procs: Proc[] }> {
  const [tlsPort, plainPort] = [await freePort(), await freePort()];
  const srv = await startProc("socat", [`OPENSSL-LISTEN:${tlsPort},bind=127.0.0.1,reuseaddr,fork,cert=${pki.certFile},key=${pki.keyFile},verify=0`, `TCP:127.0.0.1:${camPort}`], { name: "socat-server" });
  const cli = await startProc("socat", [`TCP-LISTEN:${plainPort},bind=127.0.0.1,reuseaddr,fork`, `OPENSSL:127.0.0.1:${tlsPort},cafile=${pki.caFile},commonname=localhost`], { name: "socat-client" });
  await waitPort(tlsPort, 10_000);
  await waitPort(plainPort, 10_000);
  return { port: plainPort, procs: [srv, cli] };
}
