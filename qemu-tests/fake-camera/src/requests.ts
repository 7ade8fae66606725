/**
 * Incremental reader for RTSP/HTTP requests on one connection: header block up to CRLFCRLF, then a
 * body by Content-Length or chunked encoding; RTSP interleaved frames ('$' ch len data) from the
 * client (RTCP receiver reports) are skipped.
 */
import { concat, latin1 } from "./bytes.js";

export interface Request {
  method: string;
  url: string;
  version: string;
  headers: Record<string, string>;
  body: Uint8Array;
}

const MAX_HEADER = 16384;
const MAX_BODY = 8 * 1024 * 1024;

export class RequestReader {
  private buf: Uint8Array = new Uint8Array(0);
  /** Called for bodies in pieces when the request streams (chunked / no length). */
  constructor(private onRequest: (r: Request) => void, private onError: (msg: string) => void) {}

  push(data: Uint8Array): void {
    this.buf = concat(this.buf, data);
    for (let guard = 0; guard < 10000; guard++) {
      if (this.buf.length === 0) return;
      if (this.buf[0] === 0x24) {
        if (this.buf.length < 4) return;
        const len = (this.buf[2] << 8) | this.buf[3];
        if (this.buf.length < 4 + len) return;
        this.buf = this.buf.subarray(4 + len);
        continue;
      }
      const end = findCrlfCrlf(this.buf);
      if (end < 0) {
        if (this.buf.length > MAX_HEADER) this.onError("header too large");
        return;
      }
      const lines = latin1(this.buf, 0, end).split("\r\n");
      const [method, url, version] = lines[0].split(" ");
      const headers: Record<string, string> = {};
      for (const l of lines.slice(1)) {
        const c = l.indexOf(":");
        if (c > 0) headers[l.slice(0, c).trim().toLowerCase()] = l.slice(c + 1).trim();
      }
      const rest = this.buf.subarray(end + 4);
      let body: Uint8Array;
      let used: number;
      if ((headers["transfer-encoding"] ?? "").toLowerCase() === "chunked") {
        const r = dechunk(rest);
        if (!r) return; // wait for more
        if (r.body.length > MAX_BODY) return this.onError("body too large");
        body = r.body;
        used = r.used;
      } else {
        const len = Number(headers["content-length"] ?? "0");
        if (!(len >= 0) || len > MAX_BODY) return this.onError("bad content-length");
        if (rest.length < len) return;
        body = rest.subarray(0, len);
        used = len;
      }
      this.buf = rest.subarray(used);
      this.onRequest({ method, url, version: version ?? "", headers, body });
    }
  }
}

function findCrlfCrlf(b: Uint8Array): number {
  for (let i = 0; i + 3 < b.length; i++) {
    if (b[i] === 13 && b[i + 1] === 10 && b[i + 2] === 13 && b[i + 3] === 10) return i;
  }
  return -1;
}

/** Decode a complete chunked body; null when more bytes are needed. */
function dechunk(b: Uint8Array): { body: Uint8Array; used: number } | null {
  const parts: Uint8Array[] = [];
  let off = 0;
  for (let guard = 0; guard < 100000; guard++) {
    let eol = -1;
    for (let i = off; i + 1 < b.length; i++) if (b[i] === 13 && b[i + 1] === 10) { eol = i; break; }
    if (eol < 0) return null;
    const size = parseInt(latin1(b, off, eol).split(";")[0], 16);
    if (!(size >= 0)) return { body: new Uint8Array(0), used: b.length };
    if (size === 0) {
      // last-chunk, then (no trailers) CRLF
      if (b.length < eol + 4) return null;
      let total = 0;
      for (const p of parts) total += p.length;
      const body = new Uint8Array(total);
      let o = 0;
      for (const p of parts) { body.set(p, o); o += p.length; }
      return { body, used: eol + 4 };
    }
    if (b.length < eol + 2 + size + 2) return null;
    parts.push(b.subarray(eol + 2, eol + 2 + size));
    off = eol + 2 + size + 2;
  }
  return null;
}
