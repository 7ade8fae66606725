/** Counters behind GET /metrics (Prometheus text format). */
import { monitorEventLoopDelay } from "node:perf_hooks";

export class Metrics {
  counters = new Map<string, number>();
  private gauges = new Map<string, () => number>();
  private help = new Map<string, string>();

  counter(name: string, help: string): void {
    this.counters.set(name, 0);
    this.help.set(name, help);
  }
  inc(name: string, by = 1): void {
    this.counters.set(name, (this.counters.get(name) ?? 0) + by);
  }
  gauge(name: string, help: string, read: () => number): void {
    this.gauges.set(name, read);
    this.help.set(name, help);
  }

  render(): string {
    const out: string[] = [];
    for (const [name, v] of this.counters) {
      out.push(`# HELP ${name} ${this.help.get(name) ?? name}`, `# TYPE ${name} counter`, `${name} ${v}`);
    }
    for (const [name, read] of this.gauges) {
      out.push(`# HELP ${name} ${this.help.get(name) ?? name}`, `# TYPE ${name} gauge`, `${name} ${read()}`);
    }
    return out.join("\n") + "\n";
  }
}

/**
 * How late the event loop runs (timers, socket callbacks): every connection's timeouts and every
 * viewer's packets wait behind it. In ms: the max over the window under way and the last
 * completed 10 s one, the p99 of the last completed one.
 */
export function eventLoopDelayMetrics(metrics: Metrics, windowMs = 10_000): void {
  const h = monitorEventLoopDelay({ resolution: 10 });
  h.enable();
  let last = { max: 0, p99: 0 };
  setInterval(() => {
    last = { max: h.max / 1e6, p99: h.percentile(99) / 1e6 };
    h.reset();
  }, windowMs).unref();
  // The window under way counts too: a stall in the last seconds shows at once, not 10 s later.
  metrics.gauge("flussonic_event_loop_delay_max_ms", "longest event-loop delay in the last 10-20 s", () => Math.round(Math.max(last.max, h.max / 1e6)));
  metrics.gauge("flussonic_event_loop_delay_p99_ms", "99th percentile event-loop delay in the last completed 10 s window", () => Math.round(last.p99));
}
