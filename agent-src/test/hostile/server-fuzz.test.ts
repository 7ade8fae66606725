// Server fuzz suite: a real streamer (endpoint + streamer roles) under mutated input from every side
// it faces, while a real agent relays the GStreamer camera to a real ffmpeg viewer:
//   http    mutated viewer requests to the HTTP gateway and the admin API
//   rtsp    mutated viewer RTSP (ffmpeg's own requests, captured, re-signed with Digest, mutated)
//   camera  a hostile camera behind a second real agent answering with mutated RTSP/HTTP
//   frames  malformed link frames from an authenticated (and sometimes non-reading) device
//   backchannel  mutated ONVIF two-way-audio sessions (requests and the talker's RTP), relayed to a
//           real ONVIF camera with a speaker; afterwards the talker lock is free and a real talker is heard
// After each phase: the process is up and answering, its RSS stayed under a bound, the viewer kept
// playing, and connections left hanging were closed by the server's timeouts.
//
// Seeded and bounded in cases and time. make test runs a small size; bench/fuzz.sh runs millions:
//   SERVER_FUZZ_SEED, SERVER_FUZZ_CASES (per phase), SERVER_FUZZ_SECONDS (per phase),
//   SERVER_FUZZ_RSS_GROWTH_MIB, SERVER_FUZZ_PHASES (e.g. "http,rtsp").
import * as net from "node:net";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Challenge } from "../../src/protocol/control";
import { encodeFrame, FrameType } from "../../src/protocol/frame";
import { RtspParser, getHeader, serialize, setHeader, removeHeader, type RtspMessage } from "../../src/server/util/rtsp";
import { startCamera, type Camera } from "../../../testkit/camera";
import { startProc, type Proc } from "../../../testkit/procs";
import { openBackchannel } from "../../../testkit/backchannel-client";
import { ensureMedia, FIXTURES_DIR } from "../../../testkit/camera";
import { authFor, deviceKeyFor, RawAgent } from "../../../testkit/fake-server";
import { framemd5 } from "../../../testkit/ffmpeg";
import { badChunkedBody, mutate, show, type Rand } from "../../../testkit/mutate";
import { memKb } from "../../../testkit/proc-stats";
import { authorizer } from "../../../testkit/rtsp-client";
import { startScriptedServer, type ScriptedServer } from "../../../testkit/scripted-server";
import { cameraTargets, makePki, SECRET, startAgent, startStreamer, VIEWER, type AgentProc, type Pki, type StreamerProc } from "../../../testkit/system";
import { startTap } from "../../../testkit/tap";
import { watchViewer, type WatchedViewer } from "../../../testkit/watch-viewer";
import { frameSource } from "../unit/fuzz";
import { rng } from "../unit/memsock";

const SEED = Number(process.env.SERVER_FUZZ_SEED ?? 20261129);
const CASES = Number(process.env.SERVER_FUZZ_CASES ?? 300);
const SECONDS = Number(process.env.SERVER_FUZZ_SECONDS ?? 12);
const RSS_GROWTH_MIB = Number(process.env.SERVER_FUZZ_RSS_GROWTH_MIB ?? 150);
const PHASES = (process.env.SERVER_FUZZ_PHASES ?? "http,rtsp,camera,frames,backchannel").split(",");
/** First case index: with SERVER_FUZZ_CASES=FIRST+1 it replays one case (each case has its own seed). */
const FIRST = Number(process.env.SERVER_FUZZ_FIRST ?? 0);

// Short timeouts so cases left hanging are closed within the phase; per-IP limits high because
// every attacker here is 127.0.0.1 (the soak covers the limits themselves).
const LIMITS = {
  handshake_timeout_ms: 2000, rtsp_request_timeout_ms: 2000, rtsp_idle_timeout_ms: 3000,
  http_request_timeout_ms: 2000, http_keepalive_timeout_ms: 1000, camera_timeout_ms: 2000,
  camera_response_max_bytes: 1024 * 1024, viewer_connections_per_ip: 2000, viewer_connections_total: 8000,
  agent_pending_per_ip: 2000, viewer_streams_per_device: 1024,
};
/** A case that got neither an answer nor a close within this is "hanging": a sample is watched. */
const CASE_WAIT_MS = 300;
const HANG_SLACK_MS = 2500;
const WATCH_MAX = 20;

let pki: Pki, cam: Camera, hostile: { rtsp: ScriptedServer; http: ScriptedServer };
let server: StreamerProc, agentA: AgentProc, agentB: AgentProc, idA: string, idB: string;
let viewer: WatchedViewer | null = null;
/** The backchannel phase's ONVIF camera (with a speaker) and the agent in front of it. */
let onvifCam: Proc | null = null, agentC: AgentProc | null = null, idC = "";
let baselineRssKb = 0;
const basic = "Basic " + Buffer.from(`${VIEWER.name}:${VIEWER.password}`).toString("base64");

/** What the real ffmpeg and the real camera said, captured through taps in beforeAll. */
const captured = {
  viewerRtsp: [] as RtspMessage[], cameraRtsp: new Map<string, RtspMessage>(), rtp: [] as Buffer[], cameraHttp: Buffer.alloc(0),
  /** A real talker's requests (DESCRIBE … PLAY, without TEARDOWN) and one of its RTP packets. */
  talkerRtsp: [] as RtspMessage[], talkerTeardown: null as RtspMessage | null, talkerRtp: Buffer.alloc(0),
};

// ---------------------------------------------------------------------------------------------
// The system, (re)started as needed: a phase that kills the streamer must not hide the next one's.

async function startServer(dir?: string, p = server?.ports): Promise<StreamerProc> {
  return startStreamer({
    roles: ["endpoint", "streamer"], pki, tokens: ["fz-a", "fz-b", "fz-c"], limits: LIMITS, dir, ports: p,
    admission: { rate: 10_000, burst: 10_000, retry_ms: 1000 }, name: "streamer(fuzz)",
  });
}

async function responsive(timeoutMs = 2000): Promise<boolean> {
  try {
    const r = await fetch(`http://127.0.0.1:${server.ports.admin}/metrics`, { signal: AbortSignal.timeout(timeoutMs) });
    await r.text();
    return r.ok;
  } catch {
    return false;
  }
}

async function ensureUp(): Promise<void> {
  if (server.proc.exit() === null && (await responsive())) {
    if (!viewer) viewer = await watchViewer(server.rtspUrl(idA, "long"));
    return;
  }
  await viewer?.stop();
  viewer = null;
  await server.proc.stop(500);
  server = await startServer(server.dir);
  const until = Date.now() + 30_000;
  for (;;) {
    const online = (await server.devices()).filter((d) => d.state === "online").map((d) => d.id);
    if (online.includes(idA) && online.includes(idB) && (!idC || online.includes(idC))) break;
    if (Date.now() > until) throw new Error(`agents did not come back after a streamer restart: ${online}`);
    await sleep(200);
  }
  baselineRssKb = memKb(server.proc.pid).rss;
  viewer = await watchViewer(server.rtspUrl(idA, "long"));
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
/**
 * 'drain' or ms, whichever first, leaving no listener behind: a server that stops reading never
 * drains, and a once("drain") per round raced against a sleep piled up (MaxListenersExceededWarning).
 */
const drainOr = (sock: NodeJS.EventEmitter, ms: number) => new Promise<void>((res) => {
  const done = () => {
    clearTimeout(t);
    sock.removeListener("drain", done);
    res();
  };
  const t = setTimeout(done, ms);
  sock.once("drain", done);
});

// ---------------------------------------------------------------------------------------------
// Phase bookkeeping: cases run with bounded concurrency, a ring of recent cases for failure
// messages, RSS and liveness sampled throughout.

interface CaseLog {
  n: number;
  what: string;
}

interface PhaseReport {
  phase: string;
  cases: number;
  seconds: number;
  outcomes: Record<string, number>;
  problems: string[];
  maxRssMiB: number;
  viewer: { packets: number; expected: number; maxGapMs: number; restarts: number };
}

async function runPhase(name: string, concurrency: number, oneCase: (r: Rand, n: number, log: (what: string) => void) => Promise<string>,
  watch: Watchers): Promise<PhaseReport> {
  await ensureUp();
  const seed = (SEED ^ hash(name)) >>> 0;
  const problems: string[] = [];
  const outcomes: Record<string, number> = {};
  const recent: CaseLog[] = [];
  const pid = server.proc.pid;
  const mark = viewer!.mark();
  const t0 = Date.now();
  let maxRss = memKb(pid).rss;
  let died: string | null = null;
  let next = FIRST;
  const deadline = t0 + SECONDS * 1000;
  // Liveness monitor: the first moment the process is gone, unresponsive or too big is what we report.
  let monitoring = true;
  const exited = () => {
    const e = server.proc.exit();
    if (e && !died) {
      died = `streamer exited (${e.signal ?? `code ${e.code}`}) during ${name}`;
      problems.push(`${died}; last cases sent:\n${recent.map((c) => `  #${c.n} ${c.what}`).join("\n")}\n${server.proc.lines().filter((l) => /Error|throw|at /.test(l)).slice(0, 6).join("\n")}`);
    }
    return !!e;
  };
  const monitor = (async () => {
    while (monitoring && !died) {
      if (!exited()) {
        try {
          maxRss = Math.max(maxRss, memKb(pid).rss);
        } catch {
          /* gone: the next round says so */
        }
        if (!(await responsive(3000)) && server.proc.exit() === null) {
          died = `streamer stopped answering its admin API for 3 s (CPU-bound?) during ${name}`;
          problems.push(`${died}; last cases sent:\n${recent.map((c) => `  #${c.n} ${c.what}`).join("\n")}`);
        }
      }
      await sleep(250);
    }
  })();
  const worker = async () => {
    while (!died && !exited() && next < CASES && Date.now() < deadline) {
      const n = next++;
      const r = rng(seed + n * 7919);
      const entry: CaseLog = { n, what: "" };
      recent.push(entry);
      if (recent.length > 12) recent.shift();
      let outcome: string;
      try {
        outcome = await oneCase(r, n, (what) => (entry.what = what));
      } catch (e) {
        outcome = `error: ${(e as Error).message.split("\n")[0].slice(0, 80)}`;
      }
      // Bounded, for million-case runs on code that fails most of them.
      if (outcome.startsWith("FAIL") && problems.length < 50) problems.push(`case #${n} (seed ${seed}): ${outcome.slice(5)}\n  ${entry.what}`);
      const key = outcome.startsWith("FAIL") ? "FAIL" : outcome;
      outcomes[key] = (outcomes[key] ?? 0) + 1;
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
  const cases = next - FIRST;
  // Connections the cases left hanging must be closed by the server's own timeouts.
  problems.push(...(await watch.verdict()));
  monitoring = false;
  await monitor;
  if (!exited() && !died && !(await responsive(5000))) problems.push(`streamer not answering after ${name}`);
  const w = viewer!.since(mark);
  const expected = Math.round((w.ms / 1000) * 25);
  const rssMiB = maxRss / 1024;
  if (maxRss - baselineRssKb > RSS_GROWTH_MIB * 1024) {
    problems.push(`RSS grew from ${(baselineRssKb / 1024).toFixed(0)} to ${rssMiB.toFixed(0)} MiB (bound: +${RSS_GROWTH_MIB} MiB)`);
  }
  if (!died && (w.maxGapMs > 3000 || w.packets < expected * 0.8)) {
    problems.push(`viewer did not keep playing: ${w.packets} of ~${expected} packets, longest gap ${w.maxGapMs} ms${w.errors.length ? `; ffmpeg: ${w.errors.join(" | ")}` : ""}`);
  }
  const report: PhaseReport = {
    phase: name, cases, seconds: (Date.now() - t0) / 1000, outcomes, problems, maxRssMiB: Math.round(rssMiB),
    viewer: { packets: w.packets, expected, maxGapMs: w.maxGapMs, restarts: w.restarts },
  };
  console.log(`server fuzz ${name}: seed ${seed} (SERVER_FUZZ_SEED=${SEED}), ${cases} cases in ${report.seconds.toFixed(1)} s, ` +
    `outcomes ${JSON.stringify(outcomes)}, max RSS ${report.maxRssMiB} MiB (baseline ${(baselineRssKb / 1024).toFixed(0)}), ` +
    `viewer ${w.packets}/${expected} packets, max gap ${w.maxGapMs} ms, ${problems.length} problem(s)` +
    problems.map((p) => `\n  - ${p.split("\n")[0].slice(0, 300)}`).join(""));
  return report;
}

function hash(s: string): number {
  let h = 0;
  for (const c of s) h = (Math.imul(h, 31) + c.charCodeAt(0)) | 0;
  return h >>> 0;
}

function expectClean(r: PhaseReport): void {
  expect(r.cases, "the phase ran cases").toBeGreaterThan(0);
  expect(r.problems, `${r.phase}: replay with SERVER_FUZZ_SEED=${SEED} SERVER_FUZZ_PHASES=${r.phase}\n${r.problems.slice(0, 8).join("\n")}`).toEqual([]);
}

// ---------------------------------------------------------------------------------------------
// Raw exchanges and the hanging-connection watchers.

interface Exchange {
  /** Bytes the server sent back. */
  reply: Buffer;
  /** The server closed (EOF or reset) within the wait. */
  closed: boolean;
  sock: net.Socket;
}

/** Connects, writes the pieces (TCP-like splits), waits until the server closes or waitMs passes. */
function exchange(port: number, pieces: Buffer[], waitMs: number, until?: (reply: Buffer) => boolean): Promise<Exchange> {
  return new Promise((resolve) => {
    const sock = net.connect(port, "127.0.0.1");
    const chunks: Buffer[] = [];
    let closed = false;
    let timer: NodeJS.Timeout;
    const done = () => {
      clearTimeout(timer);
      resolve({ reply: Buffer.concat(chunks), closed, sock });
    };
    sock.on("error", () => {});
    sock.on("data", (d) => {
      chunks.push(d);
      if (until?.(Buffer.concat(chunks))) done();
    });
    sock.on("close", () => {
      closed = true;
      done();
    });
    sock.on("connect", () => {
      for (const p of pieces) sock.write(p);
      timer = setTimeout(done, waitMs);
    });
  });
}

/** A sample of connections the server neither answered nor closed: each must be closed by the server within its bound. */
class Watchers {
  private list: { sock: net.Socket; what: string; since: number; closedAt: number | null }[] = [];
  constructor(private readonly boundMs: number, private readonly max = WATCH_MAX) {}
  /** Keeps the socket if the sample has room (returns true), else the caller closes it. */
  add(sock: net.Socket, what: string): boolean {
    if (this.list.length >= this.max || sock.destroyed) return false;
    const w = { sock, what, since: Date.now(), closedAt: null as number | null };
    sock.on("close", () => (w.closedAt = Date.now()));
    sock.on("end", () => (w.closedAt ??= Date.now()));
    this.list.push(w);
    return true;
  }
  async verdict(): Promise<string[]> {
    const until = Math.max(0, ...this.list.map((w) => w.since)) + this.boundMs + HANG_SLACK_MS;
    while (Date.now() < until && this.list.some((w) => w.closedAt === null)) await sleep(100);
    const open = this.list.filter((w) => w.closedAt === null);
    this.list.forEach((w) => w.sock.destroy());
    return open.length
      ? [`${open.length} of ${this.list.length} hanging connections still open ${this.boundMs + HANG_SLACK_MS} ms after their last byte (configured timeout ${this.boundMs} ms), e.g. ${open[0].what}`]
      : [];
  }
}

/** Splits a message into 1–3 writes at random points: parsers must not depend on read boundaries. */
function pieces(r: Rand, b: Buffer): Buffer[] {
  const out: Buffer[] = [];
  let off = 0;
  for (let n = Math.floor(r() * 3); n > 0 && off < b.length; n--) {
    const len = 1 + Math.floor(r() * (b.length - off));
    out.push(b.subarray(off, off + len));
    off += len;
  }
  if (off < b.length) out.push(b.subarray(off));
  return out;
}

const isStatus = (reply: Buffer, re: RegExp) => re.test(reply.subarray(0, 64).toString("latin1"));

// ---------------------------------------------------------------------------------------------

beforeAll(async () => {
  pki = makePki();
  cam = await startCamera();
  hostile = { rtsp: await startScriptedServer(hostileRtsp), http: await startScriptedServer(hostileHttp) };
  server = await startServer();
  const ep = [`127.0.0.1:${server.ports.endpoint}`];
  agentA = await startAgent({ pki, endpoints: ep, targets: cameraTargets(cam), token: "fz-a", name: "agent-real-camera" });
  agentB = await startAgent({ pki, endpoints: ep, targets: cameraTargets({ rtspPort: hostile.rtsp.port, httpPort: hostile.http.port }), token: "fz-b", name: "agent-hostile-camera" });
  idA = agentA.deviceId()!;
  idB = agentB.deviceId()!;
  if (PHASES.includes("backchannel")) {
    onvifCam = await startProc("/usr/bin/python3", [join(FIXTURES_DIR, "onvif-camera.py"), "0", await ensureMedia()], {
      name: "onvif-camera", ready: /^READY rtsp port=(\d+)/, timeoutMs: 30_000, env: { ...process.env, GST_DEBUG: "0" },
    });
    agentC = await startAgent({ pki, endpoints: ep, targets: { rtsp: `127.0.0.1:${onvifCam.ready[1]}`, http: `127.0.0.1:${cam.httpPort}` }, token: "fz-c", name: "agent-onvif-camera" });
    idC = agentC.deviceId()!;
    await captureTalker();
  }
  await capture();
  baselineRssKb = memKb(server.proc.pid).rss;
  viewer = await watchViewer(server.rtspUrl(idA, "long"));
}, 120_000);

afterAll(async () => {
  await viewer?.stop();
  await agentA?.stop();
  await agentB?.stop();
  await agentC?.stop();
  await server?.stop();
  await onvifCam?.stop();
  await hostile?.rtsp.stop();
  await hostile?.http.stop();
  await cam?.stop();
});

/** Real traffic to mutate: ffmpeg → gateway (viewer RTSP), camera → ffmpeg (RTSP), camera → fetch (HTTP). */
async function capture(): Promise<void> {
  const viewerTap = await startTap(server.ports.rtsp);
  await framemd5(`rtsp://${VIEWER.name}:${VIEWER.password}@127.0.0.1:${viewerTap.port}/${idA}/stream1`, { frames: 10, timeoutMs: 30_000 });
  await viewerTap.stop();
  const p = new RtspParser();
  for (const c of viewerTap.conns) for (const d of c.fromClient) for (const it of p.push(d)) if (it.kind === "message") captured.viewerRtsp.push(it);
  // ffmpeg's first tries have no credentials; the fuzz signs every request itself.
  for (const m of captured.viewerRtsp) {
    m.startLine = m.startLine.replace(`127.0.0.1:${viewerTap.port}`, `127.0.0.1:${server.ports.rtsp}`);
    removeHeader(m.headers, "authorization");
  }
  const seen = new Set<string>();
  captured.viewerRtsp = captured.viewerRtsp.filter((m) => !seen.has(m.startLine) && seen.add(m.startLine));

  const camTap = await startTap(cam.rtspPort);
  await framemd5(`rtsp://127.0.0.1:${camTap.port}/stream1`, { frames: 10, timeoutMs: 30_000 });
  await camTap.stop();
  const methods: string[] = [];
  const q = new RtspParser();
  for (const d of camTap.conns[0].fromClient) for (const it of q.push(d)) if (it.kind === "message") methods.push(it.startLine.split(" ")[0]);
  const s = new RtspParser("camera");
  let i = 0;
  for (const d of camTap.conns[0].fromServer) {
    for (const it of s.push(d)) {
      if (it.kind === "interleaved") captured.rtp.length < 200 && captured.rtp.push(Buffer.from(it.raw));
      else captured.cameraRtsp.set(methods[i++] ?? "?", it);
    }
  }
  const httpTap = await startTap(cam.httpPort);
  await (await fetch(`http://127.0.0.1:${httpTap.port}/image.jpg`)).arrayBuffer();
  await httpTap.stop();
  captured.cameraHttp = Buffer.concat(httpTap.conns[0].fromServer);

  expect(captured.viewerRtsp.map((m) => m.startLine.split(" ")[0])).toEqual(expect.arrayContaining(["OPTIONS", "DESCRIBE", "SETUP", "PLAY"]));
  expect([...captured.cameraRtsp.keys()]).toEqual(expect.arrayContaining(["DESCRIBE", "SETUP", "PLAY"]));
  expect(captured.rtp.length).toBeGreaterThan(5);
  expect(isStatus(captured.cameraHttp, /^HTTP\/1\.[01] 200/)).toBe(true);
}

/** A real talker through a tap: its requests and RTP are what the backchannel phase mutates. */
async function captureTalker(): Promise<void> {
  const tap = await startTap(server.ports.rtsp);
  const r = await openBackchannel(`rtsp://${VIEWER.name}:${VIEWER.password}@127.0.0.1:${tap.port}/${idC}/backchannel`, { timeoutMs: 10_000 });
  if (!r.ok) throw new Error(`backchannel capture refused: ${r.method} ${r.status} ${r.reason}`);
  r.talk.send(3);
  await r.talk.teardown();
  r.talk.close();
  await tap.stop();
  const p = new RtspParser();
  for (const c of tap.conns) {
    for (const d of c.fromClient) {
      for (const it of p.push(d)) {
        if (it.kind === "interleaved") captured.talkerRtp = Buffer.from(it.raw);
        else {
          it.startLine = it.startLine.replace(`127.0.0.1:${tap.port}`, `127.0.0.1:${server.ports.rtsp}`);
          removeHeader(it.headers, "authorization");
          if (it.startLine.startsWith("TEARDOWN")) captured.talkerTeardown = it;
          // The first DESCRIBE (before the 401) and its signed repeat are one request here.
          else if (!captured.talkerRtsp.some((m) => m.startLine === it.startLine)) captured.talkerRtsp.push(it);
        }
      }
    }
  }
  expect(captured.talkerRtsp.map((m) => m.startLine.split(" ")[0])).toEqual(expect.arrayContaining(["DESCRIBE", "SETUP", "PLAY"]));
  expect(captured.talkerTeardown).not.toBeNull();
  expect(captured.talkerRtp.length).toBeGreaterThan(12);
}

// ---------------------------------------------------------------------------------------------
// (a) HTTP gateway and admin API

function httpSeeds(): { port: number; bytes: Buffer; listener: "http" | "admin" }[] {
  const h = server.ports.http, a = server.ports.admin;
  const req = (port: number, listener: "http" | "admin", head: string, body = "") =>
    ({ port, listener, bytes: Buffer.from(`${head}\r\nHost: 127.0.0.1:${port}\r\nUser-Agent: curl/8.5.0\r\nAccept: */*\r\n${body ? `Content-Length: ${body.length}\r\n` : ""}\r\n${body}`, "latin1") });
  return [
    req(h, "http", `GET /${idA}/snapshot.jpg HTTP/1.1\r\nAuthorization: ${basic}`),
    req(h, "http", `POST /${idA}/audio HTTP/1.1\r\nAuthorization: ${basic}\r\nContent-Type: audio/basic`, "\x7f".repeat(160)),
    req(h, "http", `GET /${idA}/snapshot.jpg HTTP/1.1`),
    req(a, "admin", "GET /metrics HTTP/1.1"),
    req(a, "admin", "GET /api/devices HTTP/1.1"),
    // A device that is not connected: a well-formed MOVE here would really move a camera away.
    req(a, "admin", "POST /api/devices/cam-000000000000/move HTTP/1.1\r\nContent-Type: application/json", '{"streamer":"127.0.0.1:1"}'),
  ];
}

/** Requests that killed the process in the past: always among the first cases, unmutated. */
const HTTP_KNOWN = ["GET // HTTP/1.1", "GET http://[ HTTP/1.1", "GET //a%zz/snapshot.jpg HTTP/1.1"];

describe.runIf(PHASES.includes("http"))("server fuzz: HTTP gateway and admin API", () => {
  it("mutated viewer and operator requests never take the process down", async () => {
    const watch = new Watchers(LIMITS.http_request_timeout_ms);
    const report = await runPhase("http", 16, async (r, n, log) => {
      const seeds = httpSeeds();
      let target = seeds[Math.floor(r() * seeds.length)];
      let bytes: Buffer, what: string;
      if (n < HTTP_KNOWN.length * 2) {
        const known = HTTP_KNOWN[n >> 1];
        target = n % 2 ? seeds[3] : seeds[0];
        bytes = Buffer.from(`${known}\r\nHost: x\r\n\r\n`);
        what = `${target.listener} known: ${known}`;
      } else {
        const m = mutate(r, target.bytes, "http");
        bytes = m.bytes;
        what = `${target.listener} ${m.ops.join(", ")}: ${show(bytes, 160)}`;
      }
      log(what);
      const ex = await exchange(target.port, pieces(r, bytes), CASE_WAIT_MS, (b) => b.includes("\r\n\r\n"));
      const answered = ex.reply.length > 0;
      if (!answered && !ex.closed && target.listener === "http" && watch.add(ex.sock, what)) return "hanging (watched)";
      ex.sock.destroy();
      if (answered && !isStatus(ex.reply, /^HTTP\/1\.[01] \d{3} /)) return `FAIL not an HTTP response: ${show(ex.reply, 80)}`;
      return answered ? `status ${ex.reply.subarray(9, 10).toString()}xx` : ex.closed ? "closed" : "hanging";
    }, watch);
    expectClean(report);
  }, (SECONDS + 90) * 1000);
});

// ---------------------------------------------------------------------------------------------
// (b) RTSP gateway: ffmpeg's requests, re-signed, then mutated

/** Sends one RTSP request and reads one response (or the close), bounded. */
async function rtspStep(sock: net.Socket, st: { buf: Buffer; closed: boolean }, bytes: Buffer, waitMs: number): Promise<RtspMessage | null> {
  if (st.closed) return null;
  sock.write(bytes);
  const until = Date.now() + waitMs;
  while (Date.now() < until && !st.closed) {
    const p = new RtspParser("camera"); // the server answers with status lines
    try {
      const items = p.push(st.buf).filter((x) => x.kind === "message") as RtspMessage[];
      if (items.length) {
        const end = st.buf.indexOf("\r\n\r\n");
        st.buf = st.buf.subarray(end + 4 + Number(getHeader(items[0].headers, "content-length") ?? 0));
        return items[0];
      }
    } catch {
      return null; // not RTSP: the oracle is the server's health, not our parser's
    }
    await sleep(5);
  }
  return null;
}

describe.runIf(PHASES.includes("rtsp"))("server fuzz: RTSP gateway", () => {
  it("mutated ffmpeg requests (Digest-signed) never take the process down", async () => {
    const watch = new Watchers(Math.max(LIMITS.rtsp_request_timeout_ms, LIMITS.rtsp_idle_timeout_ms));
    const report = await runPhase("rtsp", 8, async (r, _n, log) => {
      const tpl = captured.viewerRtsp;
      const k = Math.floor(r() * tpl.length); // the request that gets mutated; the ones before go clean
      const sock = net.connect(server.ports.rtsp, "127.0.0.1");
      const st = { buf: Buffer.alloc(0), closed: false };
      sock.on("data", (d) => (st.buf = Buffer.concat([st.buf, d])));
      sock.on("error", () => {});
      sock.on("close", () => (st.closed = true));
      await new Promise((res) => sock.once("connect", res).once("close", res));
      let session = "";
      let cseq = 0;
      let sign: ((method: string, uri: string) => string) | null = null;
      const build = (m: RtspMessage): Buffer => {
        const c: RtspMessage = { ...m, headers: m.headers.map(([a, b]) => [a, b] as [string, string]) };
        const [method, uri] = c.startLine.split(" ");
        setHeader(c.headers, "CSeq", String(++cseq));
        if (session) setHeader(c.headers, "Session", session);
        if (sign) setHeader(c.headers, "Authorization", sign(method, uri));
        return serialize(c);
      };
      let kept = false;
      let what = `rtsp mutate #${k} of [${tpl.map((m) => m.startLine.split(" ")[0]).join(",")}]`;
      log(what);
      try {
        // The 401 that gives us a nonce, as ffmpeg gets it.
        const first = await rtspStep(sock, st, build(tpl[0]), 2000);
        const challenge = first ? getHeader(first.headers, "www-authenticate") : undefined;
        if (challenge) sign = authorizer([challenge], VIEWER.name, VIEWER.password);
        for (let i = 0; i < k; i++) {
          const res = await rtspStep(sock, st, build(tpl[i]), 2000);
          const s = res && getHeader(res.headers, "session");
          if (s) session = s.split(";")[0];
        }
        const m = mutate(r, build(tpl[k]), "rtsp");
        what += `: ${m.ops.join(", ")}: ${show(m.bytes, 200)}`;
        log(what);
        const res = await rtspStep(sock, st, m.bytes, CASE_WAIT_MS);
        if (res && !/^RTSP\/1\.0 \d{3}/.test(res.startLine)) return `FAIL not an RTSP response: ${res.startLine.slice(0, 80)}`;
        // A UDP SETUP is served by the streamer itself, never passed to the camera: a 200 must name
        // a server_port pair from the streamer's own range (default udp_ports 30000-39999).
        const tr = res ? getHeader(res.headers, "transport") ?? "" : "";
        if (res && /client_port=/.test(tr) && /^RTSP\/1\.0 200/.test(res.startLine)) {
          const sp = /server_port=(\d+)-(\d+)/.exec(tr);
          if (!sp || Number(sp[1]) < 30000 || Number(sp[2]) > 39999) return `FAIL UDP transport answered 200 without our server ports: ${tr}`;
        }
        if (!res && !st.closed && st.buf.length === 0 && (kept = watch.add(sock, what))) return "hanging (watched)";
        return res ? `status ${res.startLine.slice(9, 10)}xx` : st.closed ? "closed" : "no answer";
      } finally {
        if (!kept) sock.destroy();
      }
    }, watch);
    expectClean(report);
  }, (SECONDS + 90) * 1000);
});

// ---------------------------------------------------------------------------------------------
// (c) A hostile camera behind a real agent

/** One entry per camera connection: what the hostile camera did (filled in by its handlers). */
const cameraCases: string[] = [];

function hostileRtsp(sock: net.Socket, index: number): void {
  const r = rng(SEED ^ hash("camera-rtsp") ^ (index * 7919));
  const p = new RtspParser();
  const did: string[] = [];
  cameraCases[index] = "";
  let playing: NodeJS.Timeout | null = null;
  sock.on("close", () => playing && clearInterval(playing));
  sock.on("data", (d) => {
    let items;
    try {
      items = p.push(d);
    } catch {
      return sock.destroy();
    }
    for (const it of items) {
      if (it.kind !== "message") continue;
      const method = it.startLine.split(" ")[0];
      const recorded = captured.cameraRtsp.get(method) ?? captured.cameraRtsp.get("OPTIONS")!;
      const res: RtspMessage = { ...recorded, headers: recorded.headers.map(([a, b]) => [a, b] as [string, string]) };
      setHeader(res.headers, "CSeq", getHeader(it.headers, "cseq") ?? "0");
      let bytes = serialize(res);
      if (r() < 0.5) {
        const m = mutate(r, bytes, "rtsp");
        bytes = m.bytes;
        did.push(`${method}: ${m.ops.join(", ")}`);
      }
      sock.write(bytes);
      if (method === "PLAY" && !playing) {
        // Real RTP, some of it damaged, for at most ~2 s.
        let sent = 0;
        playing = setInterval(() => {
          if (sent++ > 50 || sock.destroyed) return clearInterval(playing!);
          let pkt = captured.rtp[sent % captured.rtp.length];
          if (r() < 0.1) pkt = mutate(r, pkt, "rtsp").bytes;
          sock.write(pkt);
        }, 40);
      }
      if (r() < 0.1) {
        did.push("close");
        sock.destroy();
      }
    }
    cameraCases[index] = did.join("; ");
  });
}

type HttpAnswer = { what: string; mustNotBe200?: boolean };

function hostileHttp(sock: net.Socket, index: number): void {
  const r = rng(SEED ^ hash("camera-http") ^ (index * 7919));
  let head = Buffer.alloc(0);
  sock.on("data", (d) => {
    if (head.includes("\r\n\r\n")) return;
    head = Buffer.concat([head, d]);
    if (!head.includes("\r\n\r\n")) return;
    const jpegRes = captured.cameraHttp;
    const end = jpegRes.indexOf("\r\n\r\n");
    const body = jpegRes.subarray(end + 4);
    const okHead = "HTTP/1.1 200 OK\r\nContent-Type: image/jpeg\r\n";
    const variants: (() => HttpAnswer)[] = [
      () => ((sock.end(mutate(r, jpegRes, "http").bytes)), { what: "mutated real answer" }),
      () => {
        const c = badChunkedBody(r, body);
        sock.end(Buffer.concat([Buffer.from(`${okHead}Transfer-Encoding: chunked\r\n\r\n`), c.bytes]));
        return { what: `chunked, ${c.what}` };
      },
      () => {
        const n = [999_999_999, 2 ** 53, body.length + 1][Math.floor(r() * 3)];
        sock.end(Buffer.concat([Buffer.from(`${okHead}Content-Length: ${n}\r\n\r\n`), body]));
        return { what: `Content-Length ${n}, short body`, mustNotBe200: true };
      },
      () => {
        const big = Buffer.alloc(LIMITS.camera_response_max_bytes + 64 * 1024, 0xab);
        sock.end(Buffer.concat([Buffer.from(`${okHead}Content-Length: ${big.length}\r\n\r\n`), big]));
        return { what: `body over camera_response_max_bytes (${big.length})`, mustNotBe200: true };
      },
      () => ((sock.end(Buffer.from(jpegRes.toString("latin1").replace(/\r\n/g, "\n"), "latin1"))), { what: "bare LF" }),
      () => ((sock.end(Buffer.from(Array.from({ length: Math.floor(r() * 4096) }, () => Math.floor(r() * 256))))), { what: "noise" }),
      () => ((sock.write(Buffer.from(`${okHead}Content-Length: ${body.length}\r\n\r\n`))), { what: "headers, then silence", mustNotBe200: true }),
      () => ({ what: "silence" }),
    ];
    const v = variants[Math.floor(r() * variants.length)]();
    cameraCases[1_000_000 + index] = JSON.stringify(v);
    httpVariants.push(v);
  });
}
const httpVariants: HttpAnswer[] = [];

let snapshotLock = Promise.resolve();

async function snapshotCase(bound: number, log: (what: string) => void): Promise<string> {
  const before = hostile.http.accepted;
  log(`snapshot via hostile camera connection #${before}`);
  const t = Date.now();
  let status: number;
  try {
    const res = await fetch(server.httpUrl(idB, "snapshot.jpg"), { headers: { authorization: basic }, signal: AbortSignal.timeout(bound) });
    await res.arrayBuffer();
    status = res.status;
  } catch (e) {
    return `FAIL no answer to a snapshot within ${bound} ms (camera_timeout_ms ${LIMITS.camera_timeout_ms}): ${(e as Error).message}`;
  }
  const v = JSON.parse(cameraCases[1_000_000 + before] ?? "{}") as HttpAnswer;
  log(`snapshot via hostile camera connection #${before}: ${v.what ?? "?"} → ${status} in ${Date.now() - t} ms`);
  if (status === 200 && v.mustNotBe200) return `FAIL camera answer "${v.what}" was passed on as 200`;
  return `snapshot ${status}`;
}

describe.runIf(PHASES.includes("camera"))("server fuzz: hostile camera behind a real agent", () => {
  it("mutated camera answers (RTSP and HTTP) never take the process down or hang a viewer", async () => {
    const bound = LIMITS.camera_timeout_ms + 3000;
    const watch = new Watchers(LIMITS.rtsp_idle_timeout_ms);
    const report = await runPhase("camera", 8, async (r, n, log) => {
      if (r() < 0.6) {
        // One snapshot at a time, so the camera connection (and what the camera did) is this case's.
        const prev = snapshotLock;
        let release!: () => void;
        snapshotLock = new Promise<void>((res) => (release = res));
        await prev;
        try {
          return await snapshotCase(bound, log);
        } finally {
          release();
        }
      }
      const before = hostile.rtsp.accepted;
      // Concurrent RTSP cases: the camera connection index is approximate (~#).
      log(`RTSP DESCRIBE/SETUP/PLAY via hostile camera connection ~#${before}`);
      const sock = net.connect(server.ports.rtsp, "127.0.0.1");
      const st = { buf: Buffer.alloc(0), closed: false };
      sock.on("data", (d) => (st.buf = Buffer.concat([st.buf, d]).subarray(-65536)));
      sock.on("error", () => {});
      sock.on("close", () => (st.closed = true));
      await new Promise((res) => sock.once("connect", res).once("close", res));
      const tok = (m: string, extra = "") => Buffer.from(`${m} rtsp://127.0.0.1:${server.ports.rtsp}/${idB}/stream1${m === "SETUP" ? "/trackID=0" : ""} RTSP/1.0\r\nCSeq: 1\r\nAuthorization: ${basic}\r\n${extra}\r\n`);
      // RTSP viewers authenticate with Digest: the Basic header only earns the 401 with the nonce.
      let sign: ((method: string, uri: string) => string) | null = null;
      const first = await rtspStep(sock, st, tok("OPTIONS"), 2000);
      const ch = first && getHeader(first.headers, "www-authenticate");
      if (ch) sign = authorizer([ch], VIEWER.name, VIEWER.password);
      let session = "";
      for (const m of ["DESCRIBE", "SETUP", "PLAY"]) {
        const uri = `rtsp://127.0.0.1:${server.ports.rtsp}/${idB}/stream1${m === "SETUP" ? "/trackID=0" : ""}`;
        const extra = (m === "SETUP" ? "Transport: RTP/AVP/TCP;unicast;interleaved=0-1\r\n" : "") + (session ? `Session: ${session}\r\n` : "");
        const req = `${m} ${uri} RTSP/1.0\r\nCSeq: 2\r\n${sign ? `Authorization: ${sign(m, uri)}\r\n` : ""}${extra}\r\n`;
        const res = await rtspStep(sock, st, Buffer.from(req), bound);
        if (!res) break;
        session ||= (getHeader(res.headers, "session") ?? "").split(";")[0];
      }
      await sleep(200 + r() * 800);
      log(`RTSP via hostile camera connection ~#${before}: ${cameraCases[before] ?? "?"}`);
      const outcome = st.closed ? "rtsp closed" : "rtsp open";
      sock.destroy();
      void n;
      return outcome;
    }, watch);
    expectClean(report);
  }, (SECONDS + 90) * 1000);
});

// ---------------------------------------------------------------------------------------------
// (d) Malformed frames after authentication

const PING = encodeFrame(FrameType.PING, 0, new Uint8Array(8));

describe.runIf(PHASES.includes("frames"))("server fuzz: frames from an authenticated device", () => {
  it("random and mutated frames after AUTH (from readers and non-readers) never take the process down", async () => {
    const watch = new Watchers(LIMITS.handshake_timeout_ms);
    const report = await runPhase("frames", 4, async (r, n, log) => {
      const id = `cam-fuzz${(n % 4).toString().padStart(8, "0")}`;
      const a = await RawAgent.connect(server.ports.streamer, pki.caPem);
      try {
        a.send(FrameType.HELLO, { proto: 1, agent: "fuzz", device_id: id });
        const ch = await a.next<Challenge>(FrameType.CHALLENGE, 5000);
        const authed = r() < 0.9; // some garbage before AUTH too
        if (authed && ch) {
          a.send(FrameType.AUTH, authFor(deviceKeyFor(SECRET, id), id, ch.nonce));
          await a.next(FrameType.WELCOME, 5000);
        }
        const nonReader = r() < 0.2;
        if (nonReader) a.socket.pause(); // replies pile up on the server's side: must be bounded
        const frame = frameSource(r);
        const count = nonReader ? 0 : 1 + Math.floor(r() * 60);
        let bytes = 0;
        for (let i = 0; i < count && !a.socket.destroyed; i++) {
          const f = frame();
          bytes += f.length;
          a.socket.write(f);
        }
        if (nonReader) {
          // PINGs as fast as the link takes them, the cheapest frame that makes the server write
          // back: up to 8 MiB or 2 s, whichever first. What the server queues must stay bounded.
          const batch = Buffer.concat(Array.from({ length: 4096 }, () => PING));
          const until = Date.now() + 2000;
          while (bytes < 8 * 1024 * 1024 && Date.now() < until && !a.socket.destroyed) {
            bytes += batch.length;
            if (!a.socket.write(batch)) await drainOr(a.socket, 200);
          }
        }
        log(`${id} ${authed ? "authenticated" : "before AUTH"}, ${nonReader ? "not reading, PING flood" : `${count} frames`} (${bytes} bytes)`);
        await sleep(100 + r() * 200);
        log(`${id} ${authed ? "authenticated" : "before AUTH"}, ${nonReader ? "not reading, PING flood" : `${count} frames`} (${bytes} bytes), link ${a.closedReason ?? "open"}`);
        return a.closedReason === null ? "link open" : `closed: ${a.closedReason.split(":")[0].slice(0, 30)}`;
      } finally {
        a.socket.destroy();
      }
    }, watch);
    expectClean(report);
    // The devices the fuzz logged in as are gone again; the real ones stayed.
    const online = (await server.devices()).filter((d) => d.state === "online").map((d) => d.id);
    expect(online).toEqual(expect.arrayContaining([idA, idB]));
  }, (SECONDS + 90) * 1000);
});

// ---------------------------------------------------------------------------------------------
// (e) Two-way audio: mutated ONVIF backchannel sessions, relayed request by request to a real camera

/** An RTSP connection whose answers are parsed as they come (the camera's RTP in between is dropped). */
function rtspConn(port: number): { sock: net.Socket; answers: RtspMessage[]; received: () => number; closed: () => boolean; bad: () => string | null; ready: Promise<unknown> } {
  const sock = net.connect(port, "127.0.0.1");
  const parser = new RtspParser("camera");
  const answers: RtspMessage[] = [];
  let closed = false, bad: string | null = null, received = 0;
  sock.on("data", (d) => {
    received += d.length;
    if (bad) return;
    try {
      for (const it of parser.push(d)) if (it.kind === "message") answers.push(it);
    } catch (e) {
      bad = `${(e as Error).message}: ${show(d, 80)}`;
    }
  });
  sock.on("error", () => {});
  sock.on("close", () => (closed = true));
  return { sock, answers, received: () => received, closed: () => closed, bad: () => bad, ready: new Promise((res) => sock.once("connect", res).once("close", res)) };
}

async function nextAnswer(c: ReturnType<typeof rtspConn>, waitMs: number): Promise<RtspMessage | null> {
  const until = Date.now() + waitMs;
  while (!c.answers.length && !c.closed() && !c.bad() && Date.now() < until) await sleep(5);
  return c.answers.shift() ?? null;
}

const heardByCamera = () => onvifCam!.lines().filter((l) => l.startsWith("BACKCHANNEL RTP ")).length;

async function talkerOf(id: string): Promise<string | null> {
  const d = (await server.devices()).find((x) => x.id === id) as unknown as { audio?: { talker: string | null } } | undefined;
  return d?.audio?.talker ?? null;
}

describe.runIf(PHASES.includes("backchannel"))("server fuzz: ONVIF backchannel sessions", () => {
  it("mutated talker requests and RTP never take the process down or keep the device's two-way audio", async () => {
    // A small sample: a watched talker holds the device's two-way audio until the server closes it,
    // and every other case meanwhile only gets the 453.
    const watch = new Watchers(Math.max(LIMITS.rtsp_request_timeout_ms, LIMITS.rtsp_idle_timeout_ms, LIMITS.camera_timeout_ms), 2);
    // Two at a time: the second talker of a device must be refused (453) while the first holds it.
    const report = await runPhase("backchannel", 2, async (r, _n, log) => {
      const tpl = captured.talkerRtsp;
      // k < tpl.length: that request is mutated; k === tpl.length: a clean session whose RTP and TEARDOWN are.
      const k = Math.floor(r() * (tpl.length + 1));
      const c = rtspConn(server.ports.rtsp);
      await c.ready;
      let session = "", cseq = 0, kept = false;
      let sign: ((method: string, uri: string) => string) | null = null;
      const build = (m: RtspMessage): Buffer => {
        const x: RtspMessage = { ...m, headers: m.headers.map(([a, b]) => [a, b] as [string, string]) };
        const [method, uri] = x.startLine.split(" ");
        setHeader(x.headers, "CSeq", String(++cseq));
        if (session) setHeader(x.headers, "Session", session);
        if (sign) setHeader(x.headers, "Authorization", sign(method, uri));
        return serialize(x);
      };
      const step = async (bytes: Buffer, waitMs: number) => {
        c.sock.write(bytes);
        const res = await nextAnswer(c, waitMs);
        const s = res && getHeader(res.headers, "session");
        if (s) session = s.split(";")[0];
        return res;
      };
      let what = k < tpl.length ? `talker mutates ${tpl[k].startLine.split(" ")[0]} #${k}` : "talker clean to PLAY, mutated RTP";
      log(what);
      try {
        const first = await step(build(tpl[0]), 2000);
        const challenge = first && getHeader(first.headers, "www-authenticate");
        if (challenge) sign = authorizer([challenge], VIEWER.name, VIEWER.password);
        let status = "";
        for (let i = 0; i < Math.min(k, tpl.length); i++) {
          const res = await step(build(tpl[i]), LIMITS.camera_timeout_ms + 1000);
          status = res ? res.startLine.slice(9, 12) : "none";
          if (!res || !status.startsWith("2")) break; // refused (453 while another case talks): nothing more to mutate
        }
        // Another case holds the device's two-way audio: a short pause, so the cases are spent on sessions.
        if (status === "453") await sleep(100);
        let res: RtspMessage | null;
        const receivedBefore = c.received();
        if (k < tpl.length) {
          if (status && !status.startsWith("2")) return `refused ${status}`;
          const m = mutate(r, build(tpl[k]), "rtsp");
          what += `: ${m.ops.join(", ")}: ${show(m.bytes, 200)}`;
          log(what);
          res = await step(m.bytes, CASE_WAIT_MS);
        } else {
          if (!status.startsWith("2")) return `refused ${status}`;
          const ops: string[] = [];
          const count = 1 + Math.floor(r() * 40);
          for (let i = 0; i < count && !c.closed(); i++) {
            let pkt: Buffer = captured.talkerRtp;
            if (r() < 0.3) {
              const m = mutate(r, pkt, "rtsp");
              pkt = m.bytes;
              ops.push(m.ops.join("+"));
            }
            c.sock.write(pkt);
          }
          what += `: ${count} packets, mutations ${ops.join(", ").slice(0, 200)}`;
          log(what);
          const td = captured.talkerTeardown!;
          if (r() < 0.5) res = await step(r() < 0.5 ? build(td) : mutate(r, build(td), "rtsp").bytes, CASE_WAIT_MS);
          else {
            res = null; // the talker just stops: the camera's media still flows to it (or the server ends it)
            await sleep(CASE_WAIT_MS);
          }
        }
        if (c.bad()) return `FAIL the gateway answered something that is not RTSP: ${c.bad()}`;
        if (res && !/^RTSP\/1\.0 \d{3}/.test(res.startLine)) return `FAIL not an RTSP response: ${res.startLine.slice(0, 80)}`;
        // A talker that got its session and stopped talking still receives the camera's media: not hanging.
        const quiet = c.received() === receivedBefore;
        if (!res && !c.closed() && quiet && (kept = watch.add(c.sock, what))) return "hanging (watched)";
        return res ? `status ${res.startLine.slice(9, 10)}xx` : c.closed() ? "closed" : quiet ? "no answer" : "playing";
      } finally {
        if (!kept) c.sock.destroy();
      }
    }, watch);
    expectClean(report);
    // Every case's connection is gone: the device's two-way audio is free again, and a real talker is heard.
    const until = Date.now() + LIMITS.camera_timeout_ms + 5000;
    while ((await talkerOf(idC)) !== null && Date.now() < until) await sleep(100);
    expect(await talkerOf(idC), "the talker lock outlived every fuzz connection").toBeNull();
    const before = heardByCamera();
    const t = await openBackchannel(server.rtspUrl(idC, "backchannel"), { timeoutMs: 10_000 });
    expect(t.ok ? "ok" : `${t.method} ${t.status} ${t.reason}`).toBe("ok");
    if (!t.ok) return;
    const heardUntil = Date.now() + 8000;
    while (heardByCamera() === before && Date.now() < heardUntil) {
      t.talk.send(1);
      await sleep(20);
    }
    await t.talk.teardown().catch(() => 0);
    t.talk.close();
    expect(heardByCamera(), "a real talker after the fuzz is heard by the camera's speaker").toBeGreaterThan(before);
  }, (SECONDS + 120) * 1000);
});
