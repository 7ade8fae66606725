/**
 * Exponential backoff with full jitter (the "Full Jitter" scheme): the n-th consecutive retry
 * waits uniform(0, min(cap, base · 2^n)). Random spread is what keeps 10 000 cameras from
 * reconnecting in lockstep after a server restart. Defaults (config "reconnect"): base 1 s,
 * cap 15 s; reset once a session has stayed up for stable_ms (60 s). The cap bounds how long a
 * fleet takes to come back after a server restart (measured in bench/: storm row); admission
 * control, not the cap, bounds how hard it comes back.
 */
export class Backoff {
  private attempt = 0;

  constructor(
    private readonly baseMs: number,
    private readonly capMs: number,
    /** Uniform in [0, 1). */
    private readonly random: () => number,
  ) {}

  /** Delay before the next attempt; grows with each call until reset(). */
  next(): number {
    const ceiling = Math.min(this.capMs, this.baseMs * Math.pow(2, Math.min(this.attempt, 30)));
    this.attempt++;
    return Math.floor(this.random() * ceiling);
  }

  reset(): void {
    this.attempt = 0;
  }

  get attempts(): number {
    return this.attempt;
  }
}
