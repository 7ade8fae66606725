import { runInNewContext } from "node:vm";
import { setFlagsFromString } from "node:v8";
import { describe, expect, it } from "vitest";
import { HEADER_SIZE, MAX_PAYLOAD } from "../../src/protocol/frame";
import { DEFAULT_SESSION_OPTIONS } from "../../src/protocol/session";
import { fuzz } from "./fuzz";

setFlagsFromString("--expose-gc");
const gc = runInNewContext("gc") as () => void;

const SEED = Number(process.env.FUZZ_SEED ?? 20261128);
const FRAMES = Number(process.env.FUZZ_FRAMES ?? 100_000);

describe("codec fuzz", () => {
  it(`${FRAMES} random and mutated frames never throw past the session and memory stays bounded`, () => {
    fuzz(SEED + 1, 5000); // warm up JIT and allocator before measuring
    gc();
    const before = process.memoryUsage().heapUsed;
    const res = fuzz(SEED, FRAMES);
    gc();
    const grown = process.memoryUsage().heapUsed - before;
    console.log(`fuzz seed=${SEED}: ${JSON.stringify(res)}, heap growth ${(grown / 1024).toFixed(0)} KiB`);
    expect(res.frames).toBeGreaterThanOrEqual(FRAMES);
    expect(res.closedByPeerError).toBeGreaterThan(res.sessions / 4); // the mutations did bite
    expect(res.closedByPeerError).toBeLessThan(res.sessions); // and some sessions lived to the end
    expect(res.maxPending).toBeLessThanOrEqual(HEADER_SIZE + MAX_PAYLOAD);
    expect(res.maxStreams).toBeLessThanOrEqual(DEFAULT_SESSION_OPTIONS.maxStreams);
    expect(grown).toBeLessThan(8 * 1024 * 1024); // nothing retained across sessions
  }, 120_000);
});
