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
 * At most what the source delivered since it was last paused is held here: the source is paused
 * while anything waits for credit or for the link.
 */
export function jsPump(
  source: Socket, link: Socket, streamId: number, credit: number, ev: PumpEvents, later: (fn: () => void) => void,
): Pump {
  const held: Uint8Array[] = [];
  let heldBytes = 0;
  let ended = false;
  let stopped = false;
  let linkFull = false;

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
    if (heldBytes > 0) source.pause();
    else if (!ended) source.resume();
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
