/** Counters behind GET /metrics (Prometheus text format). */
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
