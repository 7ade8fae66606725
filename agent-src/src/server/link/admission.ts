/**
 * Token bucket for new agent links. When 10 000 cameras come back at once, the ones over the
 * rate are told RETRY_AFTER with ±50 % jitter instead of all being served (or all retrying) now.
 */
export class TokenBucket {
  private tokens: number;
  private last: number;

  constructor(
    private readonly rate: number,
    private readonly burst: number,
    private readonly now: () => number = () => performance.now(),
  ) {
    this.tokens = burst;
    this.last = now();
  }

  take(): boolean {
    const t = this.now();
    this.tokens = Math.min(this.burst, this.tokens + ((t - this.last) / 1000) * this.rate);
    this.last = t;
    if (this.tokens < 1) return false;
    this.tokens -= 1;
    return true;
  }
}

/** base ±50 %: spreads the returning agents over a whole retry period. */
export function jittered(baseMs: number, random: () => number = Math.random): number {
  return Math.round(baseMs * (0.5 + random()));
}
