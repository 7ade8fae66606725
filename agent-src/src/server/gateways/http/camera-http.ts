/**
 * One HTTP exchange with a camera's "http" target through a tunnel stream (snapshot, audio).
 *
 * The camera is not trusted: a broken or hostile one must cost us a 502, never the process. Its
 * answer is read by Node's own HTTP client parser (llhttp: CRLF only, chunk sizes plain hex and
 * overflow-checked, Content-Length and Transfer-Encoding never together, header bytes bounded),
 * the body is bounded in size, the whole exchange in time, and only a body that arrived complete
 * is returned: an answer cut off by the size bound, a reset or the camera closing early is an
 * error, so a viewer is never sent a short 200.
 */

import * as http from "node:http";
import { Duplex, type Readable } from "node:stream";
import type { Stream } from "../../../protocol/stream";
import type { Limits } from "../../limits";
import type { Registry } from "../../link/registry";

/** Header bytes a camera may send (llhttp answers HPE_HEADER_OVERFLOW beyond). */
export const CAMERA_MAX_HEADER_BYTES = 16 * 1024;
/** Header lines a camera may send; a real one sends about ten. */
export const CAMERA_MAX_HEADERS = 64;

export interface CameraResponse {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: Buffer;
}

/** The camera's answer was malformed, too large, too slow or incomplete: the viewer gets 502. */
export class CameraError extends Error {}

export interface CameraExchange {
  method: string;
  path: string;
  /** Host header: the camera-side address the agent connects to. */
  host: string;
  headers?: Record<string, string>;
  /** Request body to stream up (the viewer's upload); its Content-Length must be in `headers`. */
  body?: Readable | null;
}

/**
 * Sends one request on `conn` and reads the whole answer into memory within the limits. Rejects
 * with CameraError on anything but a complete, well-formed answer; destroys `conn` in that case.
 */
export function cameraExchange(
  conn: Duplex, x: CameraExchange, limits: Pick<Limits, "cameraTimeoutMs" | "cameraResponseMaxBytes">,
): Promise<CameraResponse> {
  const max = limits.cameraResponseMaxBytes;
  return new Promise((resolve, reject) => {
    let settled = false;
    const settle = (err: Error | null, r?: CameraResponse) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      if (err) {
        req.destroy();
        conn.destroy();
        reject(err);
      } else {
        resolve(r!);
      }
    };
    const timer = setTimeout(() => settle(new CameraError(`no complete answer within ${limits.cameraTimeoutMs} ms`)), limits.cameraTimeoutMs);
    const req = http.request({
      method: x.method,
      path: x.path,
      headers: { Host: x.host, Connection: "close", ...x.headers },
      createConnection: () => conn,
      maxHeaderSize: CAMERA_MAX_HEADER_BYTES,
    });
    // One more than allowed, so "too many" is seen rather than silently cut to the limit.
    req.maxHeadersCount = CAMERA_MAX_HEADERS + 1;
    req.on("error", (e: NodeJS.ErrnoException) => settle(new CameraError(`bad answer: ${e.code ? `${e.code} ` : ""}${e.message}`)));
    req.on("response", (res) => {
      if (res.rawHeaders.length / 2 > CAMERA_MAX_HEADERS) return settle(new CameraError(`more than ${CAMERA_MAX_HEADERS} header lines`));
      const declared = res.headers["content-length"];
      if (declared !== undefined && Number(declared) > max) return settle(new CameraError(`answer of ${declared} bytes is over the ${max}-byte limit`));
      const parts: Buffer[] = [];
      let size = 0;
      res.on("data", (d: Buffer) => {
        size += d.length;
        if (size > max) return settle(new CameraError(`answer over the ${max}-byte limit`));
        parts.push(d);
      });
      res.on("end", () => {
        if (!res.complete) return settle(new CameraError(`answer cut off after ${size} body bytes`));
        settle(null, { status: res.statusCode!, headers: res.headers, body: Buffer.concat(parts, size) });
      });
      // 'close' without a complete 'end': reset, or the connection closed mid-body.
      res.on("close", () => settle(new CameraError(`answer cut off after ${size} body bytes`)));
      res.on("error", (e) => settle(new CameraError(`answer: ${e.message}`)));
    });
    if (!x.body) return void req.end();
    const body = x.body;
    body.pipe(req);
    body.on("error", () => settle(new CameraError("the upload failed")));
    body.on("close", () => {
      if (!body.readableEnded) settle(new CameraError("the upload was cut off"));
    });
  });
}

/**
 * A tunnel stream as a Duplex, so Node's HTTP client can run on it. Backpressure both ways: a
 * full send queue holds the writer until onDrain; a full read buffer stops granting credit.
 * The stream's end (FIN) is the Duplex's end; a reset or a lost link is an error, which makes an
 * unfinished answer fail instead of looking complete.
 */
export function streamDuplex(s: Stream): Duplex {
  let waiting: ((e?: Error | null) => void) | null = null;
  let eof = false;
  const d = new Duplex({
    write(chunk: Buffer, _enc, cb) {
      if (s.isClosed) return cb(new Error("tunnel stream closed"));
      if (s.write(new Uint8Array(chunk.buffer, chunk.byteOffset, chunk.length))) cb();
      else waiting = cb;
    },
    final(cb) {
      s.end();
      cb();
    },
    read() {
      s.resume();
    },
    destroy(err, cb) {
      if (!s.isClosed) s.reset("closed", err ? err.message : "");
      cb(err);
    },
  });
  // Errors reach the HTTP client through its own listener while it uses the socket; a reset that
  // arrives after it let go must not become an uncaught 'error' event.
  d.on("error", () => {});
  s.onDrain = () => {
    const cb = waiting;
    waiting = null;
    cb?.();
  };
  s.onData = (data) => {
    if (!d.push(Buffer.from(data))) s.pause();
  };
  s.onEnd = () => {
    if (!eof) d.push(null);
    eof = true;
  };
  s.onClose = (reason) => {
    const cb = waiting;
    waiting = null;
    if (reason) {
      cb?.(new Error(reason));
      d.destroy(new Error(reason));
    } else {
      cb?.();
      if (!eof) d.push(null);
      eof = true;
    }
  };
  return d;
}

/**
 * One request to the device's "http" target: opens a tunnel stream (counted against the viewer's
 * share of the device, see Registry.open; undefined: counted against no viewer, as the snapshot
 * cache's own fetch) and runs cameraExchange on it.
 */
export function cameraRequest(
  registry: Registry, deviceId: string, viewerKey: string | undefined, limits: Limits,
  x: Omit<CameraExchange, "host">,
): Promise<CameraResponse> {
  // Throws DeviceOfflineError / ViewerLimitError before anything is sent.
  const { entry, stream } = registry.open(deviceId, "http", viewerKey);
  const host = entry.link!.hello.targets?.http ?? "127.0.0.1";
  return cameraExchange(streamDuplex(stream), { ...x, host }, limits);
}
