import type { Clock } from "../../protocol/session";

/** Node timers as the protocol's Clock. */
export const nodeClock: Clock = {
  setTimer: (ms, fn) => setTimeout(fn, ms) as unknown as number,
  clearTimer: (id) => clearTimeout(id as unknown as NodeJS.Timeout),
  now: () => performance.now(),
};
