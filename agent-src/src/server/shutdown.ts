/**
 * What the streamer finishes before it exits on SIGTERM/SIGINT — e.g. the archive closes the
 * segment under way, so a normal stop leaves nothing for crash recovery. Bounded: a step that
 * hangs (a stuck disk) does not hold the exit past the timeout.
 */

const steps: (() => Promise<void>)[] = [];

export function onShutdown(step: () => Promise<void>): void {
  steps.push(step);
}

/** Runs every step at once; resolves when all are done or after timeoutMs, whichever is first. */
export async function shutdown(timeoutMs: number): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  await Promise.race([
    Promise.allSettled(steps.map((s) => s())),
    new Promise((r) => (timer = setTimeout(r, timeoutMs))),
  ]);
  clearTimeout(timer);
}
