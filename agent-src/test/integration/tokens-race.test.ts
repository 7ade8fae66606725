// Two endpoint processes sharing one tokens file and state_dir, raced with the same activation
// token: exactly one activation per token, and a token used on one endpoint is refused by the other.
import { readdirSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, expect, it } from "vitest";
import type { Activated, Challenge } from "../../src/protocol/control";
import { FrameType } from "../../src/protocol/frame";
import { RawAgent } from "../../../testkit/fake-server";
import { makePki, startStreamer, type Pki, type StreamerProc } from "../../../testkit/system";
import { tempDir } from "../../../testkit/procs";

const ROUNDS = 12;
const TOKENS = Array.from({ length: ROUNDS + 1 }, (_, i) => `race-token-${i}`);
let pki: Pki, dir: string, a: StreamerProc, b: StreamerProc;

beforeAll(async () => {
  pki = makePki();
  dir = tempDir("fa-tokens-race-");
  // Same dir: same tokens file, same state dir.
  a = await startStreamer({ roles: ["endpoint"], pki, tokens: TOKENS, dir, name: "endpoint-a" });
  b = await startStreamer({ roles: ["endpoint"], pki, tokens: TOKENS, dir, name: "endpoint-b" });
}, 30_000);

afterAll(async () => {
  await a?.stop();
  await b?.stop();
});

/** Connects as a new agent and stops right before ACTIVATE, so two can send theirs in the same tick. */
async function readyToActivate(port: number): Promise<RawAgent> {
  const r = await RawAgent.connect(port, pki.caPem);
  r.send(FrameType.HELLO, { proto: 1, agent: "race" });
  expect(await r.next<Challenge>(FrameType.CHALLENGE)).toBeTruthy();
  return r;
}

async function activated(r: RawAgent): Promise<string | null> {
  const got = await r.next<Activated>(FrameType.ACTIVATED, 5000);
  r.close();
  return got?.device_id ?? null;
}

it("two endpoints racing one token: exactly one activation per token", async () => {
  for (let i = 0; i < ROUNDS; i++) {
    const [x, y] = await Promise.all([readyToActivate(a.ports.endpoint), readyToActivate(b.ports.endpoint)]);
    x.send(FrameType.ACTIVATE, { token: TOKENS[i] });
    y.send(FrameType.ACTIVATE, { token: TOKENS[i] });
    const ids = (await Promise.all([activated(x), activated(y)])).filter((id) => id !== null);
    expect(ids, `round ${i}`).toHaveLength(1);
  }
  // One claim file per token, whichever process won it.
  expect(readdirSync(join(dir, "state", "activations")).filter((f) => f.endsWith(".json"))).toHaveLength(ROUNDS);
}, 60_000);

it("a token used on one endpoint is refused by the other, whichever started first", async () => {
  const t = TOKENS[ROUNDS];
  const first = await readyToActivate(b.ports.endpoint);
  first.send(FrameType.ACTIVATE, { token: t });
  expect(await activated(first)).toMatch(/^cam-/);
  const second = await readyToActivate(a.ports.endpoint);
  second.send(FrameType.ACTIVATE, { token: t });
  expect(await activated(second)).toBeNull();
  expect(a.proc.output()).toMatch(/activation refused .*unknown or used token/);
});
