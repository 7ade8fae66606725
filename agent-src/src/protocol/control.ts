/**
 * Control messages: JSON payloads of the link-level frames and of OPEN/RESET.
 * Every field a peer sends is checked here, so the rest of the code can trust the shapes.
 */

import { utf8Decode, utf8Encode } from "./bytes";
import { FrameType, ProtocolError, frameTypeName } from "./frame";

export interface Hello {
  proto: number;
  agent: string; // agent version
  arch?: string;
  /** Present once activated: who this agent claims to be (proved by AUTH). */
  device_id?: string;
  /** Streamers that failed this agent recently, so an endpoint picks another. */
  avoid?: string[];
  /** Names of the agent's local targets and their camera-side addresses, for URL rewriting. */
  targets?: Record<string, string>;
  snapshot_path?: string;
  audio_path?: string;
}
export interface Challenge { nonce: string; role: "endpoint" | "streamer" }
export interface Auth { device_id: string; cnonce: string; mac: string }
export interface Activate { token: string }
export interface Activated { device_id: string; key: string; endpoints: string[]; streamer: string }
export interface Welcome { device_id: string }
export interface Redirect { streamer: string; endpoints?: string[] }
export interface Move { streamer: string }
export interface RetryAfter { ms: number; reason?: string }
export interface ErrorMsg { code: string; message: string }
export interface Open { target: string }
export interface Reset { code: string; message?: string }

export function encodeControl(msg: object): Uint8Array {
  return utf8Encode(JSON.stringify(msg));
}

type Check = (v: unknown) => boolean;
const str: Check = (v) => typeof v === "string" && v.length > 0 && v.length <= 512;
const optStr: Check = (v) => v === undefined || str(v);
const strList: Check = (v) => Array.isArray(v) && v.length <= 32 && v.every(str);
const optStrList: Check = (v) => v === undefined || strList(v);
const nonNegInt: Check = (v) => typeof v === "number" && Number.isInteger(v) && v >= 0 && v <= 86_400_000;
const hexOf = (n: number): Check => (v) => typeof v === "string" && v.length === n && /^[0-9a-f]+$/.test(v);
/** An absolute URL path without spaces or control characters (it goes into a request line). */
const optPath: Check = (v) => v === undefined || (typeof v === "string" && v.length <= 512 && /^\/[\x21-\x7e]*$/.test(v));
const optStrMap: Check = (v) =>
  v === undefined ||
  (typeof v === "object" && v !== null && !Array.isArray(v) &&
    Object.keys(v).length <= 16 && Object.values(v as object).every(str));

const SCHEMAS: Partial<Record<FrameType, Record<string, Check>>> = {
  [FrameType.HELLO]: {
    proto: nonNegInt, agent: str, arch: optStr, device_id: optStr, avoid: optStrList, targets: optStrMap,
    snapshot_path: optPath, audio_path: optPath,
  },
  [FrameType.CHALLENGE]: { nonce: hexOf(64), role: (v) => v === "endpoint" || v === "streamer" },
  [FrameType.AUTH]: { device_id: str, cnonce: hexOf(64), mac: hexOf(64) },
  [FrameType.ACTIVATE]: { token: str },
  [FrameType.ACTIVATED]: { device_id: str, key: hexOf(64), endpoints: strList, streamer: str },
  [FrameType.WELCOME]: { device_id: str },
  [FrameType.REDIRECT]: { streamer: str, endpoints: optStrList },
  [FrameType.MOVE]: { streamer: str },
  [FrameType.RETRY_AFTER]: { ms: nonNegInt, reason: optStr },
  [FrameType.ERROR]: { code: str, message: (v) => typeof v === "string" && v.length <= 1024 },
  [FrameType.OPEN]: { target: str },
  [FrameType.RESET]: { code: str, message: (v) => v === undefined || (typeof v === "string" && v.length <= 1024) },
};

/** Parses and validates a control payload; throws ProtocolError naming the bad field. */
export function decodeControl<T>(type: FrameType, payload: Uint8Array): T {
  const name = frameTypeName(type);
  const schema = SCHEMAS[type];
  if (!schema) throw new ProtocolError("type", `${name} carries no control message`);
  let v: unknown;
  try {
    v = JSON.parse(utf8Decode(payload));
  } catch {
    throw new ProtocolError("payload", `${name}: payload is not valid UTF-8 JSON`);
  }
  if (typeof v !== "object" || v === null || Array.isArray(v)) throw new ProtocolError("payload", `${name}: payload is not an object`);
  const obj = v as Record<string, unknown>;
  for (const [field, ok] of Object.entries(schema)) {
    if (!ok(obj[field])) throw new ProtocolError("payload", `${name}: bad field "${field}"`);
  }
  return obj as T;
}

/** The message the AUTH mac covers; see docs/PROTOCOL.md "Authentication". */
export function authMessage(nonce: string, cnonce: string, deviceId: string, role: string): Uint8Array {
  return utf8Encode(`flussonic-agent-auth-v1\n${role}\n${nonce}\n${cnonce}\n${deviceId}`);
}
