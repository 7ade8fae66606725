/**
 * Log levels and the level filter in front of a Platform's logger (the agent's --log-level and
 * log_level). Explicit delegation rather than Object.create: a platform may keep state on `this`
 * or in private fields. The result's type lists every key of Platform, optional ones included, so
 * the compiler names any method added to the interface and not forwarded here (an optional one
 * silently dropped here makes the core fall back to its default: the native pump was lost so).
 */

import type { LogLevel, Platform } from "./platform";

export const LOG_LEVELS: Record<LogLevel, number> = { debug: 0, info: 1, warn: 2, error: 3 };

/** Every key of Platform present; an optional method's value may still be undefined. */
type AllKeys<T> = { [K in keyof Required<T>]: T[K] };

/** The same platform, with log lines below min dropped. */
export function withLogLevel(platform: Platform, min: LogLevel): Platform {
  const floor = LOG_LEVELS[min];
  const pump = platform.pump;
  const filtered: AllKeys<Platform> = {
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
    pump: pump && ((source, link, streamId, credit, events) => pump.call(platform, source, link, streamId, credit, events)),
  };
  return filtered;
}
