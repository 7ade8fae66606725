/** Byte helpers that work on QuickJS too (no TextEncoder/btoa/Buffer there). */

export function ascii(s: string): Uint8Array {
  const out = new Uint8Array(s.length);
  for (let i = 0; i < s.length; i++) out[i] = s.charCodeAt(i) & 0xff;
  return out;
}

export function latin1(b: Uint8Array, start = 0, end = b.length): string {
  let s = "";
  for (let i = start; i < end; i += 4096) s += String.fromCharCode(...b.subarray(i, Math.min(end, i + 4096)));
  return s;
}

// Shared with the agent core: the same QuickJS-safe helpers.
export { concat, toBase64 as base64, toHex as hex } from "../../../agent-src/src/protocol/bytes.js";
