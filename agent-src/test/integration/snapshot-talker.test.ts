// Snapshot cache and exclusive two-way audio, with real processes: one endpoint+streamer, one Node
// agent, and the camera's HTTP service (fixtures/http-camera.py, which logs "REQ GET /image.jpg"
// for every request it serves, so the test counts what the camera saw).
import * as http from "node:http";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ensureMedia, FIXTURES_DIR } from "../../../testkit/camera";
import { startProc, tempDir, type Proc } from "../../../testkit/procs";
import { makePki, startAgent, startStreamer, VIEWER, type AgentProc, type Pki, type StreamerProc } from "../../../testkit/system";

const MAX_AGE = 3000;
const BASIC = "Basic " + Buffer.from(`${VIEWER.name}:${VIEWER.password}`).toString("base64");

let pki: Pki, server: StreamerProc, agent: AgentProc, cam: Proc, jpeg: Buffer, audioFile: string, tmp: string, id: string;

beforeAll(async () => {
  pki = makePki();
  const media = await ensureMedia();
  tmp = tempDir("fa-snap-");
  audioFile = join(tmp, "audio.bin");
  jpeg = readFileSync(join(media, "snapshot.jpg"));
  cam = await startProc("/usr/bin/python3", [join(FIXTURES_DIR, "http-camera.py"), "0", join(media, "snapshot.jpg"), audioFile], {
    name: "http-camera", ready: /^READY http port=(\d+)/, timeoutMs: 10_000,
  });
  server = await startStreamer({
    roles: ["endpoint", "streamer"], pki, tokens: ["tok-snap"], streamerSettings: { snapshot_max_age_ms: MAX_AGE },
    // Room for 50 streams per viewer, so without the cache all 50 would reach the camera (not 429).
    limits: { viewer_streams_per_device: 64 },
  });
  agent = await startAgent({
    pki, endpoints: [`127.0.0.1:${server.ports.endpoint}`], targets: { http: `127.0.0.1:${cam.ready[1]}` }, token: "tok-snap",
  });
  id = agent.deviceId()!;
}, 60_000);

afterAll(async () => {
  await agent?.stop();
  await server?.stop();
  await cam?.stop();
});

/** GET /image.jpg requests the camera has served so far. */
const cameraGets = () => cam.lines().filter((l) => l.startsWith("REQ GET /image.jpg")).length;
/**
 * The camera's GETs since `before`, once its log has caught up: the camera logs a request on its
 * stdout, which this process may read after the answer came back through the tunnel. Waits for
 * at least `n`, then a moment more so that an extra request would show.
 */
async function cameraGetsSince(before: number, n: number): Promise<number> {
  const until = Date.now() + 5000;
  while (cameraGets() - before < n && Date.now() < until) await new Promise((r) => setTimeout(r, 20));
  await new Promise((r) => setTimeout(r, 200));
  return cameraGets() - before;
}

async function snapshot() {
  const res = await fetch(server.httpUrl(id, "snapshot.jpg"), { headers: { Authorization: BASIC }, signal: AbortSignal.timeout(8000) });
  return { status: res.status, age: res.headers.get("age"), body: Buffer.from(await res.arrayBuffer()) };
}

async function metrics(): Promise<string> {
  return (await fetch(`http://127.0.0.1:${server.ports.admin}/metrics`, { signal: AbortSignal.timeout(3000) })).text();
}

describe("snapshot cache", () => {
  it("50 concurrent requests cost the camera one request; all get the camera's JPEG; refetched after snapshot_max_age_ms", async () => {
    const before = cameraGets();
    const t0 = Date.now();
    const all = await Promise.all(Array.from({ length: 50 }, () => snapshot()));
    const t1 = Date.now(); // the camera was asked between t0 and t1
    expect(t1 - t0).toBeLessThan(MAX_AGE); // else a second fetch would be legitimate
    expect(all.map((r) => r.status).join(" ")).toBe(Array(50).fill(200).join(" "));
    for (const r of all) expect(r.body.equals(jpeg)).toBe(true);
    expect(await cameraGetsSince(before, 1)).toBe(1);

    // Still fresh: from the cache.
    expect((await snapshot()).body.equals(jpeg)).toBe(true);
    expect(cameraGets() - before).toBe(1);

    const m = await metrics();
    expect(m).toContain(`flussonic_snapshot_camera_fetches_total{device="${id}"} 1`);
    expect(m).toContain(`flussonic_snapshot_cache_hits_total{device="${id}"} 50`);
    expect(m).toMatch(new RegExp(`^flussonic_snapshot_age_seconds\\{device="${id}"\\} [0-9.]+$`, "m"));
    const dev = (await server.devices()).find((d) => d.id === id) as unknown as { snapshot: { fetches: number; hits: number; age_ms: number } };
    expect(dev.snapshot).toMatchObject({ fetches: 1, hits: 50 });
    expect(dev.snapshot.age_ms).toBeGreaterThanOrEqual(0);

    // Past snapshot_max_age_ms the next request asks the camera again, once.
    await new Promise((r) => setTimeout(r, Math.max(0, t1 + MAX_AGE + 100 - Date.now())));
    const again = await Promise.all(Array.from({ length: 5 }, () => snapshot()));
    for (const r of again) expect(r.body.equals(jpeg)).toBe(true);
    expect(await cameraGetsSince(before, 2)).toBe(2);
  }, 20_000);
});

/** Starts an upload of `body` that sends its first half now and the rest when finish() is called. */
function slowUpload(body: Buffer) {
  const req = http.request(server.httpUrl(id, "audio"), {
    method: "POST", headers: { Authorization: BASIC, "Content-Type": "audio/pcma", "Content-Length": body.length },
  });
  const answer = new Promise<{ status: number; text: string }>((resolve, reject) => {
    req.on("response", (res) => {
      let text = "";
      res.setEncoding("utf8").on("data", (d) => (text += d)).on("end", () => resolve({ status: res.statusCode!, text }));
    });
    req.on("error", reject);
  });
  req.write(body.subarray(0, body.length / 2));
  return { answer, finish: () => req.end(body.subarray(body.length / 2)) };
}

async function upload(body: Buffer) {
  const res = await fetch(server.httpUrl(id, "audio"), {
    method: "POST", body, headers: { Authorization: BASIC, "Content-Type": "audio/pcma" }, signal: AbortSignal.timeout(8000),
  });
  return { status: res.status, text: await res.text() };
}

describe("two-way audio is exclusive per device", () => {
  it("a second talker gets 409 while the first uploads, and 200 after; the camera gets each body whole", async () => {
    const first = Buffer.alloc(8000, 0x11);
    const second = Buffer.alloc(4000, 0x22);
    const talk = slowUpload(first);
    // The upload is in progress once the streamer has its headers: it shows as the device's talker.
    const talker = async () => ((await server.devices()).find((d) => d.id === id) as unknown as { audio?: { talker: string | null } }).audio?.talker ?? null;
    for (let i = 0; i < 50 && !(await talker()); i++) await new Promise((r) => setTimeout(r, 100));

    const refused = await upload(second);
    expect(refused.status).toBe(409);
    expect(refused.text).toMatch(/in use by another talker/);
    expect(await talker()).toBe("http account viewer");
    expect(await metrics()).toContain(`flussonic_audio_talker_active{device="${id}"} 1`);

    talk.finish();
    expect((await talk.answer).status).toBe(200);
    expect(await upload(second)).toEqual({ status: 200, text: "ok\n" });
    expect(readFileSync(audioFile).equals(Buffer.concat([first, second]))).toBe(true);

    expect(await talker()).toBeNull();
    const m = await metrics();
    expect(m).not.toContain("flussonic_audio_talker_active{");
    expect(m).toMatch(/^flussonic_audio_talker_conflicts_total 1$/m);
  }, 20_000);
});
