// The streamer's agent port against peers that are not agents, with real processes: raw TCP that
// never speaks TLS, connection floods that never authenticate, PING floods from peers that do not
// read (before and after AUTH). The streamer's memory is read from /proc/PID/status.
import { readFileSync } from "node:fs";
import * as net from "node:net";
import * as tls from "node:tls";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Challenge, RetryAfter } from "../../src/protocol/control";
import { FrameDecoder, FrameType, encodeFrame, type Frame } from "../../src/protocol/frame";
import { encodeControl } from "../../src/protocol/control";
import { authFor, deviceKeyFor, RawAgent } from "../../../testkit/fake-server";
import { makePki, SECRET, startStreamer, type Pki, type StreamerProc } from "../../../testkit/system";

const HANDSHAKE_MS = 1500;
const PENDING_PER_IP = 24;
let pki: Pki, server: StreamerProc;

beforeAll(async () => {
  pki = makePki();
  server = await startStreamer({
    roles: ["streamer"], pki, name: "streamer-limits",
    // A small bucket, so a handful of unauthenticated connections would drain it.
    admission: { rate: 0.2, burst: 3, retry_ms: 4000 },
    limits: { handshake_timeout_ms: HANDSHAKE_MS, agent_pending_per_ip: PENDING_PER_IP },
  });
}, 60_000);
afterAll(async () => {
  await server?.stop();
});

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const rssKiB = () => Number(/VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${server.proc.pid}/status`, "utf8"))![1]);
const closed = (s: net.Socket) => new Promise<number>((r) => {
  const t0 = Date.now();
  if (s.destroyed) r(0);
  s.once("close", () => r(Date.now() - t0));
});

function rawTcp(): Promise<net.Socket> {
  return new Promise((res, rej) => {
    const s = net.connect(server.ports.streamer, "127.0.0.1", () => res(s));
    s.on("error", () => {});
    s.once("error", rej);
  });
}

/** A TLS client that collects the frames it reads (when it reads). */
async function tlsClient(): Promise<{ sock: tls.TLSSocket; frames: Frame[] }> {
  const sock = await new Promise<tls.TLSSocket>((res, rej) => {
    const s = tls.connect({ host: "127.0.0.1", port: server.ports.streamer, ca: pki.caPem }, () => res(s));
    s.once("error", rej);
  });
  sock.on("error", () => {});
  const frames: Frame[] = [];
  const dec = new FrameDecoder();
  sock.on("data", (d: Buffer) => frames.push(...dec.push(new Uint8Array(d))));
  return { sock, frames };
}

const control = (t: FrameType, msg: object) => encodeFrame(t, 0, encodeControl(msg));
const pingFrame = encodeFrame(FrameType.PING, 0, new Uint8Array(8));

/**
 * Writes PINGs as fast as the socket takes them (honouring its backpressure, so the test process
 * stays small) until the server cuts the connection or `ms` pass. Returns the streamer's peak RSS.
 */
async function flood(sock: net.Socket, ms: number): Promise<{ peakKiB: number; cutAfterMs: number | null; bytes: number }> {
  const batch = Buffer.concat(Array.from({ length: 4096 }, () => pingFrame)); // 80 KiB
  const t0 = Date.now();
  let peakKiB = rssKiB(), bytes = 0;
  let gone = false;
  sock.once("close", () => (gone = true));
  while (!gone && Date.now() - t0 < ms) {
    bytes += batch.length;
    if (!sock.write(batch)) await new Promise((r) => { sock.once("drain", r); sock.once("close", r); setTimeout(r, 100); });
    peakKiB = Math.max(peakKiB, rssKiB());
  }
  return { peakKiB, cutAfterMs: gone ? Date.now() - t0 : null, bytes };
}

describe("before authentication", () => {
  it("raw TCP that never sends a ClientHello is closed within the handshake timeout", async () => {
    const s = await rawTcp();
    const ms = await Promise.race([closed(s), sleep(HANDSHAKE_MS + 3000).then(() => -1)]);
    s.destroy();
    expect(ms).toBeGreaterThanOrEqual(HANDSHAKE_MS - 200);
    expect(ms).toBeLessThan(HANDSHAKE_MS + 1000);
  }, 15_000);

  it("TLS, HELLO, then nothing: closed within the same deadline, counted as a timeout", async () => {
    const { sock, frames } = await tlsClient();
    sock.write(control(FrameType.HELLO, { proto: 1, agent: "slow" }));
    const ms = await Promise.race([closed(sock), sleep(HANDSHAKE_MS + 3000).then(() => -1)]);
    expect(frames.map((f) => f.type)).toEqual([FrameType.CHALLENGE, FrameType.ERROR]);
    expect(ms).toBeGreaterThan(0);
    expect(ms).toBeLessThan(HANDSHAKE_MS + 1000);
    const metrics = await (await fetch(`http://127.0.0.1:${server.ports.admin}/metrics`)).text();
    expect(Number(/flussonic_streamer_handshake_timeouts_total (\d+)/.exec(metrics)![1])).toBeGreaterThanOrEqual(2);
  }, 15_000);

  it("connections not yet authenticated are limited per address; the extra ones are closed at once", async () => {
    const socks = await Promise.all(Array.from({ length: PENDING_PER_IP + 8 }, () => rawTcp()));
    const gone: boolean[] = socks.map(() => false);
    socks.forEach((s, i) => s.once("close", () => (gone[i] = true)));
    await sleep(500); // well inside the handshake timeout
    expect(gone.filter(Boolean).length).toBe(8);
    socks.forEach((s) => s.destroy());
    const metrics = await (await fetch(`http://127.0.0.1:${server.ports.admin}/metrics`)).text();
    expect(Number(/flussonic_streamer_handshake_connections_refused_total (\d+)/.exec(metrics)![1])).toBeGreaterThanOrEqual(8);
    await sleep(200);
  }, 15_000);

  it("a PING before AUTH gets no PONG", async () => {
    const { sock, frames } = await tlsClient();
    for (let i = 0; i < 5; i++) sock.write(pingFrame);
    sock.write(control(FrameType.HELLO, { proto: 1, agent: "pinger" }));
    await sleep(500);
    expect(frames.map((f) => f.type)).toEqual([FrameType.CHALLENGE]);
    sock.destroy();
  });

  it("an unauthenticated PING flood from a peer that does not read is cut off; the streamer stays small", async () => {
    const { sock, frames } = await tlsClient();
    sock.pause(); // never reads
    const rss0 = rssKiB();
    const r = await flood(sock, 6000);
    sock.destroy();
    console.log(`unauthenticated PING flood: ${(r.bytes / 1048576).toFixed(1)} MiB sent, cut after ${r.cutAfterMs} ms, streamer RSS ${rss0} → peak ${r.peakKiB} KiB`);
    expect(frames.filter((f) => f.type === FrameType.PONG)).toEqual([]);
    // Cut as a flood (ERROR, then at most the 2 s grace), not by the handshake deadline.
    expect(r.cutAfterMs).not.toBeNull();
    expect(r.cutAfterMs!).toBeLessThan(2000 + 1000);
    expect(server.proc.output()).toMatch(/closed: flood: more than 200 PINGs in one second/);
    expect(r.peakKiB - rss0).toBeLessThan(32 * 1024);
  }, 20_000);

  it("an unauthenticated TLS flood does not push a real agent into RETRY_AFTER", async () => {
    // More connections than the bucket holds, each through TLS and HELLO, none can AUTH.
    const flooders = await Promise.all(Array.from({ length: 12 }, () => tlsClient()));
    for (const f of flooders) f.sock.write(control(FrameType.HELLO, { proto: 1, agent: "flood", device_id: "cam-flood" }));
    await sleep(300);
    for (const f of flooders) expect(f.frames.map((x) => x.type)).toEqual([FrameType.CHALLENGE]);
    const a = await RawAgent.connect(server.ports.streamer, pki.caPem);
    a.send(FrameType.HELLO, { proto: 1, agent: "real", device_id: "cam-real00000001" });
    const ch = await a.next<Challenge>(FrameType.CHALLENGE);
    expect(ch).not.toBeNull();
    a.send(FrameType.AUTH, authFor(deviceKeyFor(SECRET, "cam-real00000001"), "cam-real00000001", ch!.nonce));
    expect(await a.next(FrameType.WELCOME)).toEqual({ device_id: "cam-real00000001" });
    expect(a.got(FrameType.RETRY_AFTER)).toEqual([]);
    a.close();
    for (const f of flooders) f.sock.destroy();
  }, 20_000);
});

describe("after authentication", () => {
  async function authenticated(id: string) {
    const { sock, frames } = await tlsClient();
    sock.write(control(FrameType.HELLO, { proto: 1, agent: "raw", device_id: id }));
    const end = Date.now() + 5000;
    while (!frames.length && Date.now() < end) await sleep(20);
    const nonce = (JSON.parse(Buffer.from(frames[0].payload).toString()) as Challenge).nonce;
    sock.write(control(FrameType.AUTH, authFor(deviceKeyFor(SECRET, id), id, nonce)));
    while (frames.length < 2 && Date.now() < end) await sleep(20);
    return { sock, frames };
  }

  it("reconnect storm of real agents is still spread by RETRY_AFTER with jitter", async () => {
    await sleep(1000); // let the bucket refill a little after the previous test
    const links = await Promise.all(Array.from({ length: 8 }, (_, i) => authenticated(`cam-storm0000000${i}`)));
    const answers = links.map((l) => l.frames[1]?.type);
    const retries = links.filter((l) => l.frames[1]?.type === FrameType.RETRY_AFTER)
      .map((l) => (JSON.parse(Buffer.from(l.frames[1].payload).toString()) as RetryAfter).ms);
    expect(answers.filter((t) => t === FrameType.WELCOME).length).toBeLessThanOrEqual(4);
    expect(retries.length).toBeGreaterThanOrEqual(4);
    for (const ms of retries) {
      expect(ms).toBeGreaterThanOrEqual(2000); // 4000 ms ± 50 %
      expect(ms).toBeLessThanOrEqual(6000);
    }
    links.forEach((l) => l.sock.destroy());
  }, 20_000);

  it("an authenticated device flooding PINGs without reading is cut off; the streamer stays small", async () => {
    await sleep(5500); // one bucket token back (0.2/s)
    const { sock, frames } = await authenticated("cam-pingflood001");
    expect(frames[1]?.type).toBe(FrameType.WELCOME);
    sock.pause();
    const rss0 = rssKiB();
    const r = await flood(sock, 8000);
    sock.destroy();
    console.log(`authenticated PING flood: ${(r.bytes / 1048576).toFixed(1)} MiB sent, cut after ${r.cutAfterMs} ms, streamer RSS ${rss0} → peak ${r.peakKiB} KiB`);
    expect(r.cutAfterMs).not.toBeNull();
    expect(r.cutAfterMs!).toBeLessThan(2000 + 1000);
    expect(r.peakKiB - rss0).toBeLessThan(32 * 1024);
    const metrics = await (await fetch(`http://127.0.0.1:${server.ports.admin}/metrics`)).text();
    expect(Number(/flussonic_streamer_links_cut_off_total (\d+)/.exec(metrics)![1])).toBeGreaterThanOrEqual(1);
    expect((await server.devices()).find((d) => d.id === "cam-pingflood001")?.state).not.toBe("online");
  }, 30_000);
});
