// Session over a socket with writeTwo (the QuickJS platform's byte path): DATA leaves as header +
// payload in one call, and the wire bytes are exactly those of encodeFrame.
import { describe, expect, it } from "vitest";
import { FrameType, HEADER_SIZE, encodeFrame } from "../../src/protocol/frame";
import { DEFAULT_SESSION_OPTIONS, Session } from "../../src/protocol/session";
import { MemSocket, realClock, socketPair, until } from "./memsock";

/** Records every write as the bytes on the wire; writeTwo copies, as the contract requires. */
function withWriteTwo(s: MemSocket, wire: Uint8Array[], calls: { two: number }): void {
  const write = s.write.bind(s);
  s.write = (d) => {
    wire.push(d.slice());
    return write(d);
  };
  (s as MemSocket & { writeTwo(h: Uint8Array, b: Uint8Array): boolean }).writeTwo = (h, b) => {
    calls.two++;
    const all = new Uint8Array(h.length + b.length);
    all.set(h);
    all.set(b, h.length);
    wire.push(all);
    return write(all);
  };
}

describe("session over a writeTwo socket", () => {
  it("sends DATA as header + payload with the bytes of encodeFrame, other frames as before", async () => {
    const [sa, sb] = socketPair();
    const wire: Uint8Array[] = [];
    const calls = { two: 0 };
    withWriteTwo(sb, wire, calls);
    const opts = { ...DEFAULT_SESSION_OPTIONS, initialWindow: 64 * 1024 };
    const got: Uint8Array[] = [];
    let ended = false;
    const server = new Session(sa, realClock, opts, { onControl: () => {}, onClose: () => {} });
    const agent = new Session(sb, realClock, { ...opts, peerMayOpen: true }, {
      onControl: () => {},
      onClose: () => {},
      onOpen: (s) => {
        s.accept();
        s.write(new Uint8Array([1, 2, 3]));
        s.write(new Uint8Array(20_000).fill(7)); // split into two DATA frames (16 KiB chunks)
        s.end();
      },
    });
    const st = server.openStream("rtsp");
    st.onData = (d) => got.push(d);
    st.onEnd = () => (ended = true);
    await until(() => ended);

    const data = wire.filter((w) => w[1] === FrameType.DATA);
    expect(data.map((w) => w.length - HEADER_SIZE)).toEqual([3, 16 * 1024, 20_000 - 16 * 1024]);
    expect(calls.two).toBe(3); // only DATA took the two-part path
    expect(wire.some((w) => w[1] === FrameType.OPEN_OK)).toBe(true);
    expect(data[0]).toEqual(encodeFrame(FrameType.DATA, st.id, new Uint8Array([1, 2, 3])));
    expect(got.reduce((n, d) => n + d.length, 0)).toBe(20_003);
    expect(agent.bytesOut).toBe(wire.reduce((n, w) => n + w.length, 0));
    server.close("done");
  });
});
