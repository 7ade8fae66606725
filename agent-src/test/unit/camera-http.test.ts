// The camera-answer reader (camera-http.ts) against a table of broken and hostile answers: each must
// be refused with CameraError, quickly, and only complete well-formed answers come back.
import { Duplex } from "node:stream";
import { describe, expect, it } from "vitest";
import { CameraError, cameraExchange } from "../../src/server/gateways/http/camera-http";

const LIMITS = { cameraTimeoutMs: 1000, cameraResponseMaxBytes: 64 * 1024 };

/** A connection to a scripted camera: once the request head is in, it answers `reply` and, if `close`, ends. */
function camera(reply: (string | Buffer)[], close = true): Duplex & { request: () => string } {
  let req = "";
  let answered = false;
  const d = new Duplex({
    read() {},
    write(chunk: Buffer, _e, cb) {
      req += chunk.toString("latin1");
      if (!answered && req.includes("\r\n\r\n")) {
        answered = true;
        for (const r of reply) d.push(typeof r === "string" ? Buffer.from(r, "latin1") : r);
        if (close) d.push(null);
      }
      cb();
    },
  }) as Duplex & { request: () => string };
  d.request = () => req;
  return d;
}

const get = (conn: Duplex, limits = LIMITS) => cameraExchange(conn, { method: "GET", path: "/image.jpg", host: "127.0.0.1:80" }, limits);
const CHUNKED = "HTTP/1.1 200 OK\r\nContent-Type: image/jpeg\r\nTransfer-Encoding: chunked\r\n\r\n";

describe("camera answers that are accepted", () => {
  it.each([
    ["Content-Length", ["HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello"], "hello"],
    ["chunked", [CHUNKED + "5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n"], "hello world"],
    ["chunked with an extension, upper-case hex", [CHUNKED + "B;name=v\r\nhello world\r\n0\r\n\r\n"], "hello world"],
    ["HTTP/1.0 read to close", ["HTTP/1.0 200 OK\r\nContent-Type: image/jpeg\r\n\r\nabc", "def"], "abcdef"],
    ["split at every byte", [..."HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\nxyz"], "xyz"],
    ["exactly the size limit", [`HTTP/1.1 200 OK\r\nContent-Length: ${64 * 1024}\r\n\r\n`, Buffer.alloc(64 * 1024, 7)], "\x07".repeat(64 * 1024)],
  ])("%s", async (_name, reply, body) => {
    const conn = camera(reply);
    const r = await get(conn);
    expect(r.status).toBe(200);
    expect(r.body.toString("latin1")).toBe(body);
    expect(conn.request()).toMatch(/^GET \/image\.jpg HTTP\/1\.1\r\nHost: 127\.0\.0\.1:80\r\nConnection: close\r\n/);
  });

  it("a non-200 status comes back as such (the gateway answers 502 for it)", async () => {
    const r = await get(camera(["HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n"]));
    expect(r.status).toBe(404);
  });
});

describe("camera answers that are refused", () => {
  const big = "f".repeat(40);
  it.each([
    ["chunk size -6 (looped forever before)", [CHUNKED + "-6\r\nxxxxxx\r\n0\r\n\r\n"]],
    ["chunk size +5", [CHUNKED + "+5\r\nhello\r\n0\r\n\r\n"]],
    ["chunk size 0x5", [CHUNKED + "0x5\r\nhello\r\n0\r\n\r\n"]],
    ["chunk size with a space", [CHUNKED + " 5\r\nhello\r\n0\r\n\r\n"]],
    ["chunk size not hex", [CHUNKED + "5g\r\nhello\r\n0\r\n\r\n"]],
    ["chunk size overflowing 64 bits", [CHUNKED + big + "\r\nhello\r\n0\r\n\r\n"]],
    ["chunk over the size limit", [CHUNKED + "10001\r\n", Buffer.alloc(0x10001), "\r\n0\r\n\r\n"]],
    ["chunks adding up over the size limit", [CHUNKED, ...Array.from({ length: 17 }, () => "1000\r\n" + "x".repeat(0x1000) + "\r\n"), "0\r\n\r\n"]],
    ["chunk data without CRLF after it", [CHUNKED + "5\r\nhelloXX0\r\n\r\n"]],
    ["bare LF after a chunk size", [CHUNKED + "5\nhello\r\n0\r\n\r\n"]],
    ["bare LF after the status line", ["HTTP/1.1 200 OK\nContent-Length: 5\r\n\r\nhello"]],
    ["bare LF inside the headers", ["HTTP/1.1 200 OK\r\nX-A: 1\nContent-Length: 5\r\n\r\nhello"]],
    ["no last chunk", [CHUNKED + "5\r\nhello\r\n"]],
    ["cut inside a chunk", [CHUNKED + "a\r\nhello"]],
    ["Content-Length longer than the body", ["HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nhello"]],
    ["Content-Length over the size limit", ["HTTP/1.1 200 OK\r\nContent-Length: 65537\r\n\r\nhello"]],
    ["Content-Length negative", ["HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n"]],
    ["Content-Length twice, different", ["HTTP/1.1 200 OK\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\nabcd"]],
    ["Content-Length and chunked together", ["HTTP/1.1 200 OK\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n"]],
    ["read-to-close body over the size limit (was a truncated 200)", ["HTTP/1.0 200 OK\r\n\r\n", Buffer.alloc(70_000, 1)]],
    ["no header end", ["HTTP/1.1 200 OK\r\nContent-Length: 5\r\n"]],
    ["not HTTP", ["SSH-2.0-OpenSSH_9.0\r\n\r\n"]],
    ["status line without a code", ["HTTP/1.1 OK\r\nContent-Length: 0\r\n\r\n"]],
    ["nothing at all", []],
    ["header bytes over the bound", ["HTTP/1.1 200 OK\r\nX-Big: " + "a".repeat(20_000) + "\r\nContent-Length: 0\r\n\r\n"]],
    ["too many header lines", ["HTTP/1.1 200 OK\r\n" + Array.from({ length: 65 }, (_, i) => `X-${i}: v\r\n`).join("") + "Content-Length: 0\r\n\r\n"]],
  ])("%s", async (_name, reply) => {
    const t0 = Date.now();
    await expect(get(camera(reply as (string | Buffer)[]))).rejects.toBeInstanceOf(CameraError);
    expect(Date.now() - t0).toBeLessThan(500); // refused on sight, not by the timeout
  });

  it("an answer that never completes is refused at cameraTimeoutMs", async () => {
    const t0 = Date.now();
    const conn = camera(["HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nslow"], false);
    await expect(get(conn, { ...LIMITS, cameraTimeoutMs: 300 })).rejects.toThrow(/within 300 ms/);
    expect(Date.now() - t0).toBeGreaterThanOrEqual(290);
    expect(Date.now() - t0).toBeLessThan(1000);
    expect(conn.destroyed).toBe(true);
  });

  it("a connection that fails mid-body is refused, not returned short", async () => {
    const conn = camera(["HTTP/1.0 200 OK\r\n\r\npartial"], false);
    const p = get(conn);
    setTimeout(() => conn.destroy(new Error("reset by peer: target_error")), 50);
    await expect(p).rejects.toBeInstanceOf(CameraError);
  });
});
