// Seeded mutations of text-protocol messages (HTTP and RTSP requests, camera responses) for the
// server fuzz suite. Every mutation is named in `ops`, so a failing case says what was done to it,
// and the same seed replays it. Sizes are bounded: the biggest message this makes is ~300 KiB.
//
//   const r = rng(seed);
//   const m = mutate(r, Buffer.from("DESCRIBE rtsp://h/x RTSP/1.0\r\nCSeq: 2\r\n\r\n"), "rtsp");
//   sock.write(m.bytes); log(m.ops);
export type Rand = () => number;
export type Proto = "http" | "rtsp";

export interface Mutated {
  bytes: Buffer;
  /** What was done, in order, e.g. ["bare-lf", "content-length=-1"]. */
  ops: string[];
}

/** Tokens parsers trip over: URL syntax, escapes, separators, signs, huge numbers, line ends. */
const DICT = [
  "//", "/", "%", "%zz", "%00", "%2f", "[", "]", "http://[", "rtsp://[", "@", ":", "?", "#", "..", "/../",
  "\r\n", "\n", "\r", "\0", " ", "\t", "$", "-1", "-6", "0x10", "99999999999999999999", "1e9", "NaN",
  "chunked", "\u00ff\u00fe", ";", ",", '"', "=", "*", "\r\n\r\n", "rtsp://127.0.0.1:1/", "token=",
];
const CONTENT_LENGTHS = ["-1", "0", "1", "65536", "99999999999", "1e20", "abc", " 5", "5, 6", "0x10", "", "+3", "4294967296"];
const CHUNKS = ["-6", "-1", "fffffffffffffff", "0x10", "1 ; x", "g", "", "7fffffff", "10000000", "+5"];
const TRANSPORTS = [
  "RTP/AVP;unicast;client_port=5000-5001", "RTP/AVP/UDP;unicast;client_port=0-1", "RTP/AVP;multicast",
  "RTP/AVP;unicast;client_port=65535-65536", "RTP/AVP/TCP;unicast;interleaved=254-255",
  "RTP/AVP/TCP;unicast;interleaved=-1", "RTP/AVP/TCP;interleaved=0-1,RTP/AVP;unicast;client_port=1-2", "",
];
const METHODS = ["GET", "POST", "PUT", "DELETE", "OPTIONS", "DESCRIBE", "SETUP", "PLAY", "PAUSE", "TEARDOWN",
  "GET_PARAMETER", "SET_PARAMETER", "RECORD", "ANNOUNCE", "CONNECT", "TRACE", "G\0T", ""];

const int = (r: Rand, n: number) => Math.floor(r() * n);
const pick = <T>(r: Rand, xs: readonly T[]): T => xs[int(r, xs.length)];

/** End of the head (index of the blank line's CRLFCRLF), or the whole buffer. */
function headEnd(b: Buffer): number {
  const i = b.indexOf("\r\n\r\n");
  return i < 0 ? b.length : i;
}

/** Replaces (or adds) a header in the head of a message; latin1 in and out. */
function withHeader(b: Buffer, name: string, value: string | null): Buffer {
  const end = headEnd(b);
  const lines = b.subarray(0, end).toString("latin1").split("\r\n");
  const i = lines.findIndex((l, k) => k > 0 && l.toLowerCase().startsWith(name.toLowerCase() + ":"));
  if (value === null) {
    if (i > 0) lines.splice(i, 1);
  } else if (i > 0) lines[i] = `${name}: ${value}`;
  else lines.push(`${name}: ${value}`);
  return Buffer.concat([Buffer.from(lines.join("\r\n"), "latin1"), b.subarray(end)]);
}

type Op = (r: Rand, b: Buffer, proto: Proto) => [Buffer, string];

/** A position biased towards the start line, where method and URL live. */
function position(r: Rand, b: Buffer): number {
  const firstLine = Math.max(1, b.indexOf("\r\n"));
  return r() < 0.5 ? int(r, firstLine + 1) : int(r, b.length + 1);
}

const OPS: Op[] = [
  (r, b) => {
    if (!b.length) return [b, "flip(empty)"];
    const c = Buffer.from(b);
    const i = int(r, c.length);
    c[i] ^= 1 << int(r, 8);
    return [c, `flip@${i}`];
  },
  (r, b) => {
    if (!b.length) return [b, "byte(empty)"];
    const c = Buffer.from(b);
    const i = int(r, c.length);
    c[i] = int(r, 256);
    return [c, `byte@${i}=${c[i]}`];
  },
  (r, b) => {
    const i = position(r, b);
    const t = pick(r, DICT);
    return [Buffer.concat([b.subarray(0, i), Buffer.from(t, "latin1"), b.subarray(i)]), `insert@${i}=${JSON.stringify(t)}`];
  },
  (r, b) => {
    // Replace one word of the start line (method, URL, version) with a token or a mangled URL.
    const end = Math.max(0, b.indexOf("\r\n"));
    const words = b.subarray(0, end).toString("latin1").split(" ");
    const k = int(r, words.length);
    const t = k === 0 && r() < 0.5 ? pick(r, METHODS) : r() < 0.5 ? pick(r, DICT) : words[k].replace(/\/[^/]*$/, pick(r, DICT));
    words[k] = t;
    return [Buffer.concat([Buffer.from(words.join(" "), "latin1"), b.subarray(end)]), `word${k}=${JSON.stringify(t)}`];
  },
  (r, b) => {
    const i = int(r, b.length + 1);
    return [b.subarray(0, i), `truncate@${i}`];
  },
  (r, b) => {
    const all = r() < 0.5;
    const s = b.toString("latin1");
    return [Buffer.from(all ? s.replace(/\r\n/g, "\n") : s.replace("\r\n", "\n"), "latin1"), all ? "bare-lf(all)" : "bare-lf(first)"];
  },
  (r, b) => {
    // A header hidden behind a bare LF: what a smuggler sends.
    const end = headEnd(b);
    return [Buffer.concat([b.subarray(0, end), Buffer.from("\nX-Smuggled: 1\nAuthorization: Basic eDp5", "latin1"), b.subarray(end)]), "smuggle-lf"];
  },
  (r, b) => {
    const n = 1024 * (1 + int(r, r() < 0.2 ? 256 : 16));
    return [withHeader(b, `X-Huge${int(r, 10)}`, "a".repeat(n)), `huge-header=${n}`];
  },
  (r, b) => {
    const n = 50 + int(r, 2000);
    const end = headEnd(b);
    const extra = Array.from({ length: n }, (_, i) => `\r\nX-${i}: ${i}`).join("");
    return [Buffer.concat([b.subarray(0, end), Buffer.from(extra, "latin1"), b.subarray(end)]), `many-headers=${n}`];
  },
  (r, b) => {
    const v = pick(r, CONTENT_LENGTHS);
    return [withHeader(b, "Content-Length", v), `content-length=${JSON.stringify(v)}`];
  },
  (r, b) => {
    const end = headEnd(b);
    const line = b.subarray(0, end).toString("latin1").split("\r\n");
    if (line.length < 2) return [b, "dup-header(none)"];
    const k = 1 + int(r, line.length - 1);
    line.splice(k, 0, line[k]);
    return [Buffer.concat([Buffer.from(line.join("\r\n"), "latin1"), b.subarray(end)]), `dup-header=${line[k].split(":")[0]}`];
  },
  (r, b) => [withHeader(b, "Transfer-Encoding", r() < 0.7 ? "chunked" : "chunked, gzip"), "transfer-encoding"],
  (r, b) => {
    const n = 2 + int(r, 20);
    return [Buffer.concat(Array.from({ length: n }, () => b)), `repeat=${n}`];
  },
  (r) => {
    const n = int(r, 2048);
    return [Buffer.from(Array.from({ length: n }, () => int(r, 256))), `noise=${n}`];
  },
  (r, b) => {
    const end = headEnd(b);
    return [b.subarray(0, end + (end < b.length ? 2 : 0)), "no-blank-line"];
  },
  (r, b, proto) => {
    if (proto !== "rtsp") return [withHeader(b, "Expect", "100-continue"), "expect-100"];
    // An interleaved frame before, inside or instead of the message; its length may lie.
    const len = r() < 0.3 ? 0xffff : int(r, 300);
    const body = Buffer.alloc(Math.min(len, int(r, 400)));
    const frame = Buffer.concat([Buffer.from([0x24, int(r, 256), len >> 8, len & 0xff]), body]);
    const i = r() < 0.5 ? 0 : int(r, b.length + 1);
    return [Buffer.concat([b.subarray(0, i), frame, b.subarray(i)]), `interleaved@${i}(ch ${frame[1]}, len ${len}, sent ${body.length})`];
  },
  (r, b, proto) => {
    if (proto !== "rtsp") return [withHeader(b, "Host", pick(r, DICT)), "host"];
    const t = pick(r, TRANSPORTS);
    return [withHeader(b, "Transport", t), `transport=${JSON.stringify(t)}`];
  },
  (r, b, proto) => {
    if (proto !== "rtsp") return [withHeader(b, "Connection", r() < 0.5 ? "keep-alive" : "upgrade"), "connection"];
    const v = pick(r, ["0", "-1", "999999999999", "abc", "1 2", ""]);
    return [withHeader(b, "CSeq", v), `cseq=${JSON.stringify(v)}`];
  },
  (r, b) => {
    const v = pick(r, ["Digest ", "Digest username=", 'Digest username="viewer", uri="rtsp://[", response="x"', "Basic ", "Basic !!!",
      "Basic " + Buffer.from("viewer").toString("base64"), "Bearer x", "Digest " + "a=b,".repeat(2000)]);
    return [withHeader(b, "Authorization", v), `authorization=${JSON.stringify(v.slice(0, 40))}`];
  },
];

/** Applies 1–3 random mutations. */
export function mutate(r: Rand, msg: Buffer, proto: Proto): Mutated {
  let b = msg;
  const ops: string[] = [];
  for (let n = 1 + int(r, 3); n > 0; n--) {
    const [next, what] = OPS[int(r, OPS.length)](r, b, proto);
    b = next;
    ops.push(what);
  }
  return { bytes: b, ops };
}

/** A chunked HTTP body whose framing lies in one of the ways that broke parsers. */
export function badChunkedBody(r: Rand, body: Buffer): { bytes: Buffer; what: string } {
  const size = pick(r, CHUNKS);
  const cut = int(r, body.length + 1);
  const parts = [Buffer.from(`${cut.toString(16)}\r\n`), body.subarray(0, cut), Buffer.from(`\r\n${size}\r\n`), body.subarray(cut)];
  if (r() < 0.5) parts.push(Buffer.from("\r\n0\r\n\r\n"));
  return { bytes: Buffer.concat(parts), what: `chunk-size=${JSON.stringify(size)}` };
}

/** Short printable form of bytes for failure messages. */
export function show(b: Buffer, max = 300): string {
  return JSON.stringify(b.subarray(0, max).toString("latin1")) + (b.length > max ? `…(${b.length} bytes)` : "");
}
