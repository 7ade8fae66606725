// The agent's reconnect policy on a fake clock: where it dials, how long it waits, and the bounds
// a hostile or broken server cannot push it past.
import { describe, expect, it } from "vitest";
import {
  AVOID_MS, MIN_DIAL_INTERVAL_MS, RETRY_AFTER_FLOOR_MS, RETRY_AFTER_MAX_MS, ReconnectPolicy, SWITCHES_PER_WINDOW,
  SWITCH_WINDOW_MS,
} from "../../src/agent/reconnect-policy";

const EPS = ["ep1:7443", "ep2:7443"];
const S = "s1:7443";

function policy(random = 0.999, streamerFailures = 3) {
  const clock = { t: 1_000_000, r: random, now: () => clock.t, random: () => clock.r };
  const p = new ReconnectPolicy({ baseMs: 1000, capMs: 15_000, streamerFailures }, clock);
  return { p, clock };
}

describe("where the agent dials", () => {
  it("goes to the cached streamer first, and to the endpoints only without one", () => {
    const { p } = policy();
    expect(p.dial(S, EPS)).toEqual({ kind: "streamer", addr: S });
    expect(p.dial(undefined, EPS)).toEqual({ kind: "endpoint", addr: "ep1:7443" });
  });

  it("streamer_failures consecutive failures at the streamer send it to the endpoints, which it rotates through", () => {
    const { p, clock } = policy(0.5, 3);
    for (let i = 0; i < 2; i++) {
      const d = p.dial(S, EPS);
      expect(d.kind).toBe("streamer");
      p.failed(d);
      expect(p.backToEndpoints).toBe(false);
      clock.t += 20_000;
    }
    p.failed(p.dial(S, EPS));
    expect(p.backToEndpoints).toBe(true);
    const first = p.dial(S, EPS);
    expect(first).toEqual({ kind: "endpoint", addr: "ep1:7443" });
    p.failed(first);
    expect(p.dial(S, EPS)).toEqual({ kind: "endpoint", addr: "ep2:7443" });
  });

  it("a WELCOME in between resets the streamer_failures count", () => {
    const { p } = policy(0.5, 2);
    p.failed(p.dial(S, EPS));
    p.dial(S, EPS);
    p.live();
    p.failed(p.dial(S, EPS));
    expect(p.dial(S, EPS).kind).toBe("streamer");
  });

  it("ERROR auth from a streamer sends the agent to the endpoints at the next failure", () => {
    const { p } = policy(0.5, 3);
    const d = p.dial(S, EPS);
    p.streamerRefusedAuth();
    p.failed(d);
    expect(p.dial(S, EPS).kind).toBe("endpoint");
  });

  it("the avoid list names a streamer that failed us, to endpoints only, for AVOID_MS", () => {
    const { p, clock } = policy(0.5, 1);
    p.failed(p.dial(S, EPS));
    const ep = p.dial(S, EPS);
    expect(p.avoidList(ep)).toEqual([S]);
    expect(p.avoidList({ kind: "streamer", addr: "s2:7443" })).toEqual([]);
    clock.t += AVOID_MS - 1;
    expect(p.avoidList(ep)).toEqual([S]);
    clock.t += 1;
    expect(p.avoidList(ep)).toEqual([]);
  });
});

describe("how long the agent waits", () => {
  it("Backoff: failures wait full jitter up to min(cap, base·2^n); a stable session starts it afresh", () => {
    const { p, clock } = policy(0.999);
    const waits: number[] = [];
    for (let i = 0; i < 6; i++) {
      waits.push(p.failed(p.dial(undefined, EPS)));
      clock.t += 60_000;
    }
    expect(waits).toEqual([999, 1998, 3996, 7992, 14_985, 14_985]);
    p.stable();
    expect(p.failed(p.dial(undefined, EPS))).toBe(999);
  });

  it("two dials never start closer than MIN_DIAL_INTERVAL_MS, even when the jitter draws 0", () => {
    const { p, clock } = policy(0);
    p.dial(undefined, EPS);
    clock.t += 100;
    expect(p.failed({ kind: "endpoint", addr: EPS[0] })).toBe(MIN_DIAL_INTERVAL_MS - 100);
    clock.t += 1000;
    expect(p.failed({ kind: "endpoint", addr: EPS[0] })).toBe(0);
  });

  it("RETRY_AFTER floor: 0 ms waits at least RETRY_AFTER_FLOOR_MS, jittered by up to 25 % above", () => {
    const low = policy(0);
    low.clock.t += 60_000;
    expect(low.p.retryAfter(0)).toBe(RETRY_AFTER_FLOOR_MS);
    const high = policy(0.999);
    high.clock.t += 60_000;
    expect(high.p.retryAfter(0)).toBe(Math.floor(RETRY_AFTER_FLOOR_MS * 1.25 * 0.9992));
  });

  it("RETRY_AFTER is obeyed between the floor and the cap, never earlier than asked", () => {
    const { p, clock } = policy(0);
    clock.t += 60_000;
    expect(p.retryAfter(4000)).toBe(4000);
    expect(p.retryAfter(86_400_000)).toBe(RETRY_AFTER_MAX_MS);
  });
});

describe("server-ordered switches (ACTIVATED, REDIRECT, MOVE)", () => {
  it("a switch is an attempt: it waits with the Backoff and resets streamer_failures", () => {
    const { p, clock } = policy(0.999, 2);
    p.failed(p.dial(S, EPS));
    clock.t += 60_000;
    p.dial(S, EPS);
    expect(p.switched()).toBe(1998); // second attempt in a row
    expect(p.dial("s2:7443", EPS).kind).toBe("streamer");
  });

  it("MOVE budget: more than SWITCHES_PER_WINDOW switches per window are refused and the agent goes back to its endpoints", () => {
    const { p, clock } = policy(0.5);
    for (let i = 0; i < SWITCHES_PER_WINDOW; i++) {
      p.dial(S, EPS);
      expect(p.switched()).not.toBeNull();
      clock.t += 1000;
    }
    const d = p.dial(S, EPS);
    expect(p.switched()).toBeNull();
    p.failed(d);
    expect(p.dial(S, EPS).kind).toBe("endpoint");
    // The budget refills as the window slides past the first switch.
    clock.t += SWITCH_WINDOW_MS - SWITCHES_PER_WINDOW * 1000;
    expect(p.switched()).not.toBeNull();
  });

  it("a MOVE ping-pong between two servers dials at most 2 times a second and obeys at most the budget per window", () => {
    const { p, clock } = policy(0);
    const dialTimes: number[] = [];
    let obeyed = 0;
    let wait = 0;
    const end = clock.t + SWITCH_WINDOW_MS;
    while (clock.t + wait < end) {
      clock.t += wait;
      const d = p.dial(S, EPS);
      dialTimes.push(clock.t);
      clock.t += 5; // the handshake, then MOVE
      const ms = p.switched();
      if (ms === null) wait = p.failed(d);
      else {
        obeyed++;
        wait = ms;
      }
    }
    expect(obeyed).toBe(SWITCHES_PER_WINDOW);
    expect(dialTimes.length).toBeGreaterThan(SWITCHES_PER_WINDOW); // the refused ones became failures
    for (let i = 1; i < dialTimes.length; i++) expect(dialTimes[i] - dialTimes[i - 1]).toBeGreaterThanOrEqual(MIN_DIAL_INTERVAL_MS);
  });
});
