/**
 * The Pump (platform.ts) in JavaScript: what Node and any platform without a native pump use,
 * and the reference for the C one (agent-src/native/native-pump.c), so that the core's tests run
 * the same relay logic everywhere.
 */

import { FrameType, HEADER_SIZE, writeHeader } from "../protocol/frame";
import type { Pump, PumpEvents, Socket } from "./platform";

/**
 * Largest DATA payload sent: header plus payload fill one 16 KiB TLS record exactly, so the
 * receiver gets each frame whole in one record (no frame split across two), and streams still
 * interleave fairly on the link (as protocol/stream.ts).
 */
const CHUNK = 16 * 1024 - HEADER_SIZE;
/**
 * Bytes read ahead of the link: the source is paused at this much (and resumed below half), so
 * memory stays bounded (this plus one read). Not zero: a source paused on any held byte leaves the
 * link idle while it reads again (bench throughput row, Node agent: ~490 Mbit/s that way, ~710
 * with 64 KiB). The stream queue this replaced held as much.
 */
const HELD_MAX = 64 * 1024;
/**
 * Most payload per link write: four whole frames, about one camera read on Node (64 KiB). The
 * few bytes of a read past it wait for the next write (and go out with the next read's).
 */
const BATCH = 4 * CHUNK;

/**
 * At most HELD_MAX plus one read of the source is held here; the rest waits in the source socket.
 */
export function jsPump(
  source: Socket, link: Socket, streamId: number, credit: number, ev: PumpEvents, later: (fn: () => void) => void,
): Pump {
  const held: Uint8Array[] = [];
  let heldBytes = 0;
  let ended = false;
  let stopped = false;
  let linkFull = false;
  let paused = false;

  /** Takes `n` held bytes as DATA frames of at most CHUNK into one buffer; returns it and the frame count. */
  function gather(n: number): [Uint8Array, number] {
    const frames = Math.ceil(n / CHUNK);
    const out = new Uint8Array(n + frames * HEADER_SIZE);
    let o = 0;
    for (let left = n; left > 0;) {
      const len = Math.min(left, CHUNK);
      writeHeader(out.subarray(o, o + HEADER_SIZE), FrameType.DATA, streamId, len);
      o += HEADER_SIZE;
      for (let need = len; need > 0;) {
        const head = held[0];
        const k = Math.min(head.length, need);
        out.set(k === head.length ? head : head.subarray(0, k), o);
        if (k === head.length) held.shift();
        else held[0] = head.subarray(k);
        o += k;
        need -= k;
      }
      left -= len;
    }
    heldBytes -= n;
    return [out, frames];
  }

  function move(): void {
    if (stopped) return;
    let bytes = 0;
    let frames = 0;
    // The frames of a camera read leave in one link write: the TLS layer encrypts them in one
    // call and the kernel takes them in one system call, instead of one write, completion and
    // drain per 16 KiB frame.
    while (heldBytes > 0 && credit > 0 && !linkFull) {
      const n = Math.min(heldBytes, credit, BATCH);
      const [buf, f] = gather(n);
      credit -= n;
      bytes += n;
      frames += f;
      if (!link.write(buf)) linkFull = true;
    }
    if (bytes > 0) ev.onSent(bytes, frames);
    if (linkFull && bytes > 0) ev.onLinkFull();
    // Hysteresis, as the stream queue had: pause at HELD_MAX, resume below half of it.
    if (heldBytes >= HELD_MAX) {
      paused = true;
      source.pause();
    } else if (paused && heldBytes < HELD_MAX / 2 && !ended) {
      paused = false;
      source.resume();
    }
    if (ended && heldBytes === 0) {
      stop();
      later(() => ev.onEnd());
    }
  }

  function stop(): void {
    if (stopped) return;
    stopped = true;
    held.length = 0;
    heldBytes = 0;
    source.onData = null;
    source.onEnd = null;
  }

  source.onData = (d) => {
    if (stopped || d.length === 0) return;
    held.push(d);
    heldBytes += d.length;
    move();
  };
  source.onEnd = () => {
    ended = true;
    move();
  };

  return {
    credit(n) {
      credit += n;
      move();
    },
    kick() {
      linkFull = false;
      move();
    },
    stop,
  };
}
