// Receive-window auto-tuning (protocol/stream.ts): a stream whose consumer keeps up gets a larger
// window, never past the receiver's maxWindow; a stalled consumer holds at most that; a receiver
// that never grows (the agent, an older server) still works with the same sender. The sender is
// the agent's relay path: the JS pump reading a camera socket (platform/js-pump.ts).
import { describe, expect, it } from "vitest";
import { jsPump } from "../../src/platform/js-pump";
import type { Clock } from "../../src/platform/platform";
import { FrameDecoder, FrameType, readU32 } from "../../src/protocol/frame";
import { DEFAULT_SESSION_OPTIONS, Session } from "../../src/protocol/session";
import type { Stream } from "../../src/protocol/stream";
import { realClock, socketPair, tick, until } from "./memsock";

const INITIAL = 256 * 1024;
const MAX = 1024 * 1024;

/** Time stands still unless the test moves it: "fast" and "slow" do not depend on the machine's load. */
function testClock(): { t: number; clock: Clock } {
  const c: { t: number; clock: Clock } = { t: 0, clock: { ...realClock, now: () => c.t } };
  return c;
}

/**
 * A server session (the receiver, maxWindow as given) and an agent session that relays `total`
 * bytes from a camera socket through the JS pump. Counts the credit the server grants on the wire.
 */
function relay(total: number, maxWindow: number, clock: Clock, streams = 1) {
  const [sa, sb] = socketPair();
  const closed: string[] = [];
  const server = new Session(sa, clock, { ...DEFAULT_SESSION_OPTIONS, maxWindow }, {
    onControl: () => {},
    onClose: (r) => closed.push(`server: ${r.text}`),
  });
  new Session(sb, clock, { ...DEFAULT_SESSION_OPTIONS, peerMayOpen: true }, {
    onControl: () => {},
    onClose: (r) => closed.push(`agent: ${r.text}`),
    onOpen: (st) => {
      st.accept();
      let camWritten = 0;
      const [cam, camRemote] = socketPair();
      camRemote.highWater = 64 * 1024; // a camera that always has data, as fast as it is read
      const feed = () => {
        while (camWritten < total) {
          camWritten += 16 * 1024;
          if (!camRemote.write(new Uint8Array(16 * 1024))) return;
        }
        camRemote.end();
      };
      camRemote.onDrain = feed;
      st.sendFrom((link, id, credit, ev) => jsPump(cam, link, id, credit, ev, (fn) => setImmediate(fn)), {
        onEnd: () => st.end(),
        onError: (e) => closed.push(`pump: ${e}`),
      });
      feed();
    },
  });
  const all: Stream[] = Array.from({ length: streams }, () => server.openStream("rtsp"));
  const s = all[0];
  // What the sender may still send = initial window + credit granted − bytes received; the most
  // of it seen right after each WINDOW is the window the receiver offered.
  const dec = new FrameDecoder();
  const w = { credited: 0, maxOutstanding: INITIAL };
  const write = sa.write.bind(sa);
  sa.write = (d) => {
    for (const f of dec.push(d.slice())) {
      if (f.type !== FrameType.WINDOW || f.stream !== s.id) continue;
      w.credited += readU32(f.payload, 0);
      w.maxOutstanding = Math.max(w.maxOutstanding, INITIAL + w.credited - s.bytesIn);
    }
    return write(d);
  };
  return { server, s, all, w, closed };
}

/**
 * Bytes the server has received and not credited back: what its consumer is holding. Part of
 * the credit granted was the window's growth, not bytes consumed.
 */
const held = (r: ReturnType<typeof relay>) => r.s.bytesIn - (r.w.credited - (r.s.receiveWindowSize - INITIAL));

async function settled(r: ReturnType<typeof relay>): Promise<void> {
  // The sender has used all its credit: nothing more arrives over a few turns of the loop.
  for (let last = -1; last !== r.s.bytesIn;) {
    last = r.s.bytesIn;
    for (let i = 0; i < 20; i++) await tick();
  }
}

describe("receive-window auto-tuning", () => {
  it("a consumer that keeps up gets its window doubled up to maxWindow, never past it", async () => {
    const c = testClock();
    const r = relay(8 * 1024 * 1024, MAX, c.clock);
    let got = 0, ended = false;
    r.s.onData = (d) => (got += d.length);
    r.s.onEnd = () => (ended = true);
    await until(() => ended, 20_000);
    expect(got).toBe(8 * 1024 * 1024);
    expect(r.closed).toEqual([]);
    expect(r.w.maxOutstanding).toBe(MAX); // the sender was offered, and honoured, the grown window
    expect(r.s.receiveWindowSize).toBe(MAX);
  });

  it("a consumer slower than WINDOW_GROW_MS per window keeps the initial window; two slow round trips grow it", async () => {
    for (const [rttMs, expected] of [[0, INITIAL], [100, MAX]] as const) {
      const c = testClock();
      const r = relay(4 * 1024 * 1024, MAX, c.clock);
      r.server.rttMs = rttMs; // as if a PING had been answered after that long (a distant camera)
      let got = 0, ended = false;
      r.s.onData = (d) => {
        got += d.length;
        c.t += (d.length / (16 * 1024)) * 5; // 5 ms per 16 KiB: a window takes 80 ms (~26 Mbit/s)
      };
      r.s.onEnd = () => (ended = true);
      await until(() => ended, 20_000);
      expect(got).toBe(4 * 1024 * 1024);
      expect(r.closed).toEqual([]);
      expect(r.w.maxOutstanding).toBe(expected);
    }
  });

  it("a stalled consumer holds at most maxWindow, or the initial window if it never drained", async () => {
    // Grown first, then stalled.
    const c = testClock();
    const r = relay(16 * 1024 * 1024, MAX, c.clock);
    let got = 0;
    r.s.onData = (d) => {
      got += d.length;
      if (got >= 4 * 1024 * 1024) r.s.pause(); // the viewer stopped reading
    };
    await until(() => got >= 4 * 1024 * 1024, 20_000);
    c.t += 10_000; // stalled for a long time
    await settled(r);
    expect(r.s.receiveWindowSize).toBe(MAX);
    expect(held(r)).toBeGreaterThan(INITIAL);
    expect(held(r)).toBeLessThanOrEqual(MAX);
    expect(r.w.maxOutstanding).toBeLessThanOrEqual(MAX);
    // Draining again lets the rest through.
    let ended = false;
    r.s.onEnd = () => (ended = true);
    r.s.onData = (d) => (got += d.length);
    r.s.resume();
    await until(() => ended, 20_000);
    expect(got).toBe(16 * 1024 * 1024);
    expect(r.closed).toEqual([]);

    // Stalled from the first byte: no credit goes back, so no growth either.
    const r2 = relay(4 * 1024 * 1024, MAX, testClock().clock);
    r2.s.onData = () => r2.s.pause();
    await until(() => r2.s.bytesIn > 0);
    await settled(r2);
    expect(r2.w.credited).toBe(0);
    expect(r2.s.bytesIn).toBe(INITIAL);
    expect(r2.s.receiveWindowSize).toBe(INITIAL);
  });

  it("the streams of one link share one growth budget: together at most maxWindow above their initial windows", async () => {
    // Without the budget a hostile agent could make one link hold maxStreams grown windows.
    const c = testClock();
    const r = relay(4 * 1024 * 1024, MAX, c.clock, 3);
    const got = [0, 0, 0];
    let ended = 0;
    r.all.forEach((st, i) => {
      st.onData = (d) => (got[i] += d.length);
      st.onEnd = () => {
        st.end(); // the server's half too: the stream finishes
        ended++;
      };
    });
    // While all three run, their growth together stays within one stream's.
    let most = 0;
    while (ended < 3) {
      most = Math.max(most, r.all.reduce((sum, st) => sum + st.receiveWindowSize - INITIAL, 0));
      await tick();
    }
    expect(got).toEqual([4 * 1024 * 1024, 4 * 1024 * 1024, 4 * 1024 * 1024]);
    expect(r.closed).toEqual([]);
    expect(most).toBeGreaterThan(0);
    expect(most).toBeLessThanOrEqual(MAX - INITIAL);
    // Finished streams gave their growth back: the whole budget is free again.
    await until(() => r.all.every((st) => st.isClosed), 20_000);
    expect(r.server.windowGrowthAllowed(Number.MAX_SAFE_INTEGER)).toBe(MAX - INITIAL);
  }, 30_000);

  it("a receiver that never grows (maxWindow = the initial window) works with the same sender", async () => {
    const c = testClock();
    const r = relay(4 * 1024 * 1024, INITIAL, c.clock);
    let got = 0, ended = false;
    r.s.onData = (d) => (got += d.length);
    r.s.onEnd = () => (ended = true);
    await until(() => ended, 20_000);
    expect(got).toBe(4 * 1024 * 1024);
    expect(r.closed).toEqual([]);
    expect(r.w.maxOutstanding).toBe(INITIAL);
    expect(r.s.receiveWindowSize).toBe(INITIAL);
  });
});
