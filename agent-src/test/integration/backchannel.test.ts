// Two-way audio through the RTSP gateway, with real processes: an ONVIF camera with a speaker
// (fixtures/onvif-camera.py, GStreamer's own ONVIF RTSP server, which logs every RTP packet its
// speaker receives), its HTTP service for POST audio, one Node agent and one endpoint+streamer.
// A talker (DESCRIBE with Require: www.onvif.org/ver20/backchannel) gets its own camera session
// through the tunnel and holds the device's two-way audio; a second talker, RTSP or HTTP, is
// refused until the first has ended.
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { openBackchannel, type Backchannel } from "../../../testkit/backchannel-client";
import { ensureMedia, FIXTURES_DIR } from "../../../testkit/camera";
import { startProc, tempDir, type Proc } from "../../../testkit/procs";
import { digestHeader, RawRtsp } from "../../../testkit/raw-rtsp";
import { openRtspSession } from "../../../testkit/rtsp-client";
import { makePki, startAgent, startStreamer, VIEWER, type AgentProc, type Pki, type StreamerProc } from "../../../testkit/system";

const IDLE_MS = 3000;
const BASIC = "Basic " + Buffer.from(`${VIEWER.name}:${VIEWER.password}`).toString("base64");

let pki: Pki, server: StreamerProc, agent: AgentProc, cam: Proc, httpCam: Proc, id: string;

beforeAll(async () => {
  pki = makePki();
  const media = await ensureMedia();
  const tmp = tempDir("fa-backchannel-");
  [cam, httpCam] = await Promise.all([
    startProc("/usr/bin/python3", [join(FIXTURES_DIR, "onvif-camera.py"), "0", media], {
      name: "onvif-camera", ready: /^READY rtsp port=(\d+)/, timeoutMs: 30_000, env: { ...process.env, GST_DEBUG: "0" },
    }),
    startProc("/usr/bin/python3", [join(FIXTURES_DIR, "http-camera.py"), "0", join(media, "snapshot.jpg"), join(tmp, "audio.bin")], {
      name: "http-camera", ready: /^READY http port=(\d+)/, timeoutMs: 10_000,
    }),
  ]);
  // A short idle time: a talker whose session moves no packets must free the device within it.
  server = await startStreamer({ roles: ["endpoint", "streamer"], pki, tokens: ["tok-bc"], limits: { rtsp_idle_timeout_ms: IDLE_MS } });
  agent = await startAgent({
    pki, endpoints: [`127.0.0.1:${server.ports.endpoint}`], token: "tok-bc",
    targets: { rtsp: `127.0.0.1:${cam.ready[1]}`, http: `127.0.0.1:${httpCam.ready[1]}` },
  });
  id = agent.deviceId()!;
}, 60_000);

afterAll(async () => {
  await agent?.stop();
  await server?.stop();
  await Promise.all([cam?.stop(), httpCam?.stop()]);
});

const url = () => server.rtspUrl(id, "backchannel");
/** RTP packets the camera's speaker has received so far. */
const heard = () => cam.lines().filter((l) => l.startsWith("BACKCHANNEL RTP ")).length;
async function heardAtLeast(n: number): Promise<number> {
  const until = Date.now() + 5000;
  while (heard() < n && Date.now() < until) await new Promise((r) => setTimeout(r, 20));
  return heard();
}
const talker = async () => ((await server.devices()).find((d) => d.id === id) as unknown as { audio?: { talker: string | null } }).audio?.talker ?? null;
async function talkerFreed(): Promise<string | null> {
  const until = Date.now() + 5000;
  let t = await talker();
  while (t !== null && Date.now() < until) {
    await new Promise((r) => setTimeout(r, 50));
    t = await talker();
  }
  return t;
}
async function metrics(): Promise<string> {
  return (await fetch(`http://127.0.0.1:${server.ports.admin}/metrics`, { signal: AbortSignal.timeout(3000) })).text();
}
async function postAudio() {
  const res = await fetch(server.httpUrl(id, "audio"), {
    method: "POST", body: Buffer.alloc(800, 0x55), headers: { Authorization: BASIC, "Content-Type": "audio/pcma" }, signal: AbortSignal.timeout(8000),
  });
  return { status: res.status, text: await res.text() };
}
/**
 * A talker whose audio the camera's speaker takes: what arrives before the camera's backchannel
 * pipeline plays may be dropped, so one packet per 20 ms (a real talker's pace) until one is heard.
 */
async function talk(): Promise<Backchannel> {
  const r = await openBackchannel(url(), { timeoutMs: 8000 });
  if (!r.ok) throw new Error(`backchannel refused: ${r.method} ${r.status} ${r.reason}`);
  const before = heard();
  for (let i = 0; i < 250 && heard() === before; i++) {
    r.talk.send(1);
    await new Promise((res) => setTimeout(res, 20));
  }
  if (heard() === before) {
    const tail = (p: Proc) => p.lines().filter((l) => !l.startsWith("BACKCHANNEL")).slice(-15).join("\n");
    throw new Error(`the camera's speaker heard nothing in 5 s\ncamera:\n${tail(cam)}\nstreamer:\n${tail(server.proc)}\nagent:\n${tail(agent.proc)}`);
  }
  await new Promise((res) => setTimeout(res, 100)); // packets still on their way
  return r.talk;
}

describe("RTSP audio backchannel", () => {
  it("a talker reaches the camera's speaker; a second talker gets 453 / 409 until it ends (TEARDOWN, close, camera gone)", async () => {
    const a = await talk();
    expect(a.sdp).toMatch(/^a=sendonly/m);
    expect(a.sdp).not.toContain(`:${cam.ready[1]}`); // no camera address leaks to the viewer
    // Once the speaker plays, every packet arrives.
    let n = heard();
    a.send(30);
    expect(await heardAtLeast(n + 30)).toBe(n + 30);
    expect(await talker()).toBe("rtsp account viewer");

    // A second talker, either way, while the first talks.
    const b = await openBackchannel(url(), { timeoutMs: 8000 });
    expect(b).toMatchObject({ ok: false, method: "DESCRIBE", status: 453 });
    expect(!b.ok && b.reason).toMatch(/in use by another talker/);
    const post = await postAudio();
    expect(post.status).toBe(409);
    expect(post.text).toMatch(/in use by another talker/);

    // Ordinary viewers still share the source; other Require options are still refused.
    const viewer = await openRtspSession(url(), { timeoutMs: 8000 });
    await viewer.waitForBytes(1000, 5000);
    viewer.close();
    for (const require of ["www.onvif.org/ver20/replay", `${"www.onvif.org/ver20/backchannel"}, com.example.other`]) {
      expect(await openBackchannel(url(), { timeoutMs: 8000, require })).toMatchObject({ ok: false, status: 551 });
    }

    // The first talker keeps talking, then leaves with TEARDOWN: the device is free at once.
    a.send(10);
    expect(await heardAtLeast(n + 40)).toBe(n + 40);
    expect(await a.teardown()).toBe(200);
    expect(await talker()).toBeNull();
    a.close();

    // A new talker, who just drops the connection.
    const c = await talk();
    n = heard();
    c.send(10);
    expect(await heardAtLeast(n + 10)).toBe(n + 10);
    c.close();
    expect(await talkerFreed()).toBeNull();
    expect(await postAudio()).toEqual({ status: 200, text: "ok\n" });

    // A plain DESCRIBE first (a client looking at the SDP), then the talker's, on one connection.
    const raw = await RawRtsp.connect(server.ports.rtsp);
    const plainUrl = server.rtspUrl(id, "backchannel", false);
    raw.send(`DESCRIBE ${plainUrl} RTSP/1.0\r\nCSeq: 1\r\n\r\n`);
    const challenge = (await raw.response(5000)).headers["www-authenticate"];
    const authz = digestHeader(challenge, VIEWER.name, VIEWER.password, "DESCRIBE", plainUrl);
    raw.send(`DESCRIBE ${plainUrl} RTSP/1.0\r\nCSeq: 2\r\nAuthorization: ${authz}\r\n\r\n`);
    const plain = await raw.response(8000);
    expect(plain.status).toBe(200);
    expect(plain.body).not.toMatch(/^a=sendonly/m);
    raw.send(`DESCRIBE ${plainUrl} RTSP/1.0\r\nCSeq: 3\r\nRequire: www.onvif.org/ver20/backchannel\r\n\r\n`);
    const withBackchannel = await raw.response(8000);
    expect(withBackchannel.status).toBe(200);
    expect(withBackchannel.body).toMatch(/^a=sendonly/m);
    expect(await talker()).toBe("rtsp account viewer");
    raw.close();
    expect(await talkerFreed()).toBeNull();

    // UDP cannot cross the tunnel: a talker's UDP-only SETUP is refused here, not sent to the camera.
    expect(await openBackchannel(url(), { timeoutMs: 8000, transport: "RTP/AVP;unicast;client_port=5000-5001" }))
      .toMatchObject({ ok: false, method: "SETUP", status: 461 });
    expect(await talkerFreed()).toBeNull();

    const m = await metrics();
    expect(m).toMatch(/^flussonic_audio_talker_conflicts_total 2$/m);
    expect(m).toMatch(/^flussonic_rtsp_backchannels_total 4$/m);

    // A talker whose PLAY the camera refuses (a session it does not know), then silence: once idle
    // it holds nothing, and the next talker gets the device.
    const q = await RawRtsp.connect(server.ports.rtsp);
    q.send(`DESCRIBE ${plainUrl} RTSP/1.0\r\nCSeq: 1\r\n\r\n`);
    const qChallenge = (await q.response(5000)).headers["www-authenticate"];
    const sign = (method: string) => digestHeader(qChallenge, VIEWER.name, VIEWER.password, method, plainUrl);
    q.send(`DESCRIBE ${plainUrl} RTSP/1.0\r\nCSeq: 2\r\nAuthorization: ${sign("DESCRIBE")}\r\nRequire: www.onvif.org/ver20/backchannel\r\n\r\n`);
    expect((await q.response(8000)).status).toBe(200);
    q.send(`PLAY ${plainUrl} RTSP/1.0\r\nCSeq: 3\r\nAuthorization: ${sign("PLAY")}\r\nSession: 0badc0de\r\nRequire: www.onvif.org/ver20/backchannel\r\n\r\n`);
    expect((await q.response(8000)).status).toBe(454);
    expect(await talker()).toBe("rtsp account viewer");
    expect(await q.closedWithin(IDLE_MS + 3000), "a refused PLAY kept the talker's connection (and the device's audio)").toBe(true);
    expect(await talkerFreed()).toBeNull();

    // The camera goes away mid-talk: the talker's connection ends and the device is free.
    const d = await talk();
    await cam.stop();
    await Promise.race([d.closed, new Promise((_, rej) => setTimeout(() => rej(new Error("talker not ended after the camera left")), 5000))]);
    expect(await talkerFreed()).toBeNull();
  }, 30_000);
});
