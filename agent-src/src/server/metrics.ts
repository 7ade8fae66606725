/**
 * Counters behind GET /metrics (Prometheus text format 0.0.4).
 *
 * Unlabelled: counter()/inc() and gauge(). Labelled (per device, per source): family(), a family
 * whose samples are read from live state at scrape time, one sample per row the callback yields:
 *
 *   metrics.family("flussonic_source_viewers", "viewers of a shared source", "gauge", ["device", "path"],
 *     () => [...sources].map((s) => [[s.deviceId, s.path], s.viewers.size]));
 *
 * A row's values line up with the label names; a series disappears when its row does (a device
 * went offline, a source closed), which Prometheus reads as the end of that series. Label values
 * are escaped here (backslash, double quote, newline), so any string may be passed.
 */
import { monitorEventLoopDelay } from "node:perf_hooks";

export type Sample = readonly [labelValues: readonly string[], value: number];

interface Family {
  type: "counter" | "gauge";
  labels: readonly string[];
  read: () => Iterable<Sample>;
}

export class Metrics {
  counters = new Map<string, number>();
  private gauges = new Map<string, () => number>();
  private families = new Map<string, Family>();
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
  /** A labelled counter or gauge family, read at scrape time (see the top of this file). */
  family(name: string, help: string, type: "counter" | "gauge", labels: readonly string[], read: () => Iterable<Sample>): void {
    for (const l of labels) if (!/^[a-zA-Z_][a-zA-Z0-9_]*$/.test(l) || l.startsWith("__")) throw new Error(`bad label name ${l}`);
    this.families.set(name, { type, labels, read });
    this.help.set(name, help);
  }

  render(): string {
    const out: string[] = [];
    const head = (name: string, type: string) => out.push(`# HELP ${name} ${escapeHelp(this.help.get(name) ?? name)}`, `# TYPE ${name} ${type}`);
    for (const [name, v] of this.counters) {
      head(name, "counter");
      out.push(`${name} ${v}`);
    }
    for (const [name, read] of this.gauges) {
      head(name, "gauge");
      out.push(`${name} ${read()}`);
    }
    for (const [name, f] of this.families) {
      head(name, f.type);
      for (const [values, v] of f.read()) {
        const pairs = f.labels.map((l, i) => `${l}="${escapeLabel(values[i] ?? "")}"`);
        out.push(`${name}${pairs.length ? `{${pairs.join(",")}}` : ""} ${formatValue(v)}`);
      }
    }
    return out.join("\n") + "\n";
  }
}

function escapeLabel(v: string): string {
  return v.replace(/\\/g, "\\\\").replace(/"/g, "\\\"").replace(/\n/g, "\\n");
}
function escapeHelp(v: string): string {
  return v.replace(/\\/g, "\\\\").replace(/\n/g, "\\n");
}
function formatValue(v: number): string {
  if (Number.isNaN(v)) return "NaN";
  if (v === Infinity) return "+Inf";
  if (v === -Infinity) return "-Inf";
  return String(v);
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
