// kill -9 of the agent while it is writing its state file, many times: the file is always the
// old or the new version, never torn or missing. A scripted server MOVEs the agent back to itself
// on every connection, so the agent rewrites its state as fast as it can reconnect.
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { FrameType } from "../../src/protocol/frame";
import { startFakeStreamer, type FakeServer } from "../../../testkit/fake-server";
import { makePki, startAgent, type Pki } from "../../../testkit/system";
import { tempDir } from "../../../testkit/procs";

const ITERATIONS = Number(process.env.KILL_ITERATIONS ?? 40);
let pki: Pki, a: FakeServer, b: FakeServer;

beforeAll(async () => {
  pki = makePki();
  // Two fake streamers that bounce the agent to each other: every hop is a state write.
  const bounce = (to: () => FakeServer) => (s: import("../../src/protocol/session").Session) => {
    s.sendControl(FrameType.WELCOME, { device_id: "cam-killtest" });
    s.sendControl(FrameType.MOVE, { streamer: to().addr });
  };
  a = await startFakeStreamer(pki, bounce(() => b));
  b = await startFakeStreamer(pki, bounce(() => a));
});
afterAll(async () => {
  await a?.stop();
  await b?.stop();
});

describe("state file under kill -9", () => {
  it(`${ITERATIONS} kills during state writes never leave a corrupt or missing file`, async () => {
    const dir = tempDir("fa-kill-");
    mkdirSync(join(dir, "state"));
    const stateFile = join(dir, "state", "state.json");
    const base = { device_id: "cam-killtest", key: "ab".repeat(32), endpoints: [a.addr] };
    writeFileSync(stateFile, JSON.stringify({ ...base, streamer: a.addr }));
    let seed = 12345;
    const rand = () => ((seed = (seed * 1103515245 + 12345) & 0x7fffffff) / 0x7fffffff);
    const seen = new Set<string>();
    for (let i = 0; i < ITERATIONS; i++) {
      const before = a.links + b.links;
      const agent = await startAgent({ pki, dir, endpoints: [a.addr], targets: { rtsp: "127.0.0.1:9" }, ready: /moved by the server/, name: `agent-kill${i}` });
      await new Promise((r) => setTimeout(r, 20 + rand() * 200));
      agent.proc.signal("SIGKILL");
      await agent.proc.exited;
      const st = JSON.parse(readFileSync(stateFile, "utf8")); // throws if torn or missing
      expect(st).toMatchObject(base);
      expect([a.addr, b.addr]).toContain(st.streamer);
      seen.add(st.streamer);
      expect(a.links + b.links).toBeGreaterThan(before);
    }
    expect(seen.size).toBe(2); // the writes really happened, in both directions
    console.log(`state-kill: ${ITERATIONS} kills, ${a.links + b.links} state-writing hops`);
  }, 180_000);
});
