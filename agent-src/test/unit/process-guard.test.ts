// The process-level guard: an error no handler caught is logged with its stack and counted, and
// the process is not taken down (a stand-in emitter plays the process, so vitest's own handlers
// are not involved).
import { EventEmitter } from "node:events";
import { expect, it } from "vitest";
import { Metrics } from "../../src/server/metrics";
import { installProcessGuard, UNCAUGHT_METRIC } from "../../src/server/process-guard";

it("uncaught exceptions and unhandled rejections are logged with their stack and counted", () => {
  const proc = new EventEmitter();
  const metrics = new Metrics();
  const logged: [string, string][] = [];
  installProcessGuard((l, m) => logged.push([l, m]), metrics, proc);
  expect(metrics.render()).toMatch(new RegExp(`^${UNCAUGHT_METRIC} 0$`, "m"));

  const e = new TypeError("Invalid URL");
  proc.emit("uncaughtException", e);
  proc.emit("unhandledRejection", "a bare string", Promise.resolve());
  expect(metrics.counters.get(UNCAUGHT_METRIC)).toBe(2);
  expect(logged[0][0]).toBe("error");
  expect(logged[0][1]).toContain(e.stack!);
  expect(logged[1][1]).toMatch(/unhandled promise rejection .*a bare string/);
  // A real process with a listener for these events does not exit on them.
  expect(proc.listenerCount("uncaughtException")).toBe(1);
  expect(proc.listenerCount("unhandledRejection")).toBe(1);
});
