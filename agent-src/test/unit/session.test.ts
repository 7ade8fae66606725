import { describe, expect, it } from "vitest";
import { FrameType, encodeFrame } from "../../src/protocol/frame";
import { encodeControl } from "../../src/protocol/control";
import { DEFAULT_SESSION_OPTIONS, Session, type CloseCode, type SessionHandler } from "../../src/protocol/session";
import { STREAM_HIGH_WATER, type Stream } from "../../src/protocol/stream";
import { realClock, socketPair, until } from "./memsock";

const WINDOW = 64 * 1024;
const opts = { ...DEFAULT_SESSION_OPTIONS, initialWindow: WINDOW };

function pair(agentHandler: Partial<SessionHandler> = {}, serverOpts = {}, agentOpts = {}) {
  const [sa, sb] = socketPair();
  const closed: Record<string, string> = {};
  const codes: Record<string, CloseCode> = {};
  const server = new Session(sa, realClock, { ...opts, ...serverOpts }, {
    onControl: () => {},
    onClose: (r) => ((closed.server = r.text), (codes.server = r.code)),
  });
  const agent = new Session(sb, realClock, { ...opts, peerMayOpen: true, ...agentOpts }, {
    onControl: () => {},
    onClose: (r) => ((closed.agent = r.text), (codes.agent = r.code)),
    ...agentHandler,
  });
  return { server, agent, sa, sb, closed, codes };
}

describe("session streams", () => {
  it("a paused consumer holds at most one window and does not stall another stream", async () => {
    const producers = new Map<string, { stream: Stream; blocked: number; sent: number }>();
    const { server } = pair({
      onOpen: (s, target) => {
        s.accept();
        const p = { stream: s, blocked: 0, sent: 0 };
        producers.set(target, p);
        // A camera that always has data: write until told to stop, resume on drain.
        const pump = () => {
          while (p.sent < 4 * 1024 * 1024) {
            p.sent += 8192;
            if (!s.write(new Uint8Array(8192))) {
              p.blocked++;
              return;
            }
          }
          s.end();
        };
        s.onDrain = pump;
        setImmediate(pump);
      },
    });
    const slow = server.openStream("slow");
    const fast = server.openStream("fast");
    let slowGot = 0, fastGot = 0, fastEnded = false;
    slow.onData = (d) => {
      slowGot += d.length;
      slow.pause(); // a viewer that stopped reading
    };
    fast.onData = (d) => (fastGot += d.length);
    fast.onEnd = () => (fastEnded = true);
    await until(() => fastEnded, 10_000);
    expect(fastGot).toBe(4 * 1024 * 1024);
    expect(slowGot).toBeLessThanOrEqual(WINDOW);
    const sp = producers.get("slow")!;
    expect(sp.blocked).toBeGreaterThan(0); // the camera side was told to pause
    expect(sp.stream.bufferedOut).toBeLessThan(STREAM_HIGH_WATER + 8192);
    // Resuming the consumer lets the rest through.
    slow.onData = (d) => (slowGot += d.length);
    slow.resume();
    await until(() => slowGot === 4 * 1024 * 1024, 10_000);
  });

  it("half-close in each direction, then the stream is gone on both sides", async () => {
    let agentSide: Stream | null = null;
    const { server, agent } = pair({ onOpen: (s) => {
      agentSide = s;
      s.accept();
      s.onData = (d) => s.write(d); // echo
      s.onEnd = () => s.end();
    } });
    const s = server.openStream("echo");
    let opened = false, echoed = "", closedWith: string | null | undefined;
    s.onOpen = () => (opened = true);
    s.onData = (d) => (echoed += Buffer.from(d).toString());
    s.onClose = (r) => (closedWith = r);
    s.write(Buffer.from("hello"));
    s.end();
    await until(() => closedWith !== undefined);
    expect(opened).toBe(true);
    expect(echoed).toBe("hello");
    expect(closedWith).toBeNull();
    expect(agentSide!.isClosed).toBe(true);
    expect(server.streams.size + agent.streams.size).toBe(0);
  });

  it("reset reaches the peer with its code", async () => {
    const { server } = pair({ onOpen: (s) => s.reset("forbidden", "target not allowed") });
    const s = server.openStream("lan");
    let why: string | null = "";
    s.onClose = (r) => (why = r);
    await until(() => why !== "");
    expect(why).toMatch(/reset by peer: forbidden/);
  });

  it("a peer overrunning the window is a protocol error that closes the link", async () => {
    const { server, sb, closed, codes } = pair({ onOpen: (s) => s.accept() });
    const s = server.openStream("x");
    s.pause(); // the consumer takes nothing, so no credit goes back
    await until(() => server.streams.size === 1);
    // The agent side (sb) sends more than one window without waiting for credit.
    for (let i = 0; i < WINDOW / 16384 + 1; i++) sb.write(encodeFrame(FrameType.DATA, s.id, new Uint8Array(16384)));
    await until(() => closed.server !== undefined);
    expect(closed.server).toMatch(/flow: stream 1: peer sent 16384 bytes with 0 credit/);
    expect(codes.server).toBe("flow");
  });

  it("a pump that reports late is synced before a WINDOW is checked (no false 'bad WINDOW')", async () => {
    // The C pump reports what it sent with its next outcome, not per frame. Here it has used the
    // whole window, unreported, when the peer grants a full window again: legal, since the peer
    // saw every byte; judged on the stale count it would overflow 2^31-1 and cut the link.
    const W = 0x7fffffff;
    let synced = 0;
    const { server, sa, closed } = pair({
      onOpen: (st) => {
        st.accept();
        st.sendFrom((_link, _id, credit, ev) => ({
          credit: () => {},
          kick: () => {},
          stop: () => {},
          sync: () => {
            synced++;
            if (credit > 0) ev.onSent(credit, 1);
            credit = 0;
          },
        }), { onEnd: () => {}, onError: () => {} });
      },
    }, { initialWindow: W }, { initialWindow: W });
    const s = server.openStream("x");
    await until(() => server.streams.size === 1 && synced === 0);
    await new Promise((r) => setTimeout(r, 20)); // OPEN_OK through
    const grant = new Uint8Array(4);
    new DataView(grant.buffer).setUint32(0, W);
    sa.write(encodeFrame(FrameType.WINDOW, s.id, grant));
    await until(() => synced > 0 || closed.agent !== undefined);
    await new Promise((r) => setTimeout(r, 20));
    expect(closed).toEqual({});
    expect(synced).toBeGreaterThan(0);
  });

  it("an agent may not open streams (no media unasked)", async () => {
    const { sb, closed, codes } = pair();
    sb.write(encodeFrame(FrameType.OPEN, 9, encodeControl({ target: "rtsp" })));
    await until(() => closed.server !== undefined);
    expect(closed.server).toMatch(/forbidden: peer may not open streams/);
    expect(codes.server).toBe("forbidden");
  });

  it("more than maxStreams concurrent OPENs are refused with busy", async () => {
    const { server } = pair({ onOpen: (s) => s.accept() }, {}, { maxStreams: 2 });
    const reasons: (string | null)[] = [];
    for (let i = 0; i < 3; i++) server.openStream("t").onClose = (r) => reasons.push(r);
    await until(() => reasons.length === 1);
    expect(reasons[0]).toMatch(/busy/);
  });
});

describe("keepalive", () => {
  it("a blackholed link is detected within the idle timeout on both sides", async () => {
    const ka = { pingIntervalMs: 100, idleTimeoutMs: 350 };
    const { sa, sb, closed, codes } = pair({}, ka, ka);
    await new Promise((r) => setTimeout(r, 500));
    expect(closed).toEqual({}); // pings keep an idle link alive
    sa.blackholed = true;
    sb.blackholed = true;
    const t0 = Date.now();
    await until(() => closed.server !== undefined && closed.agent !== undefined, 2000);
    // Bound: idle timeout + one check tick (50 ms); generous slack for a loaded CI machine.
    expect(Date.now() - t0).toBeLessThan(350 + 50 + 600);
    expect(closed.agent).toMatch(/keepalive timeout/);
    expect(codes.agent).toMatch(/^(idle_timeout|ping_unanswered)$/);
  });

  it("default settings detect a dead link within 45 s", () => {
    const { pingIntervalMs, idleTimeoutMs } = DEFAULT_SESSION_OPTIONS;
    const tick = Math.min(pingIntervalMs, Math.floor(idleTimeoutMs / 7));
    expect(idleTimeoutMs + tick).toBeLessThanOrEqual(45_000);
    expect(pingIntervalMs).toBeLessThan(idleTimeoutMs / 2); // two pings can be lost
  });
});
