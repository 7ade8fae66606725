/**
 * Last line of defence: an exception or rejection that no handler caught is logged with its stack
 * and counted, and the process keeps serving. Every request and frame handler has its own error
 * boundary, so reaching here is a bug in one connection's code path, while exiting would drop every
 * camera's link and every viewer at once. What the process cannot survive (out of memory, a fatal
 * error, a kill) is the supervisor's job: docs/server.md, "Supervision".
 */

import type { LogLevel } from "../platform/platform";
import type { Metrics } from "./metrics";

export const UNCAUGHT_METRIC = "flussonic_uncaught_errors_total";

/** Installs the handlers on `proc` (the process; a stand-in in tests). */
export function installProcessGuard(
  log: (l: LogLevel, m: string) => void, metrics: Metrics, proc: NodeJS.EventEmitter = process,
): void {
  metrics.counter(UNCAUGHT_METRIC, "exceptions and promise rejections no handler caught (logged, process kept serving)");
  const report = (what: string, e: unknown) => {
    metrics.inc(UNCAUGHT_METRIC);
    log("error", `${what} (process keeps serving): ${e instanceof Error ? (e.stack ?? e.message) : String(e)}`);
  };
  proc.on("uncaughtException", (e: unknown) => report("uncaught exception", e));
  proc.on("unhandledRejection", (e: unknown) => report("unhandled promise rejection", e));
}
