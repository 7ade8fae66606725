// The HTTP side of the streamer under hostile input, with real processes: one endpoint+streamer,
// two Node agents — device "bad" whose camera (a scripted net.Server) answers with broken bytes,
// device "good" whose camera is a plain Node HTTP server. Every attack must cost at most its own
// request; the process stays up and the good device keeps serving meanwhile.
import { execFileSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import * as http from "node:http";
import type * as net from "node:net";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { rawRequest, startHostileCamera, type HostileCamera } from "../../../testkit/hostile-camera";
import { BUNDLE, makePki, startAgent, startStreamer, VIEWER, type AgentProc, type Pki, type StreamerProc } from "../../../testkit/system";

const LIMITS = {
  camera_timeout_ms: 1500,
  camera_response_max_bytes: 64 * 1024,
  http_request_timeout_ms: 1000,
  http_keepalive_timeout_ms: 500,
  viewer_streams_per_device: 3,
  viewer_connections_per_ip: 40,
};
const BASIC = "Basic " + Buffer.from(`${VIEWER.name}:${VIEWER.password}`).toString("base64");
const JPEG = randomBytes(20_000);

let pki: Pki, server: StreamerProc, badCam: HostileCamera, goodCam: http.Server, goodCamPort: number;
let badAgent: AgentProc, goodAgent: AgentProc, bad: string, good: string;

beforeAll(async () => {
  pki = makePki();
  badCam = await startHostileCamera();
  goodCam = http.createServer((_req, res) => res.writeHead(200, { "Content-Type": "image/jpeg" }).end(JPEG));
  await new Promise<void>((r) => goodCam.listen(0, "127.0.0.1", r));
  goodCamPort = (goodCam.address() as net.AddressInfo).port;
  // snapshot_max_age_ms 0: no snapshot cache, so every request below reaches the (hostile) camera.
  server = await startStreamer({
    roles: ["endpoint", "streamer"], pki, tokens: ["tok-bad", "tok-good"], limits: LIMITS, streamerSettings: { snapshot_max_age_ms: 0 },
  });
  const endpoints = [`127.0.0.1:${server.ports.endpoint}`];
  badAgent = await startAgent({ pki, endpoints, targets: { http: badCam.addr }, token: "tok-bad", name: "agent-bad" });
  goodAgent = await startAgent({ pki, endpoints, targets: { http: `127.0.0.1:${goodCamPort}` }, token: "tok-good", name: "agent-good" });
  bad = badAgent.deviceId()!;
  good = goodAgent.deviceId()!;
}, 60_000);

afterAll(async () => {
  await badAgent?.stop();
  await goodAgent?.stop();
  await server?.stop();
  await badCam?.stop();
  await new Promise((r) => goodCam?.close(r));
});

/** A snapshot as the NVR asks for it; bounded, so a frozen streamer fails the test instead of hanging it. */
async function snapshot(id: string, auth: { basic?: boolean; token?: string } = { basic: true }) {
  const url = server.httpUrl(id, "snapshot.jpg") + (auth.token ? `?token=${auth.token}` : "");
  const t0 = Date.now();
  const res = await fetch(url, { headers: auth.basic ? { Authorization: BASIC } : {}, signal: AbortSignal.timeout(6000) });
  const body = Buffer.from(await res.arrayBuffer());
  return { status: res.status, body, ms: Date.now() - t0 };
}

async function expectGoodServes() {
  const r = await snapshot(good);
  expect(r.status).toBe(200);
  expect(r.body.equals(JPEG)).toBe(true);
}

/** A counter from /metrics; `missingAs` when the process does not have it (yet). */
async function metric(name: string, missingAs?: number): Promise<number> {
  const text = await (await fetch(`http://127.0.0.1:${server.ports.admin}/metrics`, { signal: AbortSignal.timeout(3000) })).text();
  const m = new RegExp(`^${name} (\\d+)$`, "m").exec(text);
  if (!m && missingAs !== undefined) return missingAs;
  if (!m) throw new Error(`no metric ${name}`);
  return Number(m[1]);
}

function alive() {
  expect(server.proc.exit()).toBeNull();
}

describe("request targets that used to throw out of the handler and kill the process", () => {
  it.each([
    ["GET // HTTP/1.1", 404],
    ["GET http://[ HTTP/1.1", 400],
    ["GET //a%zz/snapshot.jpg HTTP/1.1", 404],
    ["GET http://x:99999/ HTTP/1.1", 400],
  ])("gateway: %s → %i", async (line, status) => {
    const r = await rawRequest(server.ports.http, `${line}\r\nHost: x\r\nConnection: close\r\n\r\n`, 3000);
    expect(r.data).toMatch(new RegExp(`^HTTP/1\\.1 ${status} `));
    alive();
    await expectGoodServes();
  });

  it("admin: GET // → 404, and the API keeps answering", async () => {
    const r = await rawRequest(server.ports.admin, "GET // HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", 3000);
    expect(r.data).toMatch(/^HTTP\/1\.1 404 /);
    alive();
    expect((await server.devices()).map((d) => d.state)).toEqual(["online", "online"]);
  });
});

describe("hostile camera answers", () => {
  it("chunk size -6 (froze the process at 100 % CPU): 502 at once; the other device serves meanwhile", async () => {
    badCam.answer = (s) => s.end("HTTP/1.1 200 OK\r\nContent-Type: image/jpeg\r\nTransfer-Encoding: chunked\r\n\r\n-6\r\nxxxxxx\r\n0\r\n\r\n");
    const errors = await metric("flussonic_http_camera_errors_total", 0);
    const [attack, other] = await Promise.all([snapshot(bad), snapshot(good)]);
    expect(attack.status).toBe(502);
    expect(attack.ms).toBeLessThan(1000);
    expect(other.status).toBe(200);
    // Keep attacking (as many at once as one viewer may) while the good device is asked for snapshots.
    const n = 2 * LIMITS.viewer_streams_per_device;
    const rounds = await Promise.all(Array.from({ length: n }, (_, i) => snapshot(i % 2 ? bad : good)));
    expect(rounds.map((r) => r.status)).toEqual(Array.from({ length: n }, (_, i) => (i % 2 ? 502 : 200)));
    expect(await metric("flussonic_http_camera_errors_total")).toBeGreaterThanOrEqual(errors + 1 + LIMITS.viewer_streams_per_device);
    alive();
  }, 10_000);

  it("an answer over camera_response_max_bytes (was 200 with a truncated body): 502", async () => {
    const big = Buffer.alloc(17 * 1024 * 1024, 0xab); // over the old hard-coded 16 MiB cut too
    badCam.answer = (s) => {
      s.write("HTTP/1.0 200 OK\r\nContent-Type: image/jpeg\r\n\r\n");
      s.end(big);
    };
    const r = await snapshot(bad);
    expect(r.status).toBe(502);
    await expectGoodServes();
  });

  it("a camera reset mid-body (was 200 with the part that came): 502", async () => {
    badCam.answer = (s) => {
      s.write("HTTP/1.0 200 OK\r\nContent-Type: image/jpeg\r\n\r\n" + "x".repeat(5000));
      setTimeout(() => s.resetAndDestroy(), 100);
    };
    const r = await snapshot(bad);
    expect(r.status).toBe(502);
    expect(r.body.toString()).not.toMatch(/x{100}/);
  });

  it("a camera closing before Content-Length is reached: 502", async () => {
    badCam.answer = (s) => s.end("HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n" + "x".repeat(500));
    expect((await snapshot(bad)).status).toBe(502);
  });

  it("a camera dripping its answer is cut off at camera_timeout_ms with 502", async () => {
    badCam.answer = (s) => {
      s.write("HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n");
      const t = setInterval(() => (s.destroyed ? clearInterval(t) : s.write("x")), 100);
      s.on("close", () => clearInterval(t));
    };
    const r = await snapshot(bad);
    expect(r.status).toBe(502);
    expect(r.ms).toBeGreaterThanOrEqual(1400);
    expect(r.ms).toBeLessThan(3000);
  }, 10_000);
});

describe("per-viewer share of a device", () => {
  function signUrl(device: string): string {
    return execFileSync(process.execPath, [join(BUNDLE, "streamer.cjs"), "--config", server.configFile, "sign-url", device, "60"], { encoding: "utf8" }).trim();
  }

  it("one account holding viewer_streams_per_device snapshots gets 429; others still get through", async () => {
    badCam.answer = () => {}; // never answers: each request holds its stream until camera_timeout_ms
    const token = signUrl(bad);
    const held = Array.from({ length: LIMITS.viewer_streams_per_device }, () => snapshot(bad));
    await new Promise((r) => setTimeout(r, 300)); // their streams are open now
    const t0 = Date.now();
    const over = await snapshot(bad);
    expect(over.status).toBe(429);
    expect(Date.now() - t0).toBeLessThan(500);
    // Another viewer (a token viewer, counted by address) still gets a stream of the same device
    // (its camera never answers: 502 at the timeout, not 429), and the account still gets other devices.
    const [byToken, otherDevice] = await Promise.all([snapshot(bad, { token }), snapshot(good)]);
    expect(byToken.status).toBe(502);
    expect(otherDevice.status).toBe(200);
    expect((await Promise.all(held)).map((r) => r.status)).toEqual(Array(LIMITS.viewer_streams_per_device).fill(502));
    // The share is given back when the streams close.
    badCam.answer = (s) => s.end("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok");
    expect((await snapshot(bad)).status).toBe(200);
    expect(await metric("flussonic_http_viewer_limited_total")).toBeGreaterThanOrEqual(1);
  }, 20_000);
});

describe("listener timeouts and limits", () => {
  const bound = LIMITS.http_request_timeout_ms * 1.25 + 300; // timeout + check interval + scheduling

  it("slowloris, a half-sent body and a silent connection are closed within http_request_timeout_ms", async () => {
    const before = await metric("flussonic_http_timeouts_total", 0);
    const head = `GET /${good}/snapshot.jpg HTTP/1.1\r\nHost: x\r\nAuthorization: ${BASIC}\r\n\r\n`;
    // The upload goes to a camera that never answers, so only the request timeout can end it.
    badCam.answer = () => {};
    const post = `POST /${bad}/audio HTTP/1.1\r\nHost: x\r\nAuthorization: ${BASIC}\r\nContent-Length: 1000\r\n\r\n` + "a".repeat(10);
    const [loris, halfBody, silent] = await Promise.all([
      rawRequest(server.ports.http, [...head], 5000, 100), // one byte every 100 ms: 9 s for the head
      rawRequest(server.ports.http, post, 5000),
      rawRequest(server.ports.http, [], 5000),
    ]);
    for (const r of [loris, halfBody, silent]) {
      expect(r.closedAfterMs).not.toBeNull();
      expect(r.closedAfterMs!).toBeGreaterThanOrEqual(LIMITS.http_request_timeout_ms - 50);
      expect(r.closedAfterMs!).toBeLessThan(bound);
    }
    expect(loris.data).toMatch(/^HTTP\/1\.1 408 /);
    expect(halfBody.data).toMatch(/^HTTP\/1\.1 408 /);
    expect(await metric("flussonic_http_timeouts_total")).toBeGreaterThanOrEqual(before + 3);
    await expectGoodServes();
  }, 10_000);

  it("an idle keep-alive connection is closed after http_keepalive_timeout_ms (+1 s Node adds)", async () => {
    const req = `GET /${good}/snapshot.jpg HTTP/1.1\r\nHost: x\r\nAuthorization: ${BASIC}\r\n\r\n`;
    const r = await rawRequest(server.ports.http, req, 4000);
    expect(r.data).toMatch(/^HTTP\/1\.1 200 /);
    expect(r.closedAfterMs).not.toBeNull();
    // Node 20 closes keepAliveTimeout + 1000 ms after the response, so a client reusing the
    // connection right at the advertised timeout does not race the close.
    expect(r.closedAfterMs!).toBeGreaterThanOrEqual(LIMITS.http_keepalive_timeout_ms);
    expect(r.closedAfterMs!).toBeLessThan(LIMITS.http_keepalive_timeout_ms + 1000 + 500);
  });

  it("connections over viewer_connections_per_ip are refused; the slots come back when they close", async () => {
    await new Promise((r) => setTimeout(r, LIMITS.http_keepalive_timeout_ms + 300)); // fetch's pooled connections are gone
    const refusedBefore = await metric("flussonic_http_connections_refused_total", 0);
    const holders = Array.from({ length: LIMITS.viewer_connections_per_ip }, () => rawRequest(server.ports.http, [], 3000));
    await new Promise((r) => setTimeout(r, 200));
    const extra = await rawRequest(server.ports.http, "GET / HTTP/1.1\r\nHost: x\r\n\r\n", 3000);
    expect(extra.data).toBe("");
    expect(extra.closedAfterMs!).toBeLessThan(500);
    expect(await metric("flussonic_http_connections_refused_total")).toBe(refusedBefore + 1);
    await Promise.all(holders); // closed by the request timeout
    // The server frees a slot when its side of the socket has closed, a moment after the client
    // saw the close: wait for the count (bounded) before the next connection.
    for (const until = Date.now() + 3000; (await metric("flussonic_http_connections", 0)) >= LIMITS.viewer_connections_per_ip && Date.now() < until;) {
      await new Promise((r) => setTimeout(r, 50));
    }
    await expectGoodServes();
  });
});

describe("admin API", () => {
  const move = (contentType: string | null) => fetch(`http://127.0.0.1:${server.ports.admin}/api/devices/cam-000000000000/move`, {
    method: "POST", body: JSON.stringify({ streamer: "127.0.0.1:1" }), signal: AbortSignal.timeout(3000),
    headers: contentType ? { "Content-Type": contentType } : {},
  });

  it("POSTs need Content-Type: application/json (415 for the types a web page may send cross-origin)", async () => {
    for (const t of ["text/plain", "application/x-www-form-urlencoded", "multipart/form-data; boundary=x", null]) {
      expect((await move(t)).status).toBe(415);
    }
    // With the right type the request reaches the handler: no such device here.
    expect((await move("application/json")).status).toBe(404);
    expect((await move("application/json; charset=utf-8")).status).toBe(404);
  });
});

describe("process", () => {
  it("survived every attack above without an uncaught error", async () => {
    alive();
    expect(await metric("flussonic_uncaught_errors_total")).toBe(0);
    await expectGoodServes();
  });
});
