// The RTSP viewer port under hostile input, with real processes: the GStreamer camera behind a real
// agent, the streamer with short limits, and ffmpeg/GStreamer/raw sockets as viewers. Each test is a
// failure the port had (connection, parser, auth or fairness) and checks the port still serves after.
import { execFileSync } from "node:child_process";
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
/** What the hostile camera answers to every request it gets. */
let evilAnswer = "";

beforeAll(async () => {
  pki = makePki();
  cam = await startCamera();
  server = await startStreamer({
    roles: ["endpoint", "streamer"], pki, tokens: ["tok-good", "tok-evil"],
    limits: { rtsp_idle_timeout_ms: IDLE_MS, rtsp_request_timeout_ms: REQUEST_MS, viewer_streams_per_device: 2 },
  });
  agent = await startAgent({ pki, endpoints: [`127.0.0.1:${server.ports.endpoint}`], targets: cameraTargets(cam), token: "tok-good" });
  id = agent.deviceId()!;
  // A camera that answers every request with whatever the test put in evilAnswer.
  evilCam = createServer((s) => {
    s.on("error", () => {});
    s.on("data", () => s.write(Buffer.from(evilAnswer, "latin1")));
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

describe("UDP SETUP", () => {
  it("is answered 461 and never forwarded; a TCP alternative in the same offer is kept", async () => {
    const url = tokenUrl(id, "stream1", signUrl(id, 60));
    const c = await RawRtsp.connect(server.ports.rtsp);
    c.send(`DESCRIBE ${url} RTSP/1.0\r\nCSeq: 1\r\nAccept: application/sdp\r\n\r\n`);
    const d = await c.response(10_000);
    expect(d.status).toBe(200);
    const control = /a=control:(\S+)/.exec(d.body.split("m=video")[1])![1];
    const track = control.startsWith("rtsp:") ? control : `${d.headers["content-base"].replace(/\/?$/, "/")}${control}`;
    c.send(`SETUP ${track} RTSP/1.0\r\nCSeq: 2\r\nTransport: RTP/AVP;unicast;client_port=40000-40001\r\n\r\n`);
    const u = await c.response(5000);
    expect(u.head).toMatch(/^RTSP\/1\.0 461 Unsupported Transport\r\nCSeq: 2$/);
    c.send(`SETUP ${track} RTSP/1.0\r\nCSeq: 3\r\nTransport: RTP/AVP;unicast;client_port=40000-40001,RTP/AVP/TCP;unicast;interleaved=0-1\r\n\r\n`);
    const t = await c.response(10_000);
    expect(t.status).toBe(200);
    expect(t.headers.transport).toMatch(/RTP\/AVP\/TCP;unicast;interleaved=0-1/);
    c.close();
  }, 30_000);

  it("ffmpeg: -rtsp_transport udp fails at once with 461; without the flag it falls back to TCP and plays", async () => {
    const url = tokenUrl(id, "stream1", signUrl(id, 60));
    const udp = await run("ffmpeg", ["-nostdin", "-hide_banner", "-rtsp_transport", "udp", "-i", url, "-frames:v", "5", "-f", "null", "-"], 20_000);
    expect(udp.code).not.toBe(0);
    expect(udp.code).not.toBeNull(); // not killed by our timeout: it gave up by itself
    expect(udp.output).toMatch(/461/);
    expect(udp.ms).toBeLessThan(5000);
    const auto = await run("ffmpeg", ["-nostdin", "-hide_banner", "-i", url, "-map", "0:v:0", "-c", "copy", "-frames:v", "25", "-f", "framemd5", "-"], 20_000);
    expect(auto.code, auto.output.slice(-1500)).toBe(0);
    expect(auto.ms).toBeLessThan(8000);
    console.log(`ffmpeg: udp refused in ${udp.ms} ms; default transport played 25 frames in ${auto.ms} ms`);
  }, 60_000);

  it("GStreamer rtspsrc: protocols=udp fails at once; the default falls back to TCP and plays", async () => {
    const url = tokenUrl(id, "stream1", signUrl(id, 60));
    const gst = (extra: string[]) => run("gst-launch-1.0", ["-q", "rtspsrc", `location=${url}`, ...extra, "!", "rtph264depay", "!", "fakesink", "num-buffers=25"], 20_000);
    const udp = await gst(["protocols=udp"]);
    expect(udp.code).not.toBe(0);
    expect(udp.code).not.toBeNull();
    expect(udp.ms).toBeLessThan(5000);
    const auto = await gst([]);
    expect(auto.code, auto.output.slice(-1500)).toBe(0);
    expect(auto.ms).toBeLessThan(8000);
    console.log(`gstreamer: udp refused in ${udp.ms} ms; default played in ${auto.ms} ms`);
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

  it("ffmpeg (TCP, and default transports: UDP refused, TCP retried) and GStreamer rtspsrc user-id/user-pw still play", async () => {
    for (let i = 0; i < 2; i++) {
      const pkts = await framemd5(server.rtspUrl(id), { frames: 10, timeoutMs: 20_000 });
      expect(pkts.length).toBeGreaterThanOrEqual(10);
    }
    const auto = await run("ffmpeg", ["-nostdin", "-hide_banner", "-i", server.rtspUrl(id), "-frames:v", "10", "-f", "null", "-"], 20_000);
    expect(auto.code, auto.output.slice(-1500)).toBe(0);
    const gst = await run("gst-launch-1.0", ["-q", "rtspsrc", `location=${plainUrl(id)}`, `user-id=${VIEWER.name}`, `user-pw=${VIEWER.password}`,
      "!", "rtph264depay", "!", "fakesink", "num-buffers=10"], 20_000);
    expect(gst.code, gst.output.slice(-1500)).toBe(0);
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
