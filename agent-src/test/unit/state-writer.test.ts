// The state file is written only when it changes, within the flash-wear budget, and never loses
// the latest state or a new identity.
import { describe, expect, it } from "vitest";
import type { AgentState } from "../../src/agent/state";
import { STATE_WRITES_PER_WINDOW, STATE_WRITE_WINDOW_MS, StateWriter } from "../../src/agent/state-writer";

function fakeClock() {
  const timers = new Map<number, { at: number; fn: () => void }>();
  let id = 0;
  const c = {
    t: 0,
    now: () => c.t,
    setTimer: (ms: number, fn: () => void) => (timers.set(++id, { at: c.t + ms, fn }), id),
    clearTimer: (i: number) => void timers.delete(i),
    advance(ms: number) {
      const end = c.t + ms;
      for (;;) {
        const due = [...timers].filter(([, x]) => x.at <= end).sort((a, b) => a[1].at - b[1].at)[0];
        if (!due) break;
        timers.delete(due[0]);
        c.t = due[1].at;
        due[1].fn();
      }
      c.t = end;
    },
  };
  return c;
}

const base: AgentState = { device_id: "cam-1", key: "ab".repeat(32), endpoints: ["ep:1"], streamer: "s0:1" };

function writer(loaded: AgentState | null = base) {
  const clock = fakeClock();
  const written: AgentState[] = [];
  const w = new StateWriter(clock, (st) => (written.push(structuredClone(st)), true), loaded);
  return { clock, written, w };
}

describe("state file writes", () => {
  it("an unchanged state is not written again", () => {
    const { w, written } = writer();
    w.save({ ...base });
    expect(written).toEqual([]);
  });

  it("flash wear budget: a MOVE storm writes at most STATE_WRITES_PER_WINDOW times per window, and the latest state last", () => {
    const { w, written, clock } = writer();
    for (let i = 1; i <= 100; i++) {
      w.save({ ...base, streamer: `s${i}:1` });
      clock.advance(100);
    }
    expect(written.length).toBe(STATE_WRITES_PER_WINDOW);
    clock.advance(STATE_WRITE_WINDOW_MS);
    expect(written.length).toBe(STATE_WRITES_PER_WINDOW + 1);
    expect(written.at(-1)!.streamer).toBe("s100:1");
  });

  it("a new identity (activation) is written at once even over budget", () => {
    const { w, written } = writer();
    for (let i = 1; i <= STATE_WRITES_PER_WINDOW; i++) w.save({ ...base, streamer: `s${i}:1` });
    w.save({ ...base, device_id: "cam-2" });
    expect(written.at(-1)!.device_id).toBe("cam-2");
  });

  it("a failed write is tried again with the next change", () => {
    const clock = fakeClock();
    let ok = false;
    const attempts: string[] = [];
    const w = new StateWriter(clock, (st) => (attempts.push(st.streamer!), ok), null);
    w.save(base);
    ok = true;
    w.save(base);
    expect(attempts).toEqual(["s0:1", "s0:1"]);
  });
});
