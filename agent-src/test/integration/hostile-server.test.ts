// A hostile or broken server against a real agent process (the Node build, or the native binary
// under qemu-user via FLUSSONIC_AGENT_CMD): every attack bounded in count and time, 127.0.0.1 only.
// What the agent must hold: docs/PROTOCOL.md "Agent limits".
import { existsSync, readFileSync, rmSync, watch } from "node:fs";
import * as net from "node:net";
import { join } from "node:path";
import { afterEach, beforeAll, describe, expect, it } from "vitest";
import { STATE_WRITES_PER_WINDOW } from "../../src/agent/state-writer";
import { FrameType } from "../../src/protocol/frame";
import { activatedAgentDir, HOSTILE_DEVICE, HOSTILE_KEY as KEY, openResetFlood, pingFlood } from "../../../testkit/attacks";
import { startFakeServer, type FakeScript, type FakeServer } from "../../../testkit/fake-server";
import { fdCount, memKb } from "../../../testkit/proc-stats";
import { makePki, startAgent, type AgentProc, type Pki } from "../../../testkit/system";

/** The most camera connections one agent holds (the stream cap, docs/PROTOCOL.md). */
const STREAM_CAP = 32;
/** The most descriptors the native agent numbers its sockets below (docs/native.md). */
const FD_CAP = 128;

let pki: Pki;
const running: { stop(): Promise<void> }[] = [];
const track = <T extends { stop(): Promise<void> }>(x: T): T => (running.push(x), x);
const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

beforeAll(() => {
  pki = makePki();
});
afterEach(async () => {
  for (const x of running.splice(0).reverse()) await x.stop();
});

async function fake(script: FakeScript): Promise<FakeServer> {
  return track(await startFakeServer(pki, script));
}

/** A camera target that counts the connections the agent holds open to it. */
async function countingCamera() {
  let open = 0;
  let peak = 0;
  let total = 0;
  const socks = new Set<net.Socket>();
  const srv = net.createServer((c) => {
    total++;
    peak = Math.max(peak, ++open);
    socks.add(c);
    c.on("error", () => {});
    // A connection stops counting when the agent lets go of it: its FIN ('end'), or a reset.
    let counted = true;
    const gone = () => {
      if (counted) open--;
      counted = false;
    };
    c.on("end", gone);
    c.on("close", () => {
      gone();
      socks.delete(c);
    });
  });
  await new Promise<void>((r) => srv.listen(0, "127.0.0.1", r));
  return track({
    addr: `127.0.0.1:${(srv.address() as net.AddressInfo).port}`,
    stats: () => ({ open, peak, total }),
    stop: async () => {
      socks.forEach((s) => s.destroy());
      await new Promise((r) => srv.close(r));
    },
  });
}

/** An agent already activated as HOSTILE_DEVICE whose cached streamer is `streamer`. */
async function activatedAgent(streamer: string, o: { ready?: RegExp | null; endpoints?: string[]; extra?: Record<string, unknown>; target?: string } = {}) {
  const endpoints = o.endpoints ?? [streamer];
  const dir = activatedAgentDir(streamer, endpoints);
  track({ stop: async () => rmSync(dir, { recursive: true, force: true }) }); // after the agent (stops run in reverse)
  return track(await startAgent({
    pki, dir, endpoints, targets: { rtsp: o.target ?? "127.0.0.1:9" }, name: "agent-hostile",
    ready: o.ready === undefined ? /session live at streamer/ : o.ready, extra: o.extra,
  }));
}

function stateOf(a: AgentProc): Record<string, unknown> {
  return JSON.parse(readFileSync(a.stateFile, "utf8"));
}

/** Counts completed state-file writes (each ends with a rename onto state.json). */
function countStateWrites(a: AgentProc) {
  let n = 0;
  const w = watch(join(a.dir, "state"), (ev, name) => {
    if (ev === "rename" && name === "state.json") n++;
  });
  return { count: () => n, close: () => w.close() };
}

describe("reconnect storms", () => {
  it("RETRY_AFTER 0: no more than one attempt per 1 s floor", async () => {
    const srv = await fake({ onHello: (l) => l.session.sendControl(FrameType.RETRY_AFTER, { ms: 0, reason: "busy" }) });
    const a = await activatedAgent(srv.addr, { ready: /asks to retry after 0 ms/ });
    const before = srv.links;
    const windowMs = 5000;
    await sleep(windowMs);
    const attempts = srv.links - before;
    expect(attempts).toBeGreaterThanOrEqual(2); // it does come back
    expect(attempts).toBeLessThanOrEqual(windowMs / 1000 + 1);
    expect(a.proc.exit()).toBeNull();
  }, 30_000);

  it("MOVE ping-pong between two live streamers: ≤ 2 links/s and ≤ STATE_WRITES_PER_WINDOW state writes in the first minute", async () => {
    const servers: FakeServer[] = [];
    const bounce = (other: () => FakeServer): FakeScript => ({
      onAuth: (l) => {
        l.session.sendControl(FrameType.WELCOME, { device_id: HOSTILE_DEVICE });
        l.session.sendControl(FrameType.MOVE, { streamer: other().addr });
      },
    });
    servers.push(await fake(bounce(() => servers[1])), await fake(bounce(() => servers[0])));
    const [a1, b1] = servers;
    const a = await activatedAgent(a1.addr);
    const writes = countStateWrites(a);
    const t0 = Date.now();
    const links0 = a1.links + b1.links;
    await sleep(10_000);
    const links = a1.links + b1.links - links0;
    const seconds = (Date.now() - t0) / 1000;
    writes.close();
    expect(links / seconds).toBeLessThanOrEqual(2);
    expect(writes.count()).toBeLessThanOrEqual(STATE_WRITES_PER_WINDOW);
    expect(a.proc.output()).toMatch(/too many switches in a row, ignoring it and going back to the endpoints/);
    expect(a.proc.exit()).toBeNull();
  }, 40_000);
});

describe("instructions from the wrong role or step", () => {
  for (const [name, type, msg] of [
    ["ACTIVATED", FrameType.ACTIVATED, { device_id: "cam-evil", key: "ff".repeat(32), endpoints: ["127.0.0.1:1"], streamer: "127.0.0.1:1" }],
    ["REDIRECT", FrameType.REDIRECT, { streamer: "127.0.0.1:1", endpoints: ["127.0.0.1:1"] }],
  ] as const) {
    it(`${name} from a streamer on a live link is refused and the state file keeps the device's identity`, async () => {
      const srv = await fake({
        onAuth: (l) => {
          l.session.sendControl(FrameType.WELCOME, { device_id: HOSTILE_DEVICE });
          l.session.sendControl(type, msg);
        },
      });
      const a = await activatedAgent(srv.addr, { ready: /link to streamer .* closed/ });
      await sleep(300);
      expect(stateOf(a)).toEqual({ device_id: HOSTILE_DEVICE, key: KEY, endpoints: [srv.addr], streamer: srv.addr });
      expect(srv.errorsFromAgent[0]).toMatch(new RegExp(`^unexpected: ${name} is not accepted from a streamer on a live link`));
    }, 30_000);
  }

  it("MOVE before WELCOME is refused: the agent never dials the address it names", async () => {
    const target = await fake({});
    const srv = await fake({ onAuth: (l) => l.session.sendControl(FrameType.MOVE, { streamer: target.addr }) });
    const a = await activatedAgent(srv.addr, { ready: /link to streamer .* closed/ });
    await sleep(1500);
    expect(target.links).toBe(0);
    expect(stateOf(a).streamer).toBe(srv.addr);
    expect(srv.errorsFromAgent[0]).toMatch(/^unexpected: MOVE is not accepted from a streamer after auth/);
  }, 30_000);
});

describe("what the server hands the agent", () => {
  it("an invalid streamer in ACTIVATED never reaches the state file", async () => {
    const srv = await fake({
      role: "endpoint",
      onActivate: (l) => l.session.sendControl(FrameType.ACTIVATED, {
        device_id: "cam-new", key: "ab".repeat(32), endpoints: ["127.0.0.1:1"], streamer: "evil host:99999",
      }),
    });
    const a = track(await startAgent({
      pki, endpoints: [srv.addr], targets: { rtsp: "127.0.0.1:9" }, token: "tok", ready: /link to endpoint .* closed/,
      name: "agent-activate",
    }));
    await sleep(500);
    expect(existsSync(a.stateFile)).toBe(false);
    expect(srv.errorsFromAgent[0]).toMatch(/^payload: ACTIVATED: streamer .* is not host:port/);
  }, 30_000);

  it("a newline or ESC from the server cannot forge a log line", async () => {
    const srv = await fake({
      onHello: (l) => l.session.sendControl(FrameType.ERROR, { code: "x", message: "bye\nerror FORGED by the server\x1b[2J" }),
    });
    const a = await activatedAgent(srv.addr, { ready: /refused: x: bye/ });
    const line = a.proc.lines().find((l) => l.includes("refused: x: bye"))!;
    expect(line).toContain("bye\\nerror FORGED by the server\\x1b[2J");
    expect(a.proc.lines().some((l) => /^(error|ERROR) FORGED/.test(l) || l.includes("\x1b"))).toBe(false);
  }, 30_000);
});

describe("floods", () => {
  it("10,000 OPEN + immediate RESET: agent alive, camera connections ≤ the stream cap, descriptors ≤ the cap", async () => {
    const cam = await countingCamera();
    const flood = openResetFlood(10_000);
    const srv = await fake(flood.script);
    const a = await activatedAgent(srv.addr, { target: cam.addr });
    let peakFds = 0;
    const until = Date.now() + 60_000;
    while (!flood.opened() && Date.now() < until && a.proc.exit() === null) {
      peakFds = Math.max(peakFds, fdCount(a.proc.pid));
      await sleep(20);
    }
    expect(a.proc.exit()).toBeNull();
    expect(flood.opened()).toBe(true);
    expect(cam.stats().peak).toBeLessThanOrEqual(STREAM_CAP);
    expect(peakFds).toBeLessThanOrEqual(FD_CAP);
    expect(a.proc.output()).toMatch(/session live at streamer/);
  }, 90_000);

  // Needs the link's write budget for control replies (PONG) and the drop of a peer that does not
  // read within the keepalive bound (protocol/session.ts, QjsSocket).
  it("PING flood with the server not reading: memory grows ≤ 4 MB and the link is dropped", async () => {
    const ka = { ping_interval_ms: 500, idle_timeout_ms: 2000 };
    // 6 MB of PINGs at up to 400 000/s (8 MB/s), for at most 15 s, 1.5 s after WELCOME.
    const flood = pingFlood({ readAgent: false, perSecond: 400_000, maxBytes: 6_000_000, durationMs: 15_000, startAfterMs: 1500 });
    const srv = await fake(flood.script);
    const a = await activatedAgent(srv.addr, { extra: { keepalive: ka } });
    await sleep(1000);
    const idle = memKb(a.proc.pid).rss;
    const mark = a.proc.mark();
    let peak = idle;
    let dropped = false;
    const until = Date.now() + 25_000;
    a.proc.waitForLine(/link to streamer .* closed/, { timeoutMs: 25_000, after: mark }).then(() => (dropped = true), () => {});
    while (!dropped && Date.now() < until && a.proc.exit() === null) {
      peak = Math.max(peak, memKb(a.proc.pid).rss);
      await sleep(50);
    }
    expect(a.proc.exit()).toBeNull();
    expect(flood.sent()).toBeGreaterThan(0);
    expect(dropped).toBe(true);
    expect(peak - idle).toBeLessThanOrEqual(4 * 1024);
  }, 60_000);
});
