// Wait for a line matching a pattern in a growing list of lines (a child's output, a guest's log),
// with a deadline and an early give-up (the producer exited). No vitest import: plain-Node tools use it.
//
// The producer keeps `lines` (appending; it may trim the front, counted by `dropped`) and calls every
// function in `waiters` after each change; a wait adds itself there and removes itself when done.

export interface LineWait {
  lines: string[];
  /** Lines trimmed from the front so far: indices stay absolute (default: never trimmed). */
  dropped?: () => number;
  /** Absolute index of the first line to look at (default 0: the whole history). */
  after?: number;
  waiters: Set<() => void>;
  timeoutMs: number;
  /** Why to stop waiting now (e.g. "exited before …"), or null to keep waiting. */
  failure: () => string | null;
  /** The message when timeoutMs passes without a match. */
  timeoutMessage: () => string;
}

export function waitForMatch(re: RegExp, w: LineWait): Promise<RegExpMatchArray> {
  const dropped = w.dropped ?? (() => 0);
  return new Promise((resolve, reject) => {
    let next = w.after ?? 0;
    const check = () => {
      for (next = Math.max(next, dropped()); next < dropped() + w.lines.length; next++) {
        const m = w.lines[next - dropped()].match(re);
        if (m) return done(() => resolve(m));
      }
      const why = w.failure();
      if (why !== null) done(() => reject(new Error(why)));
    };
    const timer = setTimeout(() => done(() => reject(new Error(w.timeoutMessage()))), w.timeoutMs);
    const done = (f: () => void) => {
      clearTimeout(timer);
      w.waiters.delete(check);
      f();
    };
    w.waiters.add(check);
    check();
  });
}
