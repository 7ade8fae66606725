// The RTSP parser the gateway trusts to see a message exactly as the next hop will: CRLF only,
// bounded head, header count and body, strict Content-Length and start lines.
import { describe, expect, it } from "vitest";
import { MAX_BODY, MAX_HEAD, MAX_HEADERS, RtspError, RtspParser, getHeader, type RtspItem, type RtspMessage } from "../../src/server/util/rtsp";

const b = (s: string) => Buffer.from(s, "latin1");
const OPTIONS = "OPTIONS rtsp://h/cam-1/stream1 RTSP/1.0\r\nCSeq: 1\r\n\r\n";

function parseAll(text: string | Buffer, from: "viewer" | "camera" = "viewer"): RtspItem[] {
  return new RtspParser(from).push(typeof text === "string" ? b(text) : text);
}
function rejects(text: string | Buffer, why: RegExp, from: "viewer" | "camera" = "viewer"): void {
  expect(() => parseAll(text, from)).toThrow(RtspError);
  expect(() => parseAll(text, from)).toThrow(why);
}

describe("RtspParser", () => {
  it("parses a request, its headers and body", () => {
    const items = parseAll("SET_PARAMETER rtsp://h/cam-1 RTSP/1.0\r\nCSeq: 7\r\nContent-Length: 5\r\nX-A:\tv \r\n\r\nhello");
    expect(items).toHaveLength(1);
    const m = items[0] as RtspMessage;
    expect(m.startLine).toBe("SET_PARAMETER rtsp://h/cam-1 RTSP/1.0");
    expect(getHeader(m.headers, "cseq")).toBe("7");
    expect(getHeader(m.headers, "x-a")).toBe("v");
    expect(m.body.toString()).toBe("hello");
  });

  it("the same items whether bytes come at once or one by one; pending while incomplete", () => {
    const wire = b(OPTIONS + "$\x01\x00\x03abc" + "DESCRIBE rtsp://h/cam-1 RTSP/1.0\r\nCSeq: 2\r\nContent-Length: 2\r\n\r\nok");
    const whole = parseAll(wire);
    const p = new RtspParser();
    const bytewise: RtspItem[] = [];
    for (let i = 0; i < wire.length; i++) {
      bytewise.push(...p.push(wire.subarray(i, i + 1)));
      expect(p.pending).toBe(i < wire.length - 1 && ![OPTIONS.length - 1, OPTIONS.length + 6].includes(i));
    }
    expect(bytewise.map((x) => (x.kind === "interleaved" ? x.raw.toString("latin1") : x.startLine)))
      .toEqual(whole.map((x) => (x.kind === "interleaved" ? x.raw.toString("latin1") : x.startLine)));
    expect(whole.map((x) => x.kind)).toEqual(["message", "interleaved", "message"]);
  });

  it("a packet split across chunks is completed from the next one; the packets after it stay views of that chunk", () => {
    const pkt = (ch: number, fill: number, n: number) => Buffer.concat([Buffer.from([0x24, ch, n >> 8, n & 255]), Buffer.alloc(n, fill)]);
    const wire = Buffer.concat([pkt(0, 1, 1400), pkt(0, 2, 1400), pkt(1, 3, 60), pkt(0, 4, 1400)]);
    const p = new RtspParser("camera");
    const first = p.push(wire.subarray(0, 2000)); // the second packet is cut after 596 of its bytes
    expect(first.length).toBe(1);
    const second = wire.slice(2000); // a chunk of its own
    const rest = p.push(second);
    expect(rest.map((x) => x.kind === "interleaved" && [x.raw[1], x.raw[4], x.raw.length])).toEqual([[0, 2, 1404], [1, 3, 64], [0, 4, 1404]]);
    expect(Buffer.concat([...first, ...rest].map((x) => (x as { raw: Buffer }).raw)).equals(wire)).toBe(true);
    // Not re-copied behind the leftover: the later packets share the chunk's memory.
    expect(rest.slice(1).map((x) => (x as { raw: Buffer }).raw.buffer === second.buffer)).toEqual([true, true]);
    expect(p.pending).toBe(false);
  });

  it("a bare LF or CR anywhere in the head is an error, not a line break", () => {
    // The smuggling case: one CSeq line to a lenient parser would be an Authorization header to the camera.
    rejects("OPTIONS rtsp://h/cam-1 RTSP/1.0\r\nCSeq: 1\nAuthorization: Basic eDp5\r\n\r\n", /bare LF/);
    rejects("OPTIONS rtsp://h/cam-1 RTSP/1.0\nCSeq: 1\r\n\r\n", /bare LF/);
    rejects("OPTIONS rtsp://h/cam-1 RTSP/1.0\r\nCSeq: 1\rX-Y: 2\r\n\r\n", /bare CR/);
    rejects("OPTIONS rtsp://h/cam-1 RTSP/1.0\n\n", /bare LF/);
    // Early: no need to wait for a blank line that a LF-only client never sends.
    expect(() => new RtspParser().push(b("OPTIONS rtsp://h/cam-1 RTSP/1.0\nCSeq"))).toThrow(/bare LF/);
  });

  it("controls in values, folded lines and malformed names are errors", () => {
    rejects("OPTIONS rtsp://h/c RTSP/1.0\r\nCSeq: 1\x00\r\n\r\n", /control character/);
    rejects("OPTIONS rtsp://h/c RTSP/1.0\r\nCSeq: 1\r\n continued\r\n\r\n", /malformed RTSP header/);
    rejects("OPTIONS rtsp://h/c RTSP/1.0\r\nCSeq : 1\r\n\r\n", /malformed RTSP header/);
    rejects("OPTIONS rtsp://h/c RTSP/1.0\r\nno colon\r\n\r\n", /malformed RTSP header/);
    rejects("OPTIONS rtsp://h/c RTSP/1.0\r\n: 1\r\n\r\n", /malformed RTSP header/);
  });

  it("bounds the head and the header count", () => {
    const many = Array.from({ length: MAX_HEADERS + 1 }, (_, i) => `X-${i}: ${i}\r\n`).join("");
    rejects(`OPTIONS rtsp://h/c RTSP/1.0\r\n${many}\r\n`, /more than 64 RTSP headers/);
    const justEnough = Array.from({ length: MAX_HEADERS }, (_, i) => `X-${i}: ${i}\r\n`).join("");
    expect(parseAll(`OPTIONS rtsp://h/c RTSP/1.0\r\n${justEnough}\r\n`)).toHaveLength(1);
    // An endless header line is refused once it passes MAX_HEAD, without waiting for its end.
    const p = new RtspParser();
    p.push(b("OPTIONS rtsp://h/c RTSP/1.0\r\nX: "));
    expect(() => {
      for (let i = 0; i < 100; i++) p.push(Buffer.alloc(1024, 0x61));
    }).toThrow(new RegExp(`larger than ${MAX_HEAD}`));
  });

  it("Content-Length: plain digits, once, at most MAX_BODY", () => {
    for (const v of ["+5", "-1", "0x10", "1e3", "5 5", "", "99999999", " 5a"]) {
      rejects(`ANNOUNCE rtsp://h/c RTSP/1.0\r\nContent-Length: ${v}\r\n\r\n`, /Content-Length/);
    }
    rejects(`ANNOUNCE rtsp://h/c RTSP/1.0\r\nContent-Length: ${MAX_BODY + 1}\r\n\r\n`, /over/);
    rejects("ANNOUNCE rtsp://h/c RTSP/1.0\r\nContent-Length: 1\r\ncontent-length: 1\r\n\r\nxx", /more than one Content-Length/);
    // Surrounding blanks are not part of the value.
    expect((parseAll("ANNOUNCE rtsp://h/c RTSP/1.0\r\nContent-Length:  2 \r\n\r\nab")[0] as RtspMessage).body.toString()).toBe("ab");
  });

  it("start lines: viewers send requests only; cameras may also answer", () => {
    for (const line of ["GET / HTTP/1.1", "OPTIONS rtsp://h/c RTSP/2.0", "OPTIONS  rtsp://h/c RTSP/1.0", "OPTIONS rtsp://h/c", "options rtsp://h/c RTSP/1.0",
      "OPTIONS rtsp://h/\x01c RTSP/1.0", "RTSP/1.0 200 OK", "\x16\x03\x01 hello"]) {
      rejects(`${line}\r\nCSeq: 1\r\n\r\n`, /bad RTSP start line/);
    }
    expect(parseAll("RTSP/1.0 200 OK\r\nCSeq: 1\r\n\r\n", "camera")).toHaveLength(1);
    expect(parseAll("RTSP/1.0 200\r\nCSeq: 1\r\n\r\n", "camera")).toHaveLength(1);
    expect(parseAll("GET_PARAMETER rtsp://h/c RTSP/1.0\r\nCSeq: 1\r\n\r\n", "camera")).toHaveLength(1);
    rejects("RTSP/1.0 2000 OK\r\nCSeq: 1\r\n\r\n", /bad RTSP start line/, "camera");
    rejects("HTTP/1.0 200 OK\r\n\r\n", /bad RTSP start line/, "camera");
  });

  it("a body without Content-Length is not read as one: the next bytes must be a message", () => {
    rejects("ANNOUNCE rtsp://h/c RTSP/1.0\r\nCSeq: 1\r\n\r\nv=0\r\no=- 0 0 IN IP4 0\r\n\r\n", /bad RTSP start line/);
  });

  it("empty lines between messages are skipped, and cost no buffer", () => {
    const p = new RtspParser();
    for (let i = 0; i < 1000; i++) expect(p.push(b("\r\n\r\n"))).toEqual([]);
    expect(p.pending).toBe(false);
    expect(p.push(b(OPTIONS))).toHaveLength(1);
  });
});
