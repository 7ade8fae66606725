import { createHash, createHmac } from "node:crypto";
import { describe, expect, it } from "vitest";
import { toBase64, utf8Decode, utf8Encode } from "../../src/protocol/bytes";
import { decodeControl } from "../../src/protocol/control";
import {
  FrameDecoder, FrameType, HEADER_SIZE, MAX_CONTROL_PAYLOAD, MAX_PAYLOAD, ProtocolError, encodeFrame, writeU32,
} from "../../src/protocol/frame";
import { hmacSha256, sha256 } from "../../src/protocol/sha256";
import { rng } from "./memsock";

function header(version: number, type: number, stream: number, length: number, flags = 0): Uint8Array {
  const h = new Uint8Array(HEADER_SIZE);
  h[0] = version;
  h[1] = type;
  h[3] = flags;
  writeU32(h, 4, stream);
  writeU32(h, 8, length);
  return h;
}

function expectProtocolError(bytes: Uint8Array, code: string, text: RegExp) {
  try {
    new FrameDecoder().push(bytes);
  } catch (e) {
    expect(e).toBeInstanceOf(ProtocolError);
    expect((e as ProtocolError).code).toBe(code);
    expect((e as Error).message).toMatch(text);
    return;
  }
  throw new Error("expected a ProtocolError");
}

describe("frame codec", () => {
  it("round-trips frames split at every byte boundary", () => {
    const frames = [
      encodeFrame(FrameType.HELLO, 0, utf8Encode('{"proto":1,"agent":"x"}')),
      encodeFrame(FrameType.DATA, 7, new Uint8Array(1000).fill(0xab)),
      encodeFrame(FrameType.FIN, 7),
      encodeFrame(FrameType.PING, 0, new Uint8Array(8)),
    ];
    const all = new Uint8Array(frames.reduce((n, f) => n + f.length, 0));
    let o = 0;
    for (const f of frames) {
      all.set(f, o);
      o += f.length;
    }
    for (let split = 1; split < all.length; split += 37) {
      const d = new FrameDecoder();
      const got = [...d.push(all.subarray(0, split)), ...d.push(all.subarray(split))];
      expect(got.map((f) => [f.type, f.stream, f.payload.length])).toEqual([
        [FrameType.HELLO, 0, 23], [FrameType.DATA, 7, 1000], [FrameType.FIN, 7, 0], [FrameType.PING, 0, 8],
      ]);
      expect(d.pending).toBe(0);
    }
  });

  it("a payload that is most of its chunk is a view of it; a small one is copied, so it pins no big chunk", () => {
    // A frame that fills one TLS record (as the agents send DATA): no copy.
    const record = encodeFrame(FrameType.DATA, 3, new Uint8Array(16 * 1024 - HEADER_SIZE).fill(7));
    const [big] = new FrameDecoder().push(record);
    expect(big.payload.buffer).toBe(record.buffer);
    expect(big.payload.length).toBe(16 * 1024 - HEADER_SIZE);
    // A WINDOW behind a big DATA in one chunk: its 4 bytes are copied out of the 16 KiB chunk.
    const both = new Uint8Array(record.length + HEADER_SIZE + 4);
    both.set(record);
    both.set(encodeFrame(FrameType.WINDOW, 3, new Uint8Array([0, 0, 1, 0])), record.length);
    const [d, w] = new FrameDecoder().push(both);
    expect(d.payload.buffer).toBe(both.buffer);
    expect(w.payload.buffer).not.toBe(both.buffer);
    expect([...w.payload]).toEqual([0, 0, 1, 0]);
    // A frame split over two chunks is gathered into a copy of its own.
    const dec = new FrameDecoder();
    expect(dec.push(record.subarray(0, 5000))).toEqual([]);
    const [joined] = dec.push(record.slice(5000));
    expect(joined.payload.buffer.byteLength).toBe(16 * 1024 - HEADER_SIZE);
    expect(joined.payload.every((x) => x === 7)).toBe(true);
  });

  it("rejects unknown versions and types, flags, oversize and wrong stream ids with clear errors", () => {
    expectProtocolError(header(2, FrameType.PING, 0, 8), "version", /unsupported protocol version 2/);
    expectProtocolError(header(1, 0x42, 0, 0), "type", /unknown frame type 0x42/);
    expectProtocolError(header(1, FrameType.PING, 0, 8, 1), "flags", /reserved flags/);
    expectProtocolError(header(1, FrameType.DATA, 1, MAX_PAYLOAD + 1), "size", /exceeds 65536/);
    expectProtocolError(header(1, FrameType.HELLO, 0, MAX_CONTROL_PAYLOAD + 1), "size", /control payload/);
    expectProtocolError(header(1, FrameType.DATA, 0, 1), "stream", /DATA on stream 0/);
    expectProtocolError(header(1, FrameType.HELLO, 5, 1), "stream", /HELLO on stream 5/);
    expect(() => encodeFrame(FrameType.DATA, 1, new Uint8Array(MAX_PAYLOAD + 1))).toThrow(/payload/);
  });

  it("validates control messages field by field", () => {
    const enc = (o: unknown) => utf8Encode(JSON.stringify(o));
    expect(decodeControl(FrameType.RETRY_AFTER, enc({ ms: 500 }))).toEqual({ ms: 500 });
    expect(() => decodeControl(FrameType.RETRY_AFTER, enc({ ms: -1 }))).toThrow(/bad field "ms"/);
    expect(() => decodeControl(FrameType.AUTH, enc({ device_id: "a", cnonce: "zz", mac: "00" }))).toThrow(/bad field "cnonce"/);
    expect(() => decodeControl(FrameType.OPEN, utf8Encode("{not json"))).toThrow(/not valid UTF-8 JSON/);
    expect(() => decodeControl(FrameType.OPEN, new Uint8Array([0xff, 0xfe]))).toThrow(ProtocolError);
    expect(() => decodeControl(FrameType.MOVE, enc([1]))).toThrow(/not an object/);
  });
});

describe("portable crypto and bytes", () => {
  it("sha256 and hmac match node:crypto", () => {
    const r = rng(1);
    for (const len of [0, 1, 55, 56, 63, 64, 65, 119, 1000]) {
      const data = Uint8Array.from({ length: len }, () => Math.floor(r() * 256));
      const key = Uint8Array.from({ length: (len % 100) + 1 }, () => Math.floor(r() * 256));
      expect(Buffer.from(sha256(data)).toString("hex")).toBe(createHash("sha256").update(data).digest("hex"));
      expect(Buffer.from(hmacSha256(key, data)).toString("hex")).toBe(createHmac("sha256", key).update(data).digest("hex"));
    }
    const long = new Uint8Array(100).fill(7);
    expect(Buffer.from(hmacSha256(long, long)).toString("hex")).toBe(createHmac("sha256", long).update(long).digest("hex"));
  });

  it("utf8 and base64 match Node's", () => {
    for (const s of ["", "abc", "héllo", "камера", "😀 ok", "\u0000\u07ff\uffff"]) {
      expect(Buffer.from(utf8Encode(s)).equals(Buffer.from(s, "utf8"))).toBe(true);
      expect(utf8Decode(utf8Encode(s))).toBe(s);
      expect(toBase64(utf8Encode(s))).toBe(Buffer.from(s).toString("base64"));
    }
    expect(() => utf8Decode(new Uint8Array([0xc0, 0x80]))).toThrow(/UTF-8/);
    expect(() => utf8Decode(new Uint8Array([0xed, 0xa0, 0x80]))).toThrow(/UTF-8/);
  });
});
