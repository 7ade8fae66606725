// An in-memory, asynchronous socket pair implementing the Platform's Socket, for exercising the
// protocol without the network. Delivery happens on setImmediate, like a real event loop.
import type { Socket } from "../../src/platform/platform";
import type { Clock } from "../../src/platform/platform";

export class MemSocket implements Socket {
  onData: ((d: Uint8Array) => void) | null = null;
  onEnd: (() => void) | null = null;
  onDrain: (() => void) | null = null;
  onClose: ((err: string | null) => void) | null = null;
  peer!: MemSocket;
  /** Bytes written to this socket so far (what the peer receives). */
  written = 0;
  /** When set, the peer stops receiving (a blackholed link). */
  blackholed = false;
  destroyed = false;
  /**
   * Bytes the peer may leave unread before write() reports full (a socket buffer); onDrain fires
   * when the peer has read everything. Default: never full.
   */
  highWater = Infinity;
  private needDrain = false;
  private paused = false;
  private inbox: Uint8Array[] = [];
  /** Bytes delivered to this socket that its reader has not taken (it is paused). */
  unread = 0;

  write(d: Uint8Array): boolean {
    if (this.destroyed) return false;
    this.written += d.length;
    if (!this.blackholed) this.peer.deliver(d.slice());
    if (this.peer.unread >= this.highWater) {
      this.needDrain = true;
      return false;
    }
    return true;
  }
  end(): void {
    setImmediate(() => this.peer.onEnd?.());
  }
  destroy(): void {
    if (this.destroyed) return;
    this.destroyed = true;
    setImmediate(() => {
      this.onClose?.(null);
      // A blackholed link carries no FIN/RST either: the peer must find out by itself.
      if (!this.peer.destroyed && !this.blackholed) this.peer.destroy();
    });
  }
  pause(): void {
    this.paused = true;
  }
  resume(): void {
    this.paused = false;
    this.flushInbox();
  }
  private deliver(d: Uint8Array): void {
    this.inbox.push(d);
    this.unread += d.length;
    setImmediate(() => this.flushInbox());
  }
  private flushInbox(): void {
    while (!this.paused && !this.destroyed && this.inbox.length) {
      const d = this.inbox.shift()!; // not inside `onData?.(…)`: that would skip the shift when unset
      this.unread -= d.length;
      this.onData?.(d);
    }
    const w = this.peer;
    if (this.unread === 0 && w.needDrain && !w.destroyed) {
      w.needDrain = false;
      setImmediate(() => w.onDrain?.());
    }
  }
}

export function socketPair(): [MemSocket, MemSocket] {
  const a = new MemSocket(), b = new MemSocket();
  a.peer = b;
  b.peer = a;
  return [a, b];
}

export const realClock: Clock = {
  setTimer: (ms, fn) => setTimeout(fn, ms) as unknown as number,
  clearTimer: (id) => clearTimeout(id as unknown as NodeJS.Timeout),
  now: () => performance.now(),
};

/** Deterministic PRNG (mulberry32) so fuzz runs are reproducible from a seed. */
export function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export const tick = () => new Promise((r) => setImmediate(r));
export async function until(cond: () => boolean, timeoutMs = 5000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > end) throw new Error("condition not met in time");
    await new Promise((r) => setTimeout(r, 5));
  }
}
