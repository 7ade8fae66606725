// The other end of flood-proc.ts: runs openFlood() for each listener in its own process, so the
// side that opens, trickles and times 10,000+ junk connections does not share an event loop with
// the test (viewer, admin probes, child output) and its lag can be measured on its own.
// Protocol (IPC): argv[2] is JSON { floods: FloodOptions[] }; sends { ready, openMs } once all
// are open; answers "summary" with { summaries, lag }; "stop" (or the parent going away) ends it.
import { monitorEventLoopDelay } from "node:perf_hooks";
import { openFlood, type Flood, type FloodOptions } from "./conn-flood";
import type { FloodProcMessage, FloodProcRequest } from "./flood-proc";

type Wire = Omit<FloodOptions, "slowloris"> & { slowloris?: string };
const opts: FloodOptions[] = (JSON.parse(process.argv[2]) as { floods: Wire[] }).floods
  .map((o) => ({ ...o, slowloris: o.slowloris === undefined ? undefined : Buffer.from(o.slowloris, "base64") }));
const lag = monitorEventLoopDelay({ resolution: 10 });
const cpuMs = () => {
  const u = process.cpuUsage();
  return { user: Math.round(u.user / 1000), system: Math.round(u.system / 1000) };
};
const send = (m: FloodProcMessage) => process.send!(m);
const floods: Flood[] = [];
let stopped = false;

const stop = () => {
  stopped = true;
  floods.forEach((f) => f.stop());
  if (process.connected) process.disconnect();
  setTimeout(() => process.exit(0), 100).unref();
};
process.on("disconnect", stop);
process.on("message", (m: FloodProcRequest) => {
  if (m === "summary") {
    send({ kind: "summary", summaries: floods.map((f) => f.summary()), lag: { maxMs: lag.max / 1e6, p99Ms: lag.percentile(99) / 1e6 }, cpuMs: cpuMs() });
  } else if (m === "stop") stop();
});

(async () => {
  const t0 = Date.now();
  for (const o of opts) {
    if (stopped) return;
    floods.push(await openFlood(o));
  }
  lag.enable(); // from here on: the soak itself, not the opening burst
  send({ kind: "ready", openMs: Date.now() - t0 });
})().catch((e) => {
  send({ kind: "error", message: String((e as Error).stack ?? e) });
  stop();
});
