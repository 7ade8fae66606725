/**
 * Every limit and timeout a listener applies to its peers, in one place: the server is on the
 * Internet, so each connection gets a bounded life, a bounded share of the process, and a metric
 * when it is refused or cut off. The defaults are the "Limits and timeouts" table of docs/server.md.
 */

import type * as net from "node:net";
import type { Metrics } from "./metrics";

export interface Limits {
  /** Agent ports: from TCP accept until the agent has authenticated (covers no ClientHello, TLS, HELLO/AUTH). */
  handshakeTimeoutMs: number;
  /** Agent ports: connections not yet authenticated, from one IP address. */
  agentPendingPerIp: number;
  /** Agent ports: connections not yet authenticated, in all. */
  agentPendingTotal: number;
  /** Bytes queued to a link peer that does not read; past this the link is cut off. */
  linkWriteBufferBytes: number;
  /**
   * Largest a tunnel stream's receive window grows to when its consumer keeps up (starts at the
   * protocol's 256 KiB): what one stream with a stalled consumer can make the server hold; a
   * link's streams share one such growth. A fixed 256 KiB window ran out of credit ~3000 times a
   * second in a one-stream flood: each stall parks the agent until the streamer's WINDOW comes
   * back, and on shared cores that round trip waits for the scheduler. Growth keeps the pipe full
   * on loopback and behind a long round trip (bench/README.md, "Receive-window auto-tuning").
   */
  streamWindowMaxBytes: number;
  /** Viewer ports (RTSP, HTTP): concurrent connections from one IP address, per listener. */
  viewerConnectionsPerIp: number;
  /** Viewer ports: concurrent connections in all, per listener. */
  viewerConnectionsTotal: number;
  /** RTSP: a request, once its first byte arrived, must be complete within this. */
  rtspRequestTimeoutMs: number;
  /** RTSP: a connection with no request and no stream flowing to the viewer is closed after this. */
  rtspIdleTimeoutMs: number;
  /** HTTP: headers and body of a request must arrive within this. */
  httpRequestTimeoutMs: number;
  /** HTTP: an idle keep-alive connection is closed after this. */
  httpKeepAliveTimeoutMs: number;
  /** Tunnel streams one viewer (account, or address for token viewers) may hold on one device. */
  viewerStreamsPerDevice: number;
  /** A camera's HTTP answer (snapshot, audio) must be complete within this. */
  cameraTimeoutMs: number;
  /** A camera's HTTP answer may be at most this large. */
  cameraResponseMaxBytes: number;
}

export const DEFAULT_LIMITS: Limits = {
  handshakeTimeoutMs: 10_000,
  agentPendingPerIp: 64,
  agentPendingTotal: 4096,
  linkWriteBufferBytes: 4 * 1024 * 1024,
  streamWindowMaxBytes: 4 * 1024 * 1024,
  viewerConnectionsPerIp: 64,
  viewerConnectionsTotal: 4096,
  rtspRequestTimeoutMs: 10_000,
  rtspIdleTimeoutMs: 60_000,
  httpRequestTimeoutMs: 10_000,
  httpKeepAliveTimeoutMs: 5_000,
  viewerStreamsPerDevice: 8,
  cameraTimeoutMs: 15_000,
  cameraResponseMaxBytes: 16 * 1024 * 1024,
};

/** Config key (snake_case, in the "limits" section) → field, with its allowed range. */
export const LIMIT_KEYS: Record<string, [keyof Limits, number, number]> = {
  handshake_timeout_ms: ["handshakeTimeoutMs", 100, 600_000],
  agent_pending_per_ip: ["agentPendingPerIp", 1, 1e6],
  agent_pending_total: ["agentPendingTotal", 1, 1e7],
  link_write_buffer_bytes: ["linkWriteBufferBytes", 64 * 1024, 1024 * 1024 * 1024],
  // From the initial window (never grows) up to 64 MiB; a WINDOW may not take the peer past 2^31-1.
  stream_window_max_bytes: ["streamWindowMaxBytes", 256 * 1024, 64 * 1024 * 1024],
  viewer_connections_per_ip: ["viewerConnectionsPerIp", 1, 1e6],
  viewer_connections_total: ["viewerConnectionsTotal", 1, 1e7],
  rtsp_request_timeout_ms: ["rtspRequestTimeoutMs", 100, 600_000],
  rtsp_idle_timeout_ms: ["rtspIdleTimeoutMs", 100, 3_600_000],
  http_request_timeout_ms: ["httpRequestTimeoutMs", 100, 600_000],
  http_keepalive_timeout_ms: ["httpKeepAliveTimeoutMs", 100, 600_000],
  viewer_streams_per_device: ["viewerStreamsPerDevice", 1, 1024],
  camera_timeout_ms: ["cameraTimeoutMs", 100, 600_000],
  camera_response_max_bytes: ["cameraResponseMaxBytes", 1024, 1024 * 1024 * 1024],
};

/**
 * Counts a listener's open connections, in all and per remote address, and refuses the ones over
 * the limits. Registers flussonic_<name>_connections (gauge) and
 * flussonic_<name>_connections_refused_total / flussonic_<name>_timeouts_total (counters).
 */
export class ConnectionGuard {
  private readonly perIp = new Map<string, number>();
  private total = 0;

  constructor(
    readonly name: string,
    private readonly maxTotal: number,
    private readonly maxPerIp: number,
    private readonly metrics: Metrics,
  ) {
    metrics.gauge(`flussonic_${name}_connections`, `open connections on the ${name} listener`, () => this.total);
    metrics.counter(`flussonic_${name}_connections_refused_total`, `${name} connections refused by the per-address or total limit`);
    metrics.counter(`flussonic_${name}_timeouts_total`, `${name} connections closed by a timeout`);
  }

  /**
   * Admits a connection, or returns null (and counts it) when a limit is reached. An admitted
   * connection is released once: by the returned function (e.g. once an agent has authenticated)
   * or when its socket closes, whichever comes first.
   */
  admit(sock: net.Socket): (() => void) | null {
    const ip = sock.remoteAddress ?? "?";
    const n = this.perIp.get(ip) ?? 0;
    if (this.total >= this.maxTotal || n >= this.maxPerIp) {
      this.metrics.inc(`flussonic_${this.name}_connections_refused_total`);
      return null;
    }
    this.total++;
    this.perIp.set(ip, n + 1);
    let released = false;
    const release = () => {
      if (released) return;
      released = true;
      this.total--;
      const left = (this.perIp.get(ip) ?? 1) - 1;
      if (left > 0) this.perIp.set(ip, left);
      else this.perIp.delete(ip);
    };
    sock.once("close", release);
    return release;
  }

  /** Counts a connection closed for taking too long (the caller closes it). */
  timedOut(): void {
    this.metrics.inc(`flussonic_${this.name}_timeouts_total`);
  }

  get open(): number {
    return this.total;
  }
}
