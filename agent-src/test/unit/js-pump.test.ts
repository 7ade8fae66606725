// The JS relay pump (platform/js-pump.ts: Node, the bridge, and the reference for the C one)
// between in-memory sockets: credit is the only gate, a full link pauses it, EOF racing a used-up
// window still delivers every byte before onEnd.
import { describe, expect, it } from "vitest";
import { jsPump } from "../../src/platform/js-pump";
import { FrameDecoder, FrameType } from "../../src/protocol/frame";
import { socketPair, tick, until } from "./memsock";

function setup(credit: number) {
  const [cam, camRemote] = socketPair();
  const [link, server] = socketPair();
  const got: Uint8Array[] = [];
  const dec = new FrameDecoder();
  let frames = 0;
  server.onData = (d) => {
    for (const f of dec.push(d)) {
      expect(f.type).toBe(FrameType.DATA);
      expect(f.stream).toBe(0xfffffffe);
      expect(f.payload.length).toBeLessThanOrEqual(16 * 1024);
      frames++;
      got.push(f.payload);
    }
  };
  const ev = { sent: 0, frames: 0, full: 0, ended: 0, errors: [] as string[] };
  const pump = jsPump(cam, link, 0xfffffffe, credit, {
    onSent: (b, f) => {
      ev.sent += b;
      ev.frames += f;
    },
    onLinkFull: () => ev.full++,
    onEnd: () => ev.ended++,
    onError: (e) => ev.errors.push(e),
  }, (fn) => setImmediate(fn));
  const received = () => Buffer.concat(got);
  return { cam, camRemote, link, server, pump, ev, received, frames: () => frames, sizes: () => got.map((g) => g.length) };
}

const pattern = (n: number) => Buffer.from(Array.from({ length: n }, (_, i) => (i * 31 + 7) & 255));

describe("JS relay pump", () => {
  it("EOF racing a zero window: nothing moves without credit, every byte arrives before onEnd", async () => {
    const t = setup(0);
    const data = pattern(100_000);
    t.camRemote.write(data); // one chunk, held by the pump (a source delivers EOF only after its data)
    t.camRemote.end();
    for (let i = 0; i < 5; i++) await tick();
    expect(t.received().length).toBe(0);
    expect(t.ev.ended).toBe(0);
    t.pump.credit(30_000);
    await until(() => t.received().length === 30_000);
    for (let i = 0; i < 5; i++) await tick();
    expect(t.received().length).toBe(30_000); // exactly the credit, not a byte more
    expect(t.ev.ended).toBe(0);
    t.pump.credit(0xffffffff); // the largest window there is
    await until(() => t.ev.ended === 1);
    expect(t.received().equals(data)).toBe(true);
    expect([t.ev.sent, t.ev.frames]).toEqual([data.length, t.frames()]);
    expect(t.ev.errors).toEqual([]);
  });

  it("a full link: onLinkFull, the source is paused, kick() after the drain carries on in order", async () => {
    const t = setup(10_000_000);
    t.link.highWater = 32 * 1024;
    t.server.pause(); // the streamer does not read for now
    const data = pattern(400_000);
    t.camRemote.write(data);
    t.camRemote.end();
    await until(() => t.ev.full > 0);
    for (let i = 0; i < 5; i++) await tick();
    expect(t.ev.sent).toBeLessThan(data.length);
    t.link.onDrain = () => t.pump.kick();
    t.server.resume();
    await until(() => t.ev.ended === 1);
    expect(t.received().equals(data)).toBe(true);
  });

  it("one source read leaves in one link write, as frames that each fill one 16 KiB TLS record", async () => {
    const t = setup(10_000_000);
    const writes: number[] = [];
    const write = t.link.write.bind(t.link);
    t.link.write = (d) => {
      writes.push(d.length);
      return write(d);
    };
    const data = pattern(60_000);
    t.camRemote.write(data); // one read of the camera socket
    await until(() => t.received().length === data.length);
    expect(writes).toEqual([60_000 + 4 * 12]);
    expect(t.sizes()).toEqual([16_372, 16_372, 16_372, 60_000 - 3 * 16_372]);
    expect(t.received().equals(data)).toBe(true);
  });

  it("stop(): nothing more is read or sent, no onEnd", async () => {
    const t = setup(1_000_000);
    t.pump.stop();
    t.camRemote.write(pattern(1000));
    t.camRemote.end();
    for (let i = 0; i < 10; i++) await tick();
    expect(t.received().length).toBe(0);
    expect(t.ev.ended).toBe(0);
  });
});
