/**
 * Where the agent dials next and how long it waits first. Pure: it sees only what happened to
 * the links (and a clock and a random source passed in), so every rule is unit-tested on a fake
 * clock. The agent does the I/O and asks this module after every event.
 *
 * The rules, and the bounds a hostile or broken server cannot push the agent past:
 *  - Later boots go to the cached streamer; after `streamerFailures` consecutive failures there
 *    the agent goes to the endpoints, rotating, and names the streamer in HELLO `avoid` for
 *    AVOID_MS.
 *  - Every failure waits with full-jitter backoff (Backoff); a stable session resets it.
 *  - RETRY_AFTER waits as told, but at least RETRY_AFTER_FLOOR_MS and at most
 *    RETRY_AFTER_MAX_MS, plus up to 25 % jitter (never earlier than asked).
 *  - A switch (ACTIVATED, REDIRECT, MOVE) is an attempt like any other: it waits with the
 *    backoff, and more than SWITCHES_PER_WINDOW switches within SWITCH_WINDOW_MS are refused:
 *    the agent treats that as a failure and goes back to its endpoints.
 *  - Whatever the reason, two dials start at least MIN_DIAL_INTERVAL_MS apart (≤ 2 links/s).
 */

import { Backoff } from "./backoff";

export type DestKind = "endpoint" | "streamer";
export interface Dest {
  kind: DestKind;
  addr: string;
}

/** A streamer that failed us is not asked for again via the endpoint for this long. */
export const AVOID_MS = 10 * 60_000;
/** The shortest wait a RETRY_AFTER can buy: "0" from a broken config must not become a storm. */
export const RETRY_AFTER_FLOOR_MS = 1000;
/** The longest: a hostile "come back tomorrow" must not take a camera offline for a day. */
export const RETRY_AFTER_MAX_MS = 5 * 60_000;
/** Two dials never start closer together than this, whatever the server says. */
export const MIN_DIAL_INTERVAL_MS = 500;
/** ACTIVATED/REDIRECT/MOVE obeyed per window; more means two servers bounce us between them. */
export const SWITCHES_PER_WINDOW = 4;
export const SWITCH_WINDOW_MS = 60_000;

export interface PolicyOptions {
  baseMs: number;
  capMs: number;
  /** Consecutive failures at the cached streamer before going back to the endpoints. */
  streamerFailures: number;
}

export interface PolicyClock {
  now(): number;
  /** Uniform in [0, 1). */
  random(): number;
}

export class ReconnectPolicy {
  private readonly backoff: Backoff;
  private streamerFailures = 0;
  private endpointIndex = 0;
  private readonly avoided = new Map<string, number>();
  private switchTimes: number[] = [];
  private lastDialAt = -Infinity;

  constructor(private readonly o: PolicyOptions, private readonly clock: PolicyClock) {
    this.backoff = new Backoff(o.baseMs, o.capMs, () => clock.random());
  }

  /**
   * Where to dial now, given the streamer the agent knows (cached or learnt) and its endpoint
   * list; records the dial for the minimum interval.
   */
  dial(streamer: string | undefined, endpoints: string[]): Dest {
    this.lastDialAt = this.clock.now();
    if (streamer && this.streamerFailures < this.o.streamerFailures) return { kind: "streamer", addr: streamer };
    return { kind: "endpoint", addr: endpoints[this.endpointIndex % endpoints.length] };
  }

  /** Streamers to name in HELLO `avoid` (only endpoints are told). */
  avoidList(dest: Dest): string[] {
    if (dest.kind !== "endpoint") return [];
    const now = this.clock.now();
    for (const [addr, until] of this.avoided) if (until <= now) this.avoided.delete(addr);
    return [...this.avoided.keys()];
  }

  /** The server welcomed us: the streamer works again. */
  live(): void {
    this.streamerFailures = 0;
  }

  /** A session stayed up long enough: the next failure starts the backoff afresh. */
  stable(): void {
    this.backoff.reset();
  }

  /** A streamer refused our identity (ERROR auth): go back to the endpoints at the next failure. */
  streamerRefusedAuth(): void {
    this.streamerFailures = this.o.streamerFailures - 1;
  }

  /** A dial or a session failed; returns how long to wait before the next dial. */
  failed(dest: Dest): number {
    if (dest.kind === "streamer") {
      this.streamerFailures++;
      if (this.streamerFailures >= this.o.streamerFailures) this.avoided.set(dest.addr, this.clock.now() + AVOID_MS);
    } else {
      this.endpointIndex++;
    }
    return this.wait(this.backoff.next());
  }

  /** True once failures at the streamer send the agent to the endpoints (for the log line). */
  get backToEndpoints(): boolean {
    return this.streamerFailures >= this.o.streamerFailures;
  }

  /** The server said RETRY_AFTER ms (already schema-checked: an integer ≥ 0); the wait. */
  retryAfter(ms: number): number {
    const told = Math.min(Math.max(ms, RETRY_AFTER_FLOOR_MS), RETRY_AFTER_MAX_MS);
    return this.wait(told + Math.floor(this.clock.random() * told * 0.25));
  }

  /**
   * ACTIVATED/REDIRECT/MOVE named a new streamer. Returns the wait before dialling it, or null
   * when the switch budget is spent: the caller refuses the switch and calls failed().
   */
  switched(): number | null {
    const now = this.clock.now();
    this.switchTimes = this.switchTimes.filter((t) => now - t < SWITCH_WINDOW_MS);
    if (this.switchTimes.length >= SWITCHES_PER_WINDOW) {
      this.streamerFailures = this.o.streamerFailures;
      return null;
    }
    this.switchTimes.push(now);
    this.streamerFailures = 0;
    return this.wait(this.backoff.next());
  }

  private wait(ms: number): number {
    return Math.max(ms, this.lastDialAt + MIN_DIAL_INTERVAL_MS - this.clock.now(), 0);
  }
}
