/**
 * Frame codec of the flussonic-agent tunnel protocol, version 1. Normative text: docs/PROTOCOL.md.
 *
 *   0        1        2        4                8               12
 *   +--------+--------+--------+----------------+----------------+------------
 *   |version |  type  | flags  |   stream id    |     length     | payload…
 *   +--------+--------+--------+----------------+----------------+------------
 *   big-endian; flags are reserved (must be 0); length ≤ MAX_PAYLOAD.
 */

export const PROTOCOL_VERSION = 1;
export const HEADER_SIZE = 12;
/** Hard limit on one frame's payload: bounds every buffer a peer can make us hold. */
export const MAX_PAYLOAD = 64 * 1024;
/** Control payloads (JSON) are small; a big one is an attack, not a message. */
export const MAX_CONTROL_PAYLOAD = 4096;

export const enum FrameType {
  // Stream frames (stream id ≠ 0)
  DATA = 0x01,
  WINDOW = 0x02,
  OPEN = 0x03,
  OPEN_OK = 0x04,
  FIN = 0x05,
  RESET = 0x06,
  // Link frames (stream id = 0)
  PING = 0x07,
  PONG = 0x08,
  HELLO = 0x10,
  CHALLENGE = 0x11,
  AUTH = 0x12,
  ACTIVATE = 0x13,
  ACTIVATED = 0x14,
  WELCOME = 0x15,
  REDIRECT = 0x16,
  MOVE = 0x17,
  RETRY_AFTER = 0x18,
  ERROR = 0x19,
}

const NAMES: Record<number, string> = {
  0x01: "DATA", 0x02: "WINDOW", 0x03: "OPEN", 0x04: "OPEN_OK", 0x05: "FIN", 0x06: "RESET",
  0x07: "PING", 0x08: "PONG", 0x10: "HELLO", 0x11: "CHALLENGE", 0x12: "AUTH", 0x13: "ACTIVATE",
  0x14: "ACTIVATED", 0x15: "WELCOME", 0x16: "REDIRECT", 0x17: "MOVE", 0x18: "RETRY_AFTER", 0x19: "ERROR",
};

/** Types that belong to a stream; all others must use stream id 0. */
const STREAM_TYPES = new Set<number>([0x01, 0x02, 0x03, 0x04, 0x05, 0x06]);
/** Types whose payload is a JSON control message (size-limited). */
const CONTROL_TYPES = new Set<number>([0x03, 0x06, 0x10, 0x11, 0x12, 0x13, 0x14, 0x15, 0x16, 0x17, 0x18, 0x19]);

export function frameTypeName(t: number): string {
  return NAMES[t] ?? `0x${t.toString(16).padStart(2, "0")}`;
}

export interface Frame {
  type: FrameType;
  stream: number;
  payload: Uint8Array;
}

/** What a peer did wrong, as sent in ERROR {"code"} (docs/PROTOCOL.md). */
export type ProtocolErrorCode =
  | "version" | "type" | "flags" | "size" | "stream" | "payload" | "flow" | "forbidden" | "unexpected" | "internal"
  /** Too many PINGs: not malformed, but the link is cut off all the same. */
  | "flood";

/** A violation of the protocol by the peer. Fatal for the link; never escapes the connection. */
export class ProtocolError extends Error {
  constructor(public readonly code: ProtocolErrorCode, message: string) {
    super(message);
    this.name = "ProtocolError";
  }
}

export function encodeFrame(type: FrameType, stream: number, payload: Uint8Array = EMPTY): Uint8Array {
  const out = new Uint8Array(HEADER_SIZE + payload.length);
  writeHeader(out, type, stream, payload.length);
  out.set(payload, HEADER_SIZE);
  return out;
}

/** Writes the 12-byte header of a frame with `length` bytes of payload into out[0..12). */
export function writeHeader(out: Uint8Array, type: FrameType, stream: number, length: number): Uint8Array {
  if (length > MAX_PAYLOAD) throw new Error(`frame payload ${length} > ${MAX_PAYLOAD}`);
  out[0] = PROTOCOL_VERSION;
  out[1] = type;
  out[2] = 0;
  out[3] = 0;
  writeU32(out, 4, stream);
  writeU32(out, 8, length);
  return out;
}

export const EMPTY = new Uint8Array(0);

export function writeU32(b: Uint8Array, off: number, v: number): void {
  b[off] = v >>> 24;
  b[off + 1] = (v >>> 16) & 255;
  b[off + 2] = (v >>> 8) & 255;
  b[off + 3] = v & 255;
}

export function readU32(b: Uint8Array, off: number): number {
  return ((b[off] << 24) | (b[off + 1] << 16) | (b[off + 2] << 8) | b[off + 3]) >>> 0;
}

/**
 * Incremental decoder: feed it whatever the socket delivered, get whole frames back.
 * A payload that lies whole in one chunk and fills at least half of it is handed out as a view
 * of that chunk, not copied (a sender that fits each frame in one TLS record, as the agents do,
 * costs no copy here); any other payload is copied exactly once (a frame split over several TLS
 * records is gathered when complete, not re-concatenated per record), so a payload never pins
 * more than twice its size. A header is checked as soon as its 12 bytes are in, before any of an
 * oversized payload is buffered. It never holds more than one header plus MAX_PAYLOAD bytes of a
 * partial frame. Socket chunks must not be reused by the caller after push() (Node and the
 * native platform hand out a fresh buffer per read).
 */
export class FrameDecoder {
  private chunks: Uint8Array[] = [];
  private buffered = 0;
  /** Validated header of the frame being gathered, or null. */
  private head: { type: FrameType; stream: number; length: number } | null = null;

  /** Returns the complete frames in `chunk` (plus earlier leftovers). Throws ProtocolError. */
  push(chunk: Uint8Array): Frame[] {
    const frames: Frame[] = [];
    this.chunks.push(chunk);
    this.buffered += chunk.length;
    for (;;) {
      if (!this.head) {
        if (this.buffered < HEADER_SIZE) break;
        this.head = checkHeader(this.peekHeader());
      }
      const { type, stream, length } = this.head;
      if (this.buffered < HEADER_SIZE + length) break;
      this.skip(HEADER_SIZE);
      frames.push({ type, stream, payload: this.take(length) });
      this.head = null;
    }
    return frames;
  }

  /** Bytes of an incomplete frame currently held. */
  get pending(): number {
    return this.buffered;
  }

  private peekHeader(): Uint8Array {
    const first = this.chunks[0];
    if (first.length >= HEADER_SIZE) return first;
    const h = new Uint8Array(HEADER_SIZE);
    let n = 0;
    for (const c of this.chunks) {
      const k = Math.min(c.length, HEADER_SIZE - n);
      h.set(c.subarray(0, k), n);
      n += k;
      if (n === HEADER_SIZE) break;
    }
    return h;
  }

  private skip(n: number): void {
    this.take(n, false);
  }

  /** Removes n bytes from the front: a view when they are at least half of the first chunk's memory, else a copy. */
  private take(n: number, copy = true): Uint8Array {
    const first = this.chunks[0];
    if (copy && n > 0 && first.length >= n && 2 * n >= first.buffer.byteLength) {
      const view = first.subarray(0, n);
      if (n === first.length) this.chunks.shift();
      else this.chunks[0] = first.subarray(n);
      this.buffered -= n;
      return view;
    }
    const out = copy ? new Uint8Array(n) : EMPTY;
    let filled = 0;
    while (filled < n) {
      const c = this.chunks[0];
      const k = Math.min(c.length, n - filled);
      if (copy) out.set(c.subarray(0, k), filled);
      filled += k;
      if (k === c.length) this.chunks.shift();
      else this.chunks[0] = c.subarray(k);
    }
    this.buffered -= n;
    return out;
  }
}

function checkHeader(b: Uint8Array): { type: FrameType; stream: number; length: number } {
  const version = b[0];
  const type = b[1];
  if (version !== PROTOCOL_VERSION) {
    throw new ProtocolError("version", `unsupported protocol version ${version} (this side speaks ${PROTOCOL_VERSION})`);
  }
  if (!NAMES[type]) throw new ProtocolError("type", `unknown frame type ${frameTypeName(type)}`);
  if (b[2] !== 0 || b[3] !== 0) throw new ProtocolError("flags", `non-zero reserved flags in ${NAMES[type]}`);
  const stream = readU32(b, 4);
  const length = readU32(b, 8);
  if (length > MAX_PAYLOAD) throw new ProtocolError("size", `${NAMES[type]} payload ${length} exceeds ${MAX_PAYLOAD}`);
  if (CONTROL_TYPES.has(type) && length > MAX_CONTROL_PAYLOAD) {
    throw new ProtocolError("size", `${NAMES[type]} control payload ${length} exceeds ${MAX_CONTROL_PAYLOAD}`);
  }
  if (STREAM_TYPES.has(type) === (stream === 0)) {
    throw new ProtocolError("stream", `${NAMES[type]} on stream ${stream}`);
  }
  return { type, stream, length };
}
