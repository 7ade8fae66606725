// The RTSP viewer port under hostile input, with real processes: the GStreamer camera behind a real
// agent, the streamer with short limits, and ffmpeg/GStreamer/raw sockets as viewers. Each test is a
// failure the port had (connection, parser, auth or fairness) and checks the port still serves after.
import { execFileSync } from "node:child_process";
import { createSocket, type Socket } from "node:dgram";
import { createServer, type Server } from "node:net";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startCamera, type Camera } from "../../../testkit/camera";
import { framemd5, openRtspSession, startPull, type RtspSession } from "../../../testkit/ffmpeg";
import { startProc } from "../../../testkit/procs";
import { digestHeader, RawRtsp } from "../../../testkit/raw-rtsp";
import {
  BUNDLE, cameraTargets, makePki, startAgent, startStreamer, VIEWER, type AgentProc, type Pki, type StreamerProc,
} from "../../../testkit/system";

const IDLE_MS = 2000;
const REQUEST_MS = 800;

let pki: Pki, cam: Camera, server: StreamerProc, agent: AgentProc, id: string;
let evilCam: Server, evilAgent: AgentProc, evilId: string;
/** What the hostile camera answers to every request it gets, and how long it waits first. */
let evilAnswer = "";
let evilDelayMs = 0;

beforeAll(async () => {
  pki = makePki();
  cam = await startCamera();
  server = await startStreamer({
    roles: ["endpoint", "streamer"], pki, tokens: ["tok-good", "tok-evil"],
    limits: { rtsp_idle_timeout_ms: IDLE_MS, rtsp_request_timeout_ms: REQUEST_MS, viewer_streams_per_device: 2 },
    // Snapshots from the camera, not the cache: the fairness test counts one share across protocols.
    streamerSettings: { snapshot_max_age_ms: 0 },
  });
  agent = await startAgent({ pki, endpoints: [`127.0.0.1:${server.ports.endpoint}`], targets: cameraTargets(cam), token: "tok-good" });
  id = agent.deviceId()!;
  // A camera that answers every request with whatever the test put in evilAnswer.
  evilCam = createServer((s) => {
    s.on("error", () => {});
    s.on("data", () => {
      const answer = Buffer.from(evilAnswer, "latin1");
      if (evilDelayMs) setTimeout(() => s.writable && s.write(answer), evilDelayMs);
      else s.write(answer);
    });
  });
  await new Promise<void>((r) => evilCam.listen(0, "127.0.0.1", r));
  const evilPort = (evilCam.address() as { port: number }).port;
  evilAgent = await startAgent({
    pki, endpoints: [`127.0.0.1:${server.ports.endpoint}`], token: "tok-evil", name: "agent-evil",
    targets: { rtsp: `127.0.0.1:${evilPort}`, http: `127.0.0.1:${cam.httpPort}` },
  });
  evilId = evilAgent.deviceId()!;
}, 90_000);

afterAll(async () => {
  await evilAgent?.stop();
  await agent?.stop();
  await server?.stop();
  await cam?.stop();
  evilCam?.close();
});

function signUrl(device: string, ttl: number): string {
  return execFileSync(process.execPath, [join(BUNDLE, "streamer.cjs"), "--config", server.configFile, "sign-url", device, String(ttl)], { encoding: "utf8" }).trim();
}
const tokenUrl = (device: string, path: string, token: string) => `rtsp://127.0.0.1:${server.ports.rtsp}/${device}/${path}?token=${token}`;
const plainUrl = (device: string, path = "stream1") => `rtsp://127.0.0.1:${server.ports.rtsp}/${device}/${path}`;

async function metric(name: string): Promise<number> {
  const text = await (await fetch(`http://127.0.0.1:${server.ports.admin}/metrics`)).text();
  return Number(new RegExp(`^${name} (\\d+)$`, "m").exec(text)?.[1] ?? NaN);
}

/** A program run to its end or killed at timeoutMs: exit code (null if killed), time taken, output. */
async function run(cmd: string, args: string[], timeoutMs: number): Promise<{ code: number | null; ms: number; output: string }> {
  const t0 = Date.now();
  const p = await startProc(cmd, args, { name: cmd });
  const timer = setTimeout(() => void p.stop(500), timeoutMs);
  const e = await p.exited;
  clearTimeout(timer);
  return { code: e.signal ? null : e.code, ms: Date.now() - t0, output: p.output() };
}

/** The streamer still serves: ffmpeg pulls 10 frames of the good camera. */
async function stillServes(): Promise<void> {
  expect(server.proc.exit()).toBeNull();
  const pkts = await framemd5(tokenUrl(id, "stream1", signUrl(id, 60)), { frames: 10, timeoutMs: 20_000 });
  expect(pkts.length).toBeGreaterThanOrEqual(10);
}

/**
 * gst-launch with -m (the pipeline's messages), so a test sees the stream end (EOS after
 * num-buffers). After that, GStreamer 1.22's rtspsrc sometimes fails its own PAUSE while it shuts
 * down on a loaded machine ("Could not send message. (Received end-of-file)" / "Could not write to
 * resource"; a socat trace shows the PAUSE never reaches the wire; old code alike, 4 in 10 runs over
 * UDP, seen over TCP too): an error of that kind after EOS is not a playback failure, any other is.
 */
async function gstPlay(pipeline: string[], timeoutMs: number): Promise<{ played: boolean; output: string; ms: number }> {
  const gst = await run("gst-launch-1.0", ["-m", ...pipeline], timeoutMs);
  const eos = gst.output.indexOf('Got EOS from element "pipeline0"');
  const firstError = gst.output.search(/^ERROR/m);
  const afterEos = firstError < 0 || firstError > eos;
  const shutdownPauseOnly = firstError < 0 || !/^ERROR(?![^\n]*Could not write to resource)/m.test(gst.output.slice(firstError));
  return { played: eos >= 0 && (gst.code === 0 || (afterEos && shutdownPauseOnly)), output: gst.output, ms: gst.ms };
}

describe("strict RTSP from viewers", () => {
  it("a bare LF in the head (header smuggling) is answered 400 by the gateway itself and the connection closed", async () => {
    const tok = signUrl(id, 60);
    const c = await RawRtsp.connect(server.ports.rtsp);
    // To a lenient parser "CSeq" is one header; to the camera it is CSeq plus an Authorization we strip.
    c.send(`OPTIONS ${tokenUrl(id, "stream1", tok)} RTSP/1.0\r\nCSeq: 1\nAuthorization: Basic YWRtaW46YWRtaW4=\r\n\r\n`);
    const r = await c.response(5000);
    expect(r.status).toBe(400);
    expect(await c.closedWithin(2000)).toBe(true);
  });

  it("too many headers, an oversized head, a signed Content-Length, a non-RTSP start line: 400 and close each", async () => {
    const tok = signUrl(id, 60);
    const req = (extra: string) => `OPTIONS ${tokenUrl(id, "stream1", tok)} RTSP/1.0\r\nCSeq: 1\r\n${extra}\r\n`;
    const cases = [
      req(Array.from({ length: 65 }, (_, i) => `X-${i}: ${i}\r\n`).join("")),
      req(`X-Big: ${"a".repeat(20_000)}\r\n`),
      `ANNOUNCE ${tokenUrl(id, "stream1", tok)} RTSP/1.0\r\nCSeq: 1\r\nContent-Length: +5\r\n\r\nhello`,
      `OPTIONS ${tokenUrl(id, "stream1", tok)} RTSP/1.0\r\nCSeq: 1\r\nContent-Length: 2\r\nContent-Length: 0\r\n\r\nab`,
      "\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03" + "\x00".repeat(64) + "\r\n\r\n",
    ];
    const before = await metric("flussonic_rtsp_bad_requests_total");
    for (const wire of cases) {
      const c = await RawRtsp.connect(server.ports.rtsp);
      c.send(wire);
      expect((await c.response(5000)).status, JSON.stringify(wire.slice(0, 40))).toBe(400);
      expect(await c.closedWithin(2000)).toBe(true);
    }
    expect(await metric("flussonic_rtsp_bad_requests_total")).toBe(before + cases.length);
    await stillServes();
  }, 60_000);

  it("a camera that sends bad RTSP fails its source only: nothing of it forwarded, device and other viewers unaffected", async () => {
    const pull = await startPull(tokenUrl(id, "long", signUrl(id, 60)));
    await pull.waitForPackets(20, 20_000);
    evilAnswer = "RTSP/1.0 200 OK\r\nCSeq: 1\nX-Smuggled: 1\r\n\r\n";
    // Viewers no longer talk to the camera: the shared source does, and its DESCRIBE meets the bad answer.
    const c = await RawRtsp.connect(server.ports.rtsp);
    c.send(`DESCRIBE ${tokenUrl(evilId, "stream1", signUrl(evilId, 60))} RTSP/1.0\r\nCSeq: 1\r\n\r\n`);
    const r = await c.response(5000);
    expect(r.status).toBe(503);
    expect(JSON.stringify(r)).not.toContain("Smuggled");
    c.close();
    await server.proc.waitForLine(/source .*stream1: cannot open: camera sent bad RTSP/, { timeoutMs: 2000 });
    const n = pull.packets().length;
    await pull.waitForPackets(n + 25, 10_000);
    expect((await server.devices()).filter((x) => x.state === "online").map((x) => x.id).sort()).toEqual([id, evilId].sort());
    await pull.stop();
  }, 60_000);
});

describe("timeouts", () => {
  it("a viewer waiting for a slow camera is not idle, and gets the whole idle time after our answer", async () => {
    evilAnswer = "RTSP/1.0 404 Not Found\r\nCSeq: 1\r\n\r\n";
    evilDelayMs = IDLE_MS + 700;
    try {
      const c = await RawRtsp.connect(server.ports.rtsp);
      c.send(`DESCRIBE ${tokenUrl(evilId, "slow", signUrl(evilId, 60))} RTSP/1.0\r\nCSeq: 1\r\n\r\n`);
      const r = await c.response(IDLE_MS + 5000);
      expect(r.status).toBeGreaterThanOrEqual(400);
      expect(c.closedAt).toBeNull();
      // Half an idle period after the answer (the DESCRIBE itself is more than one idle period
      // old by now), the next request is still answered. Half, not more: on a loaded machine this
      // test's own timer can fire late.
      await new Promise((res) => setTimeout(res, IDLE_MS * 0.5));
      c.send(`OPTIONS ${tokenUrl(evilId, "slow", signUrl(evilId, 60))} RTSP/1.0\r\nCSeq: 2\r\n\r\n`);
      expect((await c.response(3000)).status).toBe(200);
      c.close();
    } finally {
      evilDelayMs = 0;
    }
  }, 30_000);

  it("a request that arrived while the streamer's event loop was stalled is answered, not closed as idle", async () => {
    // After a stall, Node runs due timers before it reads the sockets: the idle check must look
    // at input that came in time before it closes a connection.
    const c = await RawRtsp.connect(server.ports.rtsp);
    server.kill("SIGSTOP");
    try {
      await new Promise((res) => setTimeout(res, IDLE_MS + 500));
      c.send(`OPTIONS ${tokenUrl(id, "stream1", signUrl(id, 60))} RTSP/1.0\r\nCSeq: 1\r\n\r\n`);
      await new Promise((res) => setTimeout(res, 200));
    } finally {
      server.kill("SIGCONT");
    }
    expect((await c.response(5000)).status).toBe(200);
    c.close();
    await stillServes();
  }, 30_000);

  it("idle, slowloris and half-sent-body connections are closed in time; a playing viewer is not idle", async () => {
    const tok = signUrl(id, 120);
    const timeoutsBefore = await metric("flussonic_rtsp_timeouts_total");
    const playing = await openRtspSession(tokenUrl(id, "long", tok), { timeoutMs: 15_000 });
    const idle = await Promise.all(Array.from({ length: 50 }, () => RawRtsp.connect(server.ports.rtsp)));
    // Authenticated, one request answered, then silent.
    const quiet = await RawRtsp.connect(server.ports.rtsp);
    quiet.send(`OPTIONS ${tokenUrl(id, "stream1", tok)} RTSP/1.0\r\nCSeq: 1\r\n\r\n`);
    expect((await quiet.response(5000)).status).toBe(200);
    const quietFrom = Date.now();
    // Slowloris: a byte every 100 ms, never the blank line.
    const slow = await RawRtsp.connect(server.ports.rtsp);
    const slowFrom = Date.now();
    slow.send(`OPTIONS ${tokenUrl(id, "stream1", tok)} RTSP/1.0\r\n`);
    const drip = setInterval(() => slow.send("X"), 100);
    // A body announced and never finished.
    const half = await RawRtsp.connect(server.ports.rtsp);
    const halfFrom = Date.now();
    half.send(`SET_PARAMETER ${tokenUrl(id, "stream1", tok)} RTSP/1.0\r\nCSeq: 1\r\nContent-Length: 100\r\n\r\nabc`);
    try {
      expect(await slow.closedWithin(REQUEST_MS + 1500)).toBe(true);
      expect(await half.closedWithin(REQUEST_MS + 1500)).toBe(true);
      for (const c of [...idle, quiet]) expect(await c.closedWithin(IDLE_MS + 2000)).toBe(true);
    } finally {
      clearInterval(drip);
    }
    const slowMs = slow.closedAt! - slowFrom, halfMs = half.closedAt! - halfFrom, quietMs = quiet.closedAt! - quietFrom;
    expect(slowMs).toBeGreaterThanOrEqual(REQUEST_MS - 50);
    expect(halfMs).toBeGreaterThanOrEqual(REQUEST_MS - 50);
    expect(quietMs).toBeGreaterThanOrEqual(IDLE_MS - 50);
    const idleMs = Math.max(...idle.map((c) => c.closedAt! - c.openedAt));
    console.log(`closed after: slowloris ${slowMs} ms, half body ${halfMs} ms, idle ≤ ${idleMs} ms, quiet ${quietMs} ms`);
    // The player only receives interleaved data, for three idle timeouts: still open and flowing.
    const b0 = playing.bytes();
    await new Promise((r) => setTimeout(r, Math.max(0, 3 * IDLE_MS - (Date.now() - quietFrom))));
    await playing.waitForBytes(b0 + 10_000, 5000);
    expect(await Promise.race([playing.closed.then(() => "closed"), new Promise((r) => setTimeout(() => r("open"), 10))])).toBe("open");
    playing.close();
    expect(await metric("flussonic_rtsp_timeouts_total")).toBeGreaterThanOrEqual(timeoutsBefore + 53);
    await stillServes();
  }, 60_000);
});

/** A viewer's pair of UDP ports on 127.0.0.1: every datagram received, with where it came from. */
async function udpPair(): Promise<{ rtp: Socket; rtcp: Socket; port: number; got: { rtcp: boolean; from: number; data: Buffer }[]; close(): void }> {
  for (;;) {
    const port = 20000 + 2 * Math.floor(Math.random() * 4000);
    const bindOne = (p: number) => new Promise<Socket | null>((r) => {
      const s = createSocket("udp4");
      s.once("error", () => (s.close(), r(null)));
      s.bind(p, "127.0.0.1", () => r(s));
    });
    const rtp = await bindOne(port);
    const rtcp = rtp && (await bindOne(port + 1));
    if (!rtp || !rtcp) {
      rtp?.close();
      continue;
    }
    const got: { rtcp: boolean; from: number; data: Buffer }[] = [];
    rtp.on("message", (data, r) => got.push({ rtcp: false, from: r.port, data }));
    rtcp.on("message", (data, r) => got.push({ rtcp: true, from: r.port, data }));
    return { rtp, rtcp, port, got, close: () => (rtp.close(), rtcp.close()) };
  }
}

/** DESCRIBE over a raw connection; the video track's control URL. */
async function describeTrack(c: RawRtsp, url: string): Promise<string> {
  c.send(`DESCRIBE ${url} RTSP/1.0\r\nCSeq: 1\r\nAccept: application/sdp\r\n\r\n`);
  const d = await c.response(10_000);
  expect(d.status).toBe(200);
  const control = /a=control:(\S+)/.exec(d.body.split("m=video")[1])![1];
  return control.startsWith("rtsp:") ? control : `${d.headers["content-base"].replace(/\/?$/, "/")}${control}`;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
/** A minimal RTCP receiver report (RFC 3550 §6.4.2, no report blocks). */
const RR = Buffer.from([0x80, 201, 0, 1, 1, 2, 3, 4]);

describe("UDP transport", () => {
  it("SETUP client_port gets a server_port pair; RTP comes from it to the client port; TEARDOWN stops it", async () => {
    const url = tokenUrl(id, "stream1", signUrl(id, 60));
    const c = await RawRtsp.connect(server.ports.rtsp);
    const track = await describeTrack(c, url);
    const v = await udpPair();
    c.send(`SETUP ${track} RTSP/1.0\r\nCSeq: 2\r\nTransport: RTP/AVP;unicast;client_port=${v.port}-${v.port + 1}\r\n\r\n`);
    const u = await c.response(10_000);
    expect(u.status).toBe(200);
    const sp = /server_port=(\d+)-(\d+)/.exec(u.headers.transport);
    expect(u.headers.transport).toMatch(new RegExp(`^RTP/AVP;unicast;client_port=${v.port}-${v.port + 1};server_port=\\d+-\\d+$`));
    const [srtp, srtcp] = [Number(sp![1]), Number(sp![2])];
    expect(srtp % 2).toBe(0);
    expect(srtcp).toBe(srtp + 1);
    expect(srtp).toBeGreaterThanOrEqual(30000); // the default range
    const session = u.headers.session.split(";")[0];
    c.send(`PLAY ${url} RTSP/1.0\r\nCSeq: 3\r\nSession: ${session}\r\n\r\n`);
    expect((await c.response(5000)).status).toBe(200);
    // Junk at our ports (from the viewer and elsewhere) is dropped, the stream goes on.
    const junk = createSocket("udp4");
    for (const p of [srtp, srtcp]) for (let i = 0; i < 20; i++) junk.send(Buffer.from("junk junk junk"), p, "127.0.0.1");
    v.rtcp.send(RR, srtcp, "127.0.0.1");
    const until = Date.now() + 5000;
    while (v.got.filter((g) => !g.rtcp).length < 50 && Date.now() < until) await sleep(20);
    const rtp = v.got.filter((g) => !g.rtcp);
    expect(rtp.length).toBeGreaterThanOrEqual(50);
    expect(rtp.every((g) => g.from === srtp && g.data[0] >> 6 === 2)).toBe(true);
    // Our own sequence numbers: contiguous.
    for (let i = 1; i < rtp.length; i++) expect(rtp[i].data.readUInt16BE(2)).toBe((rtp[i - 1].data.readUInt16BE(2) + 1) & 0xffff);
    expect(v.got.filter((g) => g.rtcp).every((g) => g.from === srtcp)).toBe(true);
    c.send(`TEARDOWN ${url} RTSP/1.0\r\nCSeq: 4\r\nSession: ${session}\r\n\r\n`);
    expect((await c.response(5000)).status).toBe(200);
    await sleep(300);
    const n = v.got.length;
    await sleep(700);
    expect(v.got.length).toBe(n);
    expect(await metric("flussonic_rtsp_udp_junk_in_total")).toBeGreaterThanOrEqual(40);
    expect(await metric("flussonic_rtsp_udp_rtcp_in_total")).toBeGreaterThanOrEqual(1);
    junk.close();
    v.close();
    c.close();
  }, 30_000);

  it("461 for multicast, a destination= another host, garbage and client_port-less UDP; never forwarded; a TCP alternative is kept", async () => {
    const url = tokenUrl(id, "stream1", signUrl(id, 60));
    const c = await RawRtsp.connect(server.ports.rtsp);
    const track = await describeTrack(c, url);
    const refused0 = await metric("flussonic_rtsp_udp_refused_total");
    const offers = [
      "RTP/AVP;multicast;destination=232.1.1.1;port=40000-40001;ttl=16",
      "RTP/AVP;unicast;destination=192.0.2.7;client_port=40000-40001", // a reflector toward a third host
      "RTP/AVP/UDP;unicast;client_port=40000-40001;destination=10.9.8.7",
      "RTP/AVP;unicast",
      "RTP/AVP;unicast;client_port=0-1",
      "RTP/SAVP;unicast;client_port=40000-40001",
      "FOO/BAR;interleaved=0-1",
      "",
    ];
    let cseq = 2;
    for (const o of offers) {
      c.send(`SETUP ${track} RTSP/1.0\r\nCSeq: ${cseq}\r\n${o ? `Transport: ${o}\r\n` : ""}\r\n`);
      const u = await c.response(5000);
      expect(u.head, o).toMatch(new RegExp(`^RTSP/1\\.0 461 Unsupported Transport\r\nCSeq: ${cseq}$`));
      cseq++;
    }
    expect(await metric("flussonic_rtsp_udp_refused_total")).toBe(refused0 + offers.length);
    // The viewer's own address as destination is fine; so is a TCP fallback after a refused alternative.
    c.send(`SETUP ${track} RTSP/1.0\r\nCSeq: ${cseq++}\r\nTransport: RTP/AVP;unicast;destination=192.0.2.7;client_port=40000-40001,RTP/AVP/TCP;unicast;interleaved=0-1\r\n\r\n`);
    const t = await c.response(10_000);
    expect(t.status).toBe(200);
    expect(t.headers.transport).toBe("RTP/AVP/TCP;unicast;interleaved=0-1");
    // One transport per session: UDP after TCP is refused too.
    c.send(`SETUP ${track} RTSP/1.0\r\nCSeq: ${cseq}\r\nSession: ${t.headers.session.split(";")[0]}\r\nTransport: RTP/AVP;unicast;client_port=40000-40001\r\n\r\n`);
    expect((await c.response(5000)).status).toBe(461);
    c.close();
    const c2 = await RawRtsp.connect(server.ports.rtsp);
    const track2 = await describeTrack(c2, url);
    c2.send(`SETUP ${track2} RTSP/1.0\r\nCSeq: 2\r\nTransport: RTP/AVP;unicast;destination=127.0.0.1;client_port=40000-40001\r\n\r\n`);
    const ok = await c2.response(10_000);
    expect(ok.status).toBe(200);
    expect(ok.headers.transport).toMatch(/server_port=/);
    c2.close();
  }, 30_000);

  it("a UDP session lives by keep-alives or RTCP within the announced timeout, and ends without them", async () => {
    // The long clip: the short one may end before the session's fate is read.
    const url = tokenUrl(id, "long", signUrl(id, 60));
    const open = async () => {
      const c = await RawRtsp.connect(server.ports.rtsp);
      const track = await describeTrack(c, url);
      const v = await udpPair();
      c.send(`SETUP ${track} RTSP/1.0\r\nCSeq: 2\r\nTransport: RTP/AVP;unicast;client_port=${v.port}-${v.port + 1}\r\n\r\n`);
      const u = await c.response(10_000);
      expect(u.headers.session).toMatch(new RegExp(`;timeout=${IDLE_MS / 1000}$`));
      const srtcp = Number(/server_port=\d+-(\d+)/.exec(u.headers.transport)![1]);
      c.send(`PLAY ${url} RTSP/1.0\r\nCSeq: 3\r\nSession: ${u.headers.session.split(";")[0]}\r\n\r\n`);
      expect((await c.response(5000)).status).toBe(200);
      return { c, v, srtcp };
    };
    const silent = await open();
    const reporting = await open();
    const timer = setInterval(() => reporting.v.rtcp.send(RR, reporting.srtcp, "127.0.0.1"), 500);
    await sleep(2 * IDLE_MS + 1000);
    clearInterval(timer);
    expect(silent.c.closed).toBe(true); // no keep-alive, no RTCP: the session ended
    expect(reporting.c.closed).toBe(false);
    // Still playing: more packets come (within a few frame times, also with a slow emulated agent).
    const n = reporting.v.got.length;
    for (const until = Date.now() + 3000; reporting.v.got.length <= n && Date.now() < until;) await sleep(50);
    expect(reporting.v.got.length).toBeGreaterThan(n);
    for (const x of [silent, reporting]) (x.v.close(), x.c.close());
  }, 30_000);

  it("ffmpeg: -rtsp_transport udp plays over UDP, and so does its default transport (UDP first)", async () => {
    const url = tokenUrl(id, "long", signUrl(id, 60));
    for (const transport of [["-rtsp_transport", "udp"], []]) {
      const sent0 = await metric("flussonic_rtsp_udp_datagrams_sent_total");
      const r = await run("ffmpeg", ["-nostdin", "-hide_banner", ...transport, "-i", url, "-map", "0:v:0", "-c", "copy", "-frames:v", "100", "-f", "framemd5", "-"], 30_000);
      expect(r.code, r.output.slice(-1500)).toBe(0);
      const frames = r.output.split("\n").filter((l) => /^0,/.test(l)).length;
      expect(frames).toBe(100);
      const sent = (await metric("flussonic_rtsp_udp_datagrams_sent_total")) - sent0;
      expect(sent).toBeGreaterThanOrEqual(100); // it really came over UDP
      console.log(`ffmpeg ${transport.join(" ") || "(default transport)"}: 100 frames in ${r.ms} ms, ${sent} datagrams`);
    }
  }, 60_000);

  it("GStreamer rtspsrc protocols=udp (what VLC does by default) plays over UDP, keeping its session alive", async () => {
    const url = tokenUrl(id, "long", signUrl(id, 60));
    const sent0 = await metric("flussonic_rtsp_udp_datagrams_sent_total");
    // 125 frames at 25 fps: 5 s, more than twice the 2 s session timeout of this file.
    const r = await gstPlay(["rtspsrc", `location=${url}`, "protocols=udp", "!", "rtph264depay", "!", "fakesink", "num-buffers=125"], 30_000);
    expect(r.played, r.output.slice(-2500)).toBe(true);
    const sent = (await metric("flussonic_rtsp_udp_datagrams_sent_total")) - sent0;
    expect(sent).toBeGreaterThanOrEqual(125);
    console.log(`gstreamer protocols=udp: 125 frames in ${r.ms} ms, ${sent} datagrams`);
  }, 60_000);
});

describe("Digest", () => {
  async function challenge(c: RawRtsp, url: string): Promise<string> {
    c.send(`OPTIONS ${url} RTSP/1.0\r\nCSeq: 1\r\n\r\n`);
    const r = await c.response(5000);
    expect(r.status).toBe(401);
    return r.headers["www-authenticate"];
  }

  it("a captured Authorization header does not work on a new connection (answered stale=true)", async () => {
    const url = plainUrl(id);
    const first = await RawRtsp.connect(server.ports.rtsp);
    const auth = digestHeader(await challenge(first, url), VIEWER.name, VIEWER.password, "OPTIONS", url);
    first.send(`OPTIONS ${url} RTSP/1.0\r\nCSeq: 2\r\nAuthorization: ${auth}\r\n\r\n`);
    expect((await first.response(5000)).status).toBe(200);
    // Later requests of the authenticated connection reuse the nonce, as ffmpeg and VLC do.
    first.send(`OPTIONS ${url} RTSP/1.0\r\nCSeq: 3\r\nAuthorization: ${auth}\r\n\r\n`);
    expect((await first.response(5000)).status).toBe(200);
    first.close();

    const replay = await RawRtsp.connect(server.ports.rtsp);
    replay.send(`OPTIONS ${url} RTSP/1.0\r\nCSeq: 1\r\nAuthorization: ${auth}\r\n\r\n`);
    const r = await replay.response(5000);
    expect(r.status).toBe(401);
    expect(r.headers["www-authenticate"]).toMatch(/stale=true/);
    replay.close();
  });

  it("the digest uri must match the request: a header made for another device is refused", async () => {
    const c = await RawRtsp.connect(server.ports.rtsp);
    const ch = await challenge(c, plainUrl(id));
    const forOther = digestHeader(ch, VIEWER.name, VIEWER.password, "OPTIONS", plainUrl("cam-000000000000"));
    c.send(`OPTIONS ${plainUrl(id)} RTSP/1.0\r\nCSeq: 2\r\nAuthorization: ${forOther}\r\n\r\n`);
    const r = await c.response(5000);
    expect(r.status).toBe(401);
    expect(r.headers["www-authenticate"]).not.toMatch(/stale/);
    c.close();
  });

  it("the 401 is the same for a real and an unknown device, nonce aside", async () => {
    const heads: string[] = [];
    for (const dev of [id, "cam-000000000000"]) {
      const c = await RawRtsp.connect(server.ports.rtsp);
      c.send(`DESCRIBE ${plainUrl(dev)} RTSP/1.0\r\nCSeq: 1\r\n\r\n`);
      heads.push((await c.response(5000)).head.replace(/nonce="[^"]*"/, "nonce=N"));
      c.close();
    }
    expect(heads[0]).toBe(heads[1]);
  });

  it("ffmpeg (TCP, and default transport: UDP) and GStreamer rtspsrc user-id/user-pw still play", async () => {
    for (let i = 0; i < 2; i++) {
      const pkts = await framemd5(server.rtspUrl(id), { frames: 10, timeoutMs: 20_000 });
      expect(pkts.length).toBeGreaterThanOrEqual(10);
    }
    const auto = await run("ffmpeg", ["-nostdin", "-hide_banner", "-i", server.rtspUrl(id), "-frames:v", "10", "-f", "null", "-"], 20_000);
    expect(auto.code, auto.output.slice(-1500)).toBe(0);
    const gst = await gstPlay(["rtspsrc", `location=${plainUrl(id)}`, `user-id=${VIEWER.name}`, `user-pw=${VIEWER.password}`,
      "!", "rtph264depay", "!", "fakesink", "num-buffers=10"], 20_000);
    const serverLog = () => server.proc.output().split("\n").filter((l) => /RTSP viewer|source /.test(l)).slice(-20).join("\n");
    expect(gst.played, `${gst.output.slice(-2500)}\nstreamer:\n${serverLog()}`).toBe(true);
  }, 90_000);
});

describe("token expiry", () => {
  it("a token viewer's connection ends when its token expires, mid-stream", async () => {
    const t0 = Date.now();
    const tok = signUrl(id, 3);
    const expiry = Number(tok.split(".")[0]) * 1000;
    const s = await openRtspSession(tokenUrl(id, "long", tok), { timeoutMs: 10_000 });
    await s.waitForBytes(10_000, 5000);
    await Promise.race([s.closed, new Promise((r) => setTimeout(r, 8000))]);
    const ended = Date.now();
    const b = s.bytes();
    s.close();
    expect(ended - t0).toBeLessThan(7000); // closed by the server, not by our 8 s race
    expect(ended).toBeGreaterThanOrEqual(expiry - 50);
    expect(ended - expiry).toBeLessThan(1500);
    expect(b).toBeGreaterThan(10_000);
  }, 30_000);
});

describe("per-viewer fairness", () => {
  it("one account holds at most viewer_streams_per_device streams of a device (453 past it); others still get theirs", async () => {
    const sessions: RtspSession[] = [];
    try {
      for (let i = 0; i < 2; i++) sessions.push(await openRtspSession(server.rtspUrl(id, "long"), { timeoutMs: 15_000 }));
      await expect(openRtspSession(server.rtspUrl(id, "long"), { timeoutMs: 15_000 })).rejects.toThrow(/453 Not Enough Bandwidth/);
      // One share per viewer across protocols: the same account's snapshot is over it too (HTTP says 429).
      const basic = "Basic " + Buffer.from(`${VIEWER.name}:${VIEWER.password}`).toString("base64");
      expect((await fetch(server.httpUrl(id, "snapshot.jpg"), { headers: { authorization: basic } })).status).toBe(429);
      // A token viewer is another viewer (its address): it gets a stream.
      sessions.push(await openRtspSession(tokenUrl(id, "long", signUrl(id, 60)), { timeoutMs: 15_000 }));
      // The account's slot comes back when one of its streams ends.
      sessions.shift()!.close();
      await new Promise((r) => setTimeout(r, 300));
      sessions.push(await openRtspSession(server.rtspUrl(id, "long"), { timeoutMs: 15_000 }));
      for (const s of sessions) await s.waitForBytes(s.bytes() + 5000, 5000);
    } finally {
      for (const s of sessions) s.close();
    }
  }, 60_000);
});

describe("connection limits", () => {
  it("per address and in total: connections past the limit are closed at once, the admitted ones stay", async () => {
    for (const limits of [{ viewer_connections_per_ip: 5, viewer_connections_total: 100 }, { viewer_connections_per_ip: 100, viewer_connections_total: 5 }]) {
      const s = await startStreamer({ roles: ["streamer"], pki, limits, name: "streamer-limits" });
      try {
        const admitted = await Promise.all(Array.from({ length: 5 }, () => RawRtsp.connect(s.ports.rtsp)));
        const extra = await RawRtsp.connect(s.ports.rtsp);
        expect(await extra.closedWithin(2000)).toBe(true);
        expect(admitted.some((c) => c.closed)).toBe(false);
        admitted[0].close();
        await new Promise((r) => setTimeout(r, 200));
        const again = await RawRtsp.connect(s.ports.rtsp);
        expect(await again.closedWithin(500)).toBe(false);
        again.send(`OPTIONS rtsp://127.0.0.1/cam-000000000000/x RTSP/1.0\r\nCSeq: 1\r\n\r\n`);
        expect((await again.response(5000)).status).toBe(401);
        const m = await (await fetch(`http://127.0.0.1:${s.ports.admin}/metrics`)).text();
        expect(m).toMatch(/^flussonic_rtsp_connections_refused_total 1$/m);
        for (const c of [...admitted, again]) c.close();
      } finally {
        await s.stop();
      }
    }
  }, 60_000);
});
