/**
 * RTSP on the wire, as far as a gateway needs it: split a byte stream into RTSP messages and
 * interleaved binary packets ("$" channel length payload, RFC 2326 §10.12), and rewrite URLs.
 *
 * Strict on purpose: the gateway rewrites and strips headers (Authorization), so it must see the
 * message exactly as the next hop will. A bare LF or CR would be one line to us and two to a
 * lenient camera, letting a viewer smuggle headers past the gateway; so every line ends in CRLF,
 * and size, header count and Content-Length are bounded before anything is buffered.
 */

export interface RtspMessage {
  kind: "message";
  /** "OPTIONS rtsp://… RTSP/1.0" or "RTSP/1.0 200 OK" */
  startLine: string;
  headers: [string, string][];
  body: Buffer;
}
export interface Interleaved {
  kind: "interleaved";
  /** The whole packet including its 4-byte "$" header, passed through untouched. */
  raw: Buffer;
}
export type RtspItem = RtspMessage | Interleaved;

/** Start line plus headers, up to and including the blank line. */
export const MAX_HEAD = 16 * 1024;
export const MAX_HEADERS = 64;
export const MAX_BODY = 256 * 1024;

export class RtspError extends Error {}

/** Who sends: viewers send requests only; a camera sends responses and may send requests. */
export type RtspPeer = "viewer" | "camera";

const REQUEST_LINE = /^([A-Z][A-Z0-9_-]{0,31}) ([\x21-\x7e\x80-\xff]{1,4096}) RTSP\/1\.0$/;
const STATUS_LINE = /^RTSP\/1\.0 [1-5]\d\d(?: [\x20-\x7e\x80-\xff\t]*)?$/;
const HEADER_NAME = /^[!#$%&'*+.^_`|~0-9A-Za-z-]{1,128}$/;
// Controls other than HTAB: NUL, bare CR/LF and the rest never belong in a header value.
const BAD_VALUE = /[\x00-\x08\x0a-\x1f\x7f]/;

/**
 * The parts in one buffer of exactly their size, never a slice of Node's shared pool: packets are
 * kept as they come (GOP cache), and a kept packet should hold on to no memory but its own.
 */
function ownCopy(parts: Uint8Array[]): Buffer {
  const out = Buffer.allocUnsafeSlow(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

export class RtspParser {
  private buf: Buffer = Buffer.alloc(0);
  /** Bytes of the current head already checked for bare CR/LF (so slow input is not rescanned). */
  private scanned = 0;

  constructor(private readonly from: RtspPeer = "viewer") {}

  /** True while part of a message or packet has arrived but not all of it. */
  get pending(): boolean {
    return this.buf.length > 0;
  }

  push(chunk: Uint8Array): RtspItem[] {
    // A view, not a copy: packets are passed on as slices of the chunk they arrived in.
    let view = Buffer.from(chunk.buffer, chunk.byteOffset, chunk.length);
    const out: RtspItem[] = [];
    // A packet split across chunks: complete it from the front of this one and carry on with a
    // view of the rest, rather than copying the whole chunk behind the leftover.
    const need = this.buf.length >= 4 && this.buf[0] === 0x24 ? 4 + this.buf.readUInt16BE(2) - this.buf.length : -1;
    if (need > 0 && need <= view.length) {
      out.push({ kind: "interleaved", raw: ownCopy([this.buf, view.subarray(0, need)]) });
      view = view.subarray(need);
      this.buf = Buffer.alloc(0);
    }
    this.buf = this.buf.length ? ownCopy([this.buf, view]) : view;
    for (;;) {
      // Tolerate empty lines between messages (some cameras end a body with an extra CRLF).
      while (this.buf.length >= 2 && this.buf[0] === 0x0d && this.buf[1] === 0x0a) this.buf = this.buf.subarray(2);
      if (this.buf.length === 0) break;
      if (this.buf[0] === 0x24) {
        // Packets back to back (a chunk holds about a dozen): walked by offset, one view each.
        const b = this.buf;
        let at = 0;
        while (b.length - at >= 4 && b[at] === 0x24) {
          const end = at + 4 + ((b[at + 2] << 8) | b[at + 3]);
          if (end > b.length) break;
          out.push({ kind: "interleaved", raw: b.subarray(at, end) });
          at = end;
        }
        if (at === 0) break; // the rest of a packet is still to come
        this.buf = b.subarray(at);
        continue;
      }
      const msg = this.message();
      if (!msg) break;
      out.push(msg);
    }
    // Detach leftovers from the big chunk they came in.
    if (this.buf.length) this.buf = Buffer.from(this.buf);
    return out;
  }

  /** One complete message off the front of buf, or null if more bytes are needed. */
  private message(): RtspMessage | null {
    const end = this.headEnd();
    if (end < 0) return null;
    const lines = this.buf.subarray(0, end).toString("latin1").split("\r\n");
    const startLine = lines.shift()!;
    const isRequest = REQUEST_LINE.test(startLine);
    if (!isRequest && !(this.from === "camera" && STATUS_LINE.test(startLine))) {
      throw new RtspError(`bad RTSP start line "${printable(startLine)}"`);
    }
    if (lines.length > MAX_HEADERS) throw new RtspError(`more than ${MAX_HEADERS} RTSP headers`);
    const headers: [string, string][] = [];
    let contentLength: string | undefined;
    for (const l of lines) {
      const i = l.indexOf(":");
      const name = i > 0 ? l.slice(0, i) : "";
      const value = l.slice(i + 1).replace(/^[ \t]+|[ \t]+$/g, "");
      // No obsolete line folding and no space before the colon: both read differently elsewhere.
      if (!HEADER_NAME.test(name)) throw new RtspError(`malformed RTSP header line "${printable(l)}"`);
      if (BAD_VALUE.test(value)) throw new RtspError(`control character in RTSP header ${name}`);
      if (name.toLowerCase() === "content-length") {
        if (contentLength !== undefined) throw new RtspError("more than one Content-Length");
        contentLength = value;
      }
      headers.push([name, value]);
    }
    let cl = 0;
    if (contentLength !== undefined) {
      if (!/^\d{1,7}$/.test(contentLength)) throw new RtspError(`bad Content-Length "${printable(contentLength)}"`);
      cl = Number(contentLength);
      if (cl > MAX_BODY) throw new RtspError(`Content-Length ${cl} over ${MAX_BODY}`);
    }
    if (this.buf.length < end + 4 + cl) return null;
    const body = Buffer.from(this.buf.subarray(end + 4, end + 4 + cl));
    this.buf = this.buf.subarray(end + 4 + cl);
    this.scanned = 0;
    return { kind: "message", startLine, headers, body };
  }

  /**
   * Offset of the CRLFCRLF ending the head at the front of buf, or -1 if it has not all arrived.
   * Throws on a bare CR or LF, or once the head would exceed MAX_HEAD.
   */
  private headEnd(): number {
    const b = this.buf;
    const limit = Math.min(b.length, MAX_HEAD);
    let i = Math.max(this.scanned, 0);
    for (; i < limit; i++) {
      const c = b[i];
      if (c === 0x0a) {
        if (i === 0 || b[i - 1] !== 0x0d) throw new RtspError("bare LF in RTSP head (lines must end in CRLF)");
        if (i >= 3 && b[i - 2] === 0x0a && b[i - 3] === 0x0d) {
          this.scanned = 0;
          return i - 3;
        }
      } else if (c === 0x0d) {
        if (i + 1 < b.length && b[i + 1] !== 0x0a) throw new RtspError("bare CR in RTSP head (lines must end in CRLF)");
        if (i + 1 >= b.length) break; // wait for the byte after it
      }
    }
    this.scanned = i;
    if (b.length >= MAX_HEAD) throw new RtspError(`RTSP head larger than ${MAX_HEAD} bytes`);
    return -1;
  }
}

function printable(s: string): string {
  return s.slice(0, 60).replace(/[^\x20-\x7e]/g, (c) => `\\x${c.charCodeAt(0).toString(16).padStart(2, "0")}`);
}

export function getHeader(h: [string, string][], name: string): string | undefined {
  const n = name.toLowerCase();
  return h.find(([k]) => k.toLowerCase() === n)?.[1];
}

export function setHeader(h: [string, string][], name: string, value: string): void {
  const n = name.toLowerCase();
  const i = h.findIndex(([k]) => k.toLowerCase() === n);
  if (i >= 0) h[i] = [h[i][0], value];
  else h.push([name, value]);
}

export function removeHeader(h: [string, string][], name: string): void {
  const n = name.toLowerCase();
  for (let i = h.length - 1; i >= 0; i--) if (h[i][0].toLowerCase() === n) h.splice(i, 1);
}

export function serialize(m: RtspMessage): Buffer {
  const headers = m.headers.filter(([k]) => k.toLowerCase() !== "content-length");
  if (m.body.length) headers.push(["Content-Length", String(m.body.length)]);
  const head = [m.startLine, ...headers.map(([k, v]) => `${k}: ${v}`), "", ""].join("\r\n");
  return Buffer.concat([Buffer.from(head, "latin1"), m.body]);
}

export function response(status: number, reason: string, cseq: string | undefined, extra: [string, string][] = []): Buffer {
  const h: [string, string][] = [];
  if (cseq !== undefined) h.push(["CSeq", cseq]);
  h.push(...extra);
  return serialize({ kind: "message", startLine: `RTSP/1.0 ${status} ${reason}`, headers: h, body: Buffer.alloc(0) });
}
