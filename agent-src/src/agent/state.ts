/**
 * What the agent remembers across reboots: its identity from activation and where it last worked.
 * Written atomically (temp + fsync + rename) so a power cut mid-write leaves the old or the new
 * file, never a torn one.
 */

import { utf8Decode, utf8Encode } from "../protocol/bytes";
import type { Platform } from "../platform/platform";
import { isHostPort } from "../common/config-fields";

export interface AgentState {
  device_id: string;
  /** Per-device HMAC key (hex). Never leaves the camera after activation. */
  key: string;
  /** Endpoint list issued by the server; replaces the config's after activation. */
  endpoints: string[];
  /** Cached streamer: later boots go straight here, without the endpoint. */
  streamer?: string;
}

export class StateError extends Error {}

/** Printable ASCII without spaces: it goes into logs, HELLO and the AUTH message. */
const DEVICE_ID = /^[\x21-\x7e]{1,128}$/;

/**
 * Why a state the server handed us (ACTIVATED, REDIRECT, MOVE) must not be kept, or null when it
 * may. Checked before anything is written: a bad address must never reach the state file.
 */
export function issuedStateProblem(st: AgentState): string | null {
  if (!DEVICE_ID.test(st.device_id)) return "device_id is not 1-128 printable characters";
  if (!/^[0-9a-f]{64}$/.test(st.key)) return "key is not 64 hex digits";
  if (st.endpoints.length === 0) return "empty endpoint list";
  const badEndpoint = st.endpoints.find((e) => !isHostPort(e));
  if (badEndpoint !== undefined) return `endpoint "${badEndpoint.slice(0, 80)}" is not host:port`;
  if (st.streamer !== undefined && !isHostPort(st.streamer)) return `streamer "${st.streamer.slice(0, 80)}" is not host:port`;
  return null;
}

export function loadState(p: Platform, path: string): AgentState | null {
  const raw = p.readFile(path);
  if (raw === null) return null;
  let s: unknown;
  try {
    s = JSON.parse(utf8Decode(raw));
  } catch {
    throw new StateError(`state file ${path} is corrupt (not JSON)`);
  }
  const o = s as Record<string, unknown>;
  if (
    typeof o !== "object" || o === null || typeof o.device_id !== "string" || typeof o.key !== "string" ||
    !/^[0-9a-f]{64}$/.test(o.key) || !Array.isArray(o.endpoints) || !o.endpoints.every((e) => typeof e === "string") ||
    (o.streamer !== undefined && typeof o.streamer !== "string")
  ) {
    throw new StateError(`state file ${path} has an unexpected shape`);
  }
  return { device_id: o.device_id, key: o.key, endpoints: o.endpoints as string[], streamer: o.streamer as string | undefined };
}

export function saveState(p: Platform, path: string, st: AgentState): void {
  p.writeFileAtomic(path, utf8Encode(JSON.stringify(st) + "\n"));
}
