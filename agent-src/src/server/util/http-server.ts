/**
 * Node's HTTP server set up for peers we do not trust (viewer gateway, admin API): request,
 * header and keep-alive timeouts and header limits from the shared limits, an optional
 * ConnectionGuard, malformed requests answered 400 and counted, and a request target that
 * cannot throw.
 */

import * as http from "node:http";
import type * as net from "node:net";
import type { LogLevel } from "../../platform/platform";
import type { ConnectionGuard, Limits } from "../limits";
import type { Metrics } from "../metrics";

/** Header lines a request may carry; Node's own default is 2000. */
export const MAX_REQUEST_HEADERS = 64;

/**
 * The request target as a URL, or null when it is not one we serve: origin-form ("/path?q") is
 * taken as a path even when it starts with "//" (RFC 9112), absolute-form only when it parses.
 * WHATWG URL would read "//x" as a host and throw on "//a%zz"; here nothing throws.
 */
export function requestTarget(raw: string | undefined): URL | null {
  if (!raw) return null;
  try {
    if (raw.startsWith("/")) return new URL(`http://request${raw}`);
    if (/^https?:\/\//i.test(raw)) return new URL(raw);
  } catch {
    // not a URL
  }
  return null;
}

/**
 * An http.Server whose every limit comes from `limits`. Node closes a connection whose headers or
 * body are not complete within httpRequestTimeoutMs (408), and an idle keep-alive one after
 * httpKeepAliveTimeoutMs; its timeout check runs every connectionsCheckingInterval, so that is set
 * to a fraction of the timeout and the bound holds within 25 %.
 */
export function boundedHttpServer(
  limits: Limits, guard: ConnectionGuard | null, log: (l: LogLevel, m: string) => void,
  metrics: Metrics, badRequestCounter: string, onRequest: http.RequestListener,
): http.Server {
  const timeout = limits.httpRequestTimeoutMs;
  const server = http.createServer({
    requestTimeout: timeout,
    headersTimeout: timeout,
    keepAliveTimeout: limits.httpKeepAliveTimeoutMs,
    connectionsCheckingInterval: Math.max(25, Math.min(1000, Math.floor(timeout / 4))),
  }, onRequest);
  server.maxHeadersCount = MAX_REQUEST_HEADERS;
  if (guard) {
    server.on("connection", (sock: net.Socket) => {
      if (!guard.admit(sock)) sock.destroy();
    });
  }
  // Node's request timeout (408) comes here as ERR_HTTP_REQUEST_TIMEOUT; parse errors as HPE_*.
  server.on("clientError", (err: NodeJS.ErrnoException, sock: net.Socket) => {
    const timedOut = err.code === "ERR_HTTP_REQUEST_TIMEOUT";
    if (timedOut) guard?.timedOut();
    else metrics.inc(badRequestCounter);
    log("debug", `HTTP client ${sock.remoteAddress}: ${err.code ?? ""} ${err.message}`);
    // As Node's default handler: answer unless a response has already begun on this socket.
    const msg = (sock as { _httpMessage?: http.ServerResponse })._httpMessage;
    if (sock.writable && !msg?.headersSent) {
      const status = timedOut ? "408 Request Timeout"
        : err.code === "HPE_HEADER_OVERFLOW" ? "431 Request Header Fields Too Large" : "400 Bad Request";
      sock.end(`HTTP/1.1 ${status}\r\nConnection: close\r\nContent-Length: 0\r\n\r\n`);
    }
    sock.destroySoon();
  });
  // An idle keep-alive connection (Node arms its socket timeout with keepAliveTimeout).
  server.on("timeout", (sock: net.Socket) => {
    guard?.timedOut();
    sock.destroy();
  });
  return server;
}
