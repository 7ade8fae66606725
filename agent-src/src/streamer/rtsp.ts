/**
 * RTSP on the wire, as far as a gateway needs it: split a byte stream into RTSP messages and
 * interleaved binary packets ("$" channel length payload, RFC 2326 §10.12), and rewrite URLs.
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

const MAX_HEAD = 16 * 1024;
const MAX_BODY = 256 * 1024;

export class RtspError extends Error {}

export class RtspParser {
  private buf: Buffer = Buffer.alloc(0);

  push(chunk: Uint8Array): RtspItem[] {
    // A view, not a copy: packets are passed on as slices of the chunk they arrived in.
    const view = Buffer.from(chunk.buffer, chunk.byteOffset, chunk.length);
    this.buf = this.buf.length ? Buffer.concat([this.buf, view]) : view;
    const out: RtspItem[] = [];
    for (;;) {
      if (this.buf.length === 0) break;
      if (this.buf[0] === 0x24) {
        if (this.buf.length < 4) break;
        const len = this.buf.readUInt16BE(2);
        if (this.buf.length < 4 + len) break;
        out.push({ kind: "interleaved", raw: this.buf.subarray(0, 4 + len) });
        this.buf = this.buf.subarray(4 + len);
        continue;
      }
      const end = this.buf.indexOf("\r\n\r\n");
      if (end < 0) {
        if (this.buf.length > MAX_HEAD) throw new RtspError("RTSP header too large");
        break;
      }
      const lines = this.buf.subarray(0, end).toString("latin1").split("\r\n");
      const startLine = lines.shift() ?? "";
      const headers: [string, string][] = [];
      for (const l of lines) {
        const i = l.indexOf(":");
        if (i <= 0) throw new RtspError(`malformed RTSP header line "${l.slice(0, 60)}"`);
        headers.push([l.slice(0, i).trim(), l.slice(i + 1).trim()]);
      }
      const cl = Number(getHeader(headers, "content-length") ?? "0");
      if (!Number.isInteger(cl) || cl < 0 || cl > MAX_BODY) throw new RtspError("bad Content-Length");
      if (this.buf.length < end + 4 + cl) break;
      out.push({ kind: "message", startLine, headers, body: Buffer.from(this.buf.subarray(end + 4, end + 4 + cl)) });
      this.buf = this.buf.subarray(end + 4 + cl);
    }
    // Detach leftovers from the big chunk they came in.
    if (this.buf.length) this.buf = Buffer.from(this.buf);
    return out;
  }
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
