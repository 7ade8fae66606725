// What a hostile peer can make a Session queue or compute: PING answers are rate-limited and never
// queued behind a full link, a flood ends the link, every reply counts against the write buffer,
// and a peer that sends but never reads is dropped by the keepalive.
import { describe, expect, it } from "vitest";
import { encodeControl } from "../../src/protocol/control";
import { FrameDecoder, FrameType, encodeFrame, type Frame } from "../../src/protocol/frame";
import { DEFAULT_SESSION_OPTIONS, Session, type CloseCode, type SessionOptions } from "../../src/protocol/session";
import { type MemSocket, realClock, socketPair, until } from "./memsock";

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const ping = (n: number) => {
  const p = new Uint8Array(8);
  new DataView(p.buffer).setUint32(4, n);
  return encodeFrame(FrameType.PING, 0, p);
};

/** A Session under test on one end; the other end is raw bytes the test writes and reads. */
function rig(o: Partial<SessionOptions> = {}) {
  const [raw, sock] = socketPair();
  const got: Frame[] = [];
  const dec = new FrameDecoder();
  raw.onData = (d) => got.push(...dec.push(d));
  const st = { closed: undefined as string | undefined, code: undefined as CloseCode | undefined };
  const session = new Session(sock, realClock, { ...DEFAULT_SESSION_OPTIONS, peerMayOpen: true, ...o }, {
    onControl: () => {},
    onOpen: () => {}, // holds the stream: the test fills maxStreams
    onClose: (r) => ((st.closed = r.text), (st.code = r.code)),
  });
  const pongs = () => got.filter((f) => f.type === FrameType.PONG);
  return { raw, sock: sock as MemSocket, session, got, pongs, st };
}

describe("PING answers", () => {
  it("a PING flood from a peer that does not read costs a bounded number of bytes and ends the link", async () => {
    const { raw, sock, session, st } = rig();
    raw.pause(); // the hostile server never reads
    sock.highWater = 64 * 1024;
    for (let i = 0; i < 10_000 && !st.closed; i += 100) {
      for (let j = 0; j < 100; j++) raw.write(ping(i + j));
      await new Promise((r) => setImmediate(r));
    }
    await until(() => st.closed !== undefined, 2000);
    expect(st.closed).toMatch(/^flood: more than 200 PINGs in one second/);
    expect(st.code).toBe("flood");
    // At most one bucket of PONGs (20 × 20 bytes) and the closing ERROR left this side.
    expect(sock.written).toBeLessThan(20 * 20 + 200);
    expect(session.pingsDropped).toBeGreaterThan(100);
  });

  it("answers at most pongsPerSecond and drops (counts) the rest, below the flood limit", async () => {
    const { raw, session, pongs, st } = rig();
    // 150 PINGs/s for 1.2 s: over the answer rate (20/s), under the flood limit (200/s).
    for (let t = 0; t < 12; t++) {
      for (let j = 0; j < 15; j++) raw.write(ping(t * 100 + j));
      await sleep(100);
    }
    await sleep(50);
    expect(st.closed).toBeUndefined();
    // One full bucket plus the refill over ~1.2 s (loaded machines stretch the clock: some slack).
    expect(pongs().length).toBeGreaterThanOrEqual(20);
    expect(pongs().length).toBeLessThanOrEqual(20 + 20 * 2);
    expect(session.pingsDropped).toBe(180 - pongs().length);
  });

  it("while the link is blocked no PONG is queued; the latest PING is answered once it drains", async () => {
    const { raw, sock, session, pongs } = rig();
    raw.pause();
    sock.highWater = 1024;
    session.sendControl(FrameType.ERROR, { code: "x", message: "y".repeat(1000) }); // fills the buffer
    const before = sock.written;
    for (let i = 1; i <= 5; i++) raw.write(ping(i));
    await sleep(50);
    expect(sock.written).toBe(before); // nothing queued behind the full link
    raw.resume();
    await until(() => pongs().length > 0);
    await sleep(50);
    expect(pongs().length).toBe(1);
    expect(new DataView(pongs()[0].payload.buffer).getUint32(4)).toBe(5);
    expect(session.pingsDropped).toBe(4);
  });

  it("before startAnsweringPings nothing is answered; then the latest PING once", async () => {
    const { raw, session, pongs } = rig({ answerPings: false });
    for (let i = 1; i <= 3; i++) raw.write(ping(i));
    await sleep(50);
    expect(pongs()).toEqual([]);
    session.startAnsweringPings();
    await until(() => pongs().length === 1);
    expect(new DataView(pongs()[0].payload.buffer).getUint32(4)).toBe(3);
    raw.write(ping(4));
    await until(() => pongs().length === 2);
  });
});

describe("write buffer", () => {
  it("replies a peer provokes count against maxWriteBuffer; a peer that does not read is cut off", async () => {
    const { raw, sock, st } = rig({ maxStreams: 1, maxWriteBuffer: 64 * 1024 });
    raw.pause();
    sock.highWater = 16 * 1024;
    // Each OPEN over maxStreams is answered RESET busy: a reply the peer can ask for at will.
    for (let id = 1; id <= 5000 && !st.closed; id++) {
      raw.write(encodeFrame(FrameType.OPEN, id, encodeControl({ target: "rtsp" })));
      if (id % 200 === 0) await new Promise((r) => setImmediate(r));
    }
    await until(() => st.closed !== undefined, 2000);
    expect(st.closed).toMatch(/write buffer over 65536 bytes: peer not reading/);
    expect(st.code).toBe("write_buffer");
    // Socket buffer + the bound + one frame, not 5000 RESETs (~300 KB).
    expect(sock.written).toBeLessThanOrEqual(16 * 1024 + 64 * 1024 + 200);
  });
});

describe("keepalive against a peer that sends but never reads", () => {
  it("is dropped although data keeps arriving", async () => {
    const ka = { pingIntervalMs: 100, idleTimeoutMs: 350 };
    const { raw, sock, st } = rig(ka);
    raw.pause();
    sock.highWater = 4096;
    const t0 = Date.now();
    const feeder = setInterval(() => raw.write(ping(1)), 50); // keeps "nothing received" from firing
    try {
      await until(() => st.closed !== undefined, 3000);
    } finally {
      clearInterval(feeder);
    }
    expect(st.closed).toMatch(/keepalive timeout: PING not answered for 350 ms|write stall/);
    expect(st.code).toMatch(/^(ping_unanswered|write_stall)$/);
    // First PING after 100 ms, unanswered for 350 ms, one 50 ms check tick; slack for loaded CI.
    expect(Date.now() - t0).toBeLessThan(100 + 350 + 50 + 800);
  });

  it("a PONG that does not echo our PING does not count as an answer", async () => {
    const ka = { pingIntervalMs: 100, idleTimeoutMs: 350 };
    const { raw, st } = rig(ka);
    raw.onData = null; // reads, but answers with made-up PONGs
    const feeder = setInterval(() => raw.write(encodeFrame(FrameType.PONG, 0, new Uint8Array(8))), 50);
    try {
      await until(() => st.closed !== undefined, 3000);
    } finally {
      clearInterval(feeder);
    }
    expect(st.closed).toMatch(/PING not answered/);
    expect(st.code).toBe("ping_unanswered");
  });
});
