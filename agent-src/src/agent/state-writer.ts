/**
 * Writes the state file only when its content changes, and within a flash-wear budget: at most
 * STATE_WRITES_PER_WINDOW writes per STATE_WRITE_WINDOW_MS. A change over budget is not lost:
 * the latest state is written once the window has room (a power cut meanwhile costs only the
 * newest streamer address, which the endpoint hands out again). A new identity (activation) is
 * written at once: it can happen only once per one-time token, and losing it would brick the
 * device.
 *
 * Budget: 4 writes per minute is ≤ 5 760 a day even under a sustained attack, each an erase of
 * one small file's block (temp + rename); a camera's NOR/NAND flash with wear levelling takes
 * 10⁴–10⁵ erases per block, so years, not hours (367 writes in 15 s before this budget).
 */

import type { Clock } from "../platform/platform";
import type { AgentState } from "./state";

export const STATE_WRITES_PER_WINDOW = 4;
export const STATE_WRITE_WINDOW_MS = 60_000;

export class StateWriter {
  private written: string | null;
  private identity: string | null;
  private times: number[] = [];
  private pending: AgentState | null = null;
  private timer = -1;

  constructor(
    private readonly clock: Clock,
    /** Writes the file; false when it could not (full or read-only flash): tried again on the next change. */
    private readonly write: (st: AgentState) => boolean,
    loaded: AgentState | null,
  ) {
    this.written = loaded ? JSON.stringify(loaded) : null;
    this.identity = loaded ? identityOf(loaded) : null;
  }

  save(st: AgentState): void {
    const text = JSON.stringify(st);
    this.clock.clearTimer(this.timer);
    this.pending = null;
    if (text === this.written) return;
    if (identityOf(st) !== this.identity || this.hasRoom()) return this.writeNow(st, text);
    this.pending = { ...st, endpoints: [...st.endpoints] };
    const wait = this.times[0] + STATE_WRITE_WINDOW_MS - this.clock.now();
    this.timer = this.clock.setTimer(Math.max(0, wait), () => {
      const p = this.pending;
      this.pending = null;
      if (p) this.save(p);
    });
  }

  /** Writes so far in the current window (for logs and tests). */
  get recentWrites(): number {
    this.hasRoom();
    return this.times.length;
  }

  private hasRoom(): boolean {
    const now = this.clock.now();
    this.times = this.times.filter((t) => now - t < STATE_WRITE_WINDOW_MS);
    return this.times.length < STATE_WRITES_PER_WINDOW;
  }

  private writeNow(st: AgentState, text: string): void {
    this.times.push(this.clock.now());
    if (!this.write(st)) return;
    this.written = text;
    this.identity = identityOf(st);
  }
}

function identityOf(st: AgentState): string {
  return `${st.device_id}\n${st.key}`;
}
