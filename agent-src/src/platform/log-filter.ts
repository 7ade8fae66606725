/**
 * Log levels and the level filter in front of a Platform's logger (the agent's --log-level and
 * log_level). Explicit delegation rather than Object.create: a platform may keep state on `this`
 * or in private fields. Returning Platform makes the compiler name any method added to the
 * interface and not forwarded here.
 */

import type { LogLevel, Platform } from "./platform";

export const LOG_LEVELS: Record<LogLevel, number> = { debug: 0, info: 1, warn: 2, error: 3 };

/** The same platform, with log lines below min dropped. */
export function withLogLevel(platform: Platform, min: LogLevel): Platform {
  const floor = LOG_LEVELS[min];
  return {
    connectTcp: (h, port, t, cb) => platform.connectTcp(h, port, t, cb),
    connectTls: (h, port, o, t, cb) => platform.connectTls(h, port, o, t, cb),
    setTimer: (ms, fn) => platform.setTimer(ms, fn),
    clearTimer: (id) => platform.clearTimer(id),
    now: () => platform.now(),
    randomBytes: (n) => platform.randomBytes(n),
    readFile: (path) => platform.readFile(path),
    writeFileAtomic: (path, data) => platform.writeFileAtomic(path, data),
    log: (l, m) => {
      if (LOG_LEVELS[l] >= floor) platform.log(l, m);
    },
  };
}
