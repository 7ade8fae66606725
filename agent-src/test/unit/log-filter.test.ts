// The log-level filter every agent runs behind (cli/agent-main.ts): it drops log lines below the
// level and must hand everything else through, optional methods included. It once dropped
// Platform.pump, so the static agent relayed every camera chunk through JS instead of its C pump.
import { describe, expect, it } from "vitest";
import { withLogLevel } from "../../src/platform/log-filter";
import type { LogLevel, Platform, Pump, PumpEvents, Socket } from "../../src/platform/platform";

function fakePlatform(withPump: boolean) {
  const logged: [LogLevel, string][] = [];
  const pumps: unknown[][] = [];
  const thePump: Pump = { credit: () => {}, kick: () => {}, stop: () => {} };
  const p: Platform = {
    connectTcp: () => {},
    connectTls: () => {},
    setTimer: () => 1,
    clearTimer: () => {},
    now: () => 42,
    randomBytes: (n) => new Uint8Array(n),
    readFile: () => null,
    writeFileAtomic: () => {},
    log: (l, m) => void logged.push([l, m]),
  };
  if (withPump) {
    p.pump = function (this: unknown, ...args: unknown[]) {
      expect(this).toBe(p);
      pumps.push(args);
      return thePump;
    };
  }
  return { p, logged, pumps, thePump };
}

describe("withLogLevel", () => {
  it("drops lines below the level and passes the rest", () => {
    const f = fakePlatform(false);
    const p = withLogLevel(f.p, "warn");
    p.log("debug", "d");
    p.log("info", "i");
    p.log("warn", "w");
    p.log("error", "e");
    expect(f.logged).toEqual([["warn", "w"], ["error", "e"]]);
    expect(p.now()).toBe(42);
  });

  it("forwards the platform's pump (the static agent's C pump) with its arguments and result", () => {
    const f = fakePlatform(true);
    const p = withLogLevel(f.p, "info");
    expect(p.pump).toBeTypeOf("function");
    const src = {} as Socket;
    const link = {} as Socket;
    const ev = {} as PumpEvents;
    expect(p.pump!(src, link, 7, 1024, ev)).toBe(f.thePump);
    expect(f.pumps).toEqual([[src, link, 7, 1024, ev]]);
  });

  it("has no pump when the platform has none (the core then uses the JS pump)", () => {
    expect(withLogLevel(fakePlatform(false).p, "info").pump).toBeUndefined();
  });
});
