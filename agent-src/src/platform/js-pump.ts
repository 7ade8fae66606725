/**
 * The Pump (platform.ts) in JavaScript: what Node and any platform without a native pump use,
 * and the reference for the C one (agent-src/native/native-pump.c), so that the core's tests run
 * the same relay logic everywhere.
 */

import { encodeFrame, FrameType, HEADER_SIZE, writeHeader } from "../protocol/frame";
import type { Pump, PumpEvents, Socket } from "./platform";

/** Largest DATA payload sent: streams interleave fairly on the link (as protocol/stream.ts). */
const CHUNK = 16 * 1024;
/**
 * Bytes read ahead of the link: the source is paused at this much (and resumed below half), so
 * memory stays bounded (this plus one read). Not zero: Node's write() says "full" after about
 * every frame (its buffer mark is 16 KiB), and a source paused until then leaves the link idle
 * while it reads again (bench throughput row, Node agent: ~490 Mbit/s paused on any held byte,
 * ~710 with this read-ahead, 890–1020 with the stream queue this replaced). The stream queue
 * held as much.
 */
const HELD_MAX = 64 * 1024;

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

  const send = (chunk: Uint8Array): boolean =>
    link.writeTwo
      ? link.writeTwo(writeHeader(new Uint8Array(HEADER_SIZE), FrameType.DATA, streamId, chunk.length), chunk)
      : link.write(encodeFrame(FrameType.DATA, streamId, chunk));

  function move(): void {
    if (stopped) return;
    let bytes = 0;
    let frames = 0;
    while (heldBytes > 0 && credit > 0 && !linkFull) {
      const head = held[0];
      const n = Math.min(head.length, credit, CHUNK);
      const chunk = n === head.length ? head : head.subarray(0, n);
      if (n === head.length) held.shift();
      else held[0] = head.subarray(n);
      heldBytes -= n;
      credit -= n;
      bytes += n;
      frames++;
      if (!send(chunk)) linkFull = true;
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
