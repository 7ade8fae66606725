// Many connections that never finish anything, against one listener: idle ones (connect, send
// nothing) and slowloris ones (a request or ClientHello trickled a byte at a time, never complete).
// Records when the server closed each one, so a test can check that its timeouts really apply.
//
//   const f = await openFlood({ port, count: 2000, slowloris: SLOW.rtsp, intervalMs: 1000 });
//   …
//   f.summary()  // { opened, refused, refusedBy, closedByServer, open, idle: {…}, slow: {…} }
//
// At thousands of connections, run it in a child process of its own (flood-proc.ts), so its
// event loop is neither the test's nor shared with what the test measures.
//   f.stop()     // destroys whatever is left
import * as net from "node:net";

/** Payloads that look like the start of a real request on each kind of port, and never end. */
export const SLOW = {
  // A TLS record header announcing a 512-byte handshake message, then a ClientHello's first bytes.
  tls: Buffer.concat([Buffer.from([0x16, 0x03, 0x01, 0x02, 0x00, 0x01, 0x00, 0x01, 0xfc, 0x03, 0x03]), Buffer.alloc(500, 0x42)]),
  rtsp: Buffer.from(`OPTIONS rtsp://127.0.0.1/cam/stream1 RTSP/1.0\r\nCSeq: 1\r\nX-Pad: ${"a".repeat(4000)}`),
  http: Buffer.from(`GET /cam/snapshot.jpg HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Pad: ${"a".repeat(4000)}`),
};

export interface FloodOptions {
  port: number;
  count: number;
  /** Trickled one byte per interval by half the connections; without it all are idle. */
  slowloris?: Buffer;
  intervalMs?: number;
  /** Source address (another loopback address keeps the flood apart from real clients' per-IP counts). */
  localAddress?: string;
  /** Connections opened at once (default 200). */
  batch?: number;
  /** Replace every connection the server closes, so the listener faces `count` of them throughout. */
  refill?: boolean;
  /** A close this soon after connecting counts as a refusal by a limit (default 500 ms). */
  refusedWithinMs?: number;
}

interface Conn {
  sock: net.Socket;
  slow: boolean;
  openedAt: number;
  sent: number;
  /** When the first slowloris byte was written (a request timeout runs from there); null before. */
  firstByteAt: number | null;
  /** ms after open when the server closed it (EOF or reset); null while open. */
  closedAfter: number | null;
  closedAt: number | null;
  refused: boolean;
  /** Why it counts as refused: the connect error's code, or "closed before connect" / "closed within N ms". */
  reason: string | null;
}

export interface FloodSummary {
  opened: number;
  /** Longest a net.connect() call (bind + connect syscalls) blocked, and one chunk of deferred work (closes, reconnects, slowloris writes). */
  connectSyncMaxMs: number;
  chunkMaxMs: number;
  /** Connect failed, or closed by the server within refusedWithinMs of opening (a limit, not a timeout). */
  refused: number;
  /** Refusals by cause and kind, e.g. { "idle ECONNRESET": 3, "slowloris closed after 12 ms": 1 }. */
  refusedBy: Record<string, number>;
  closedByServer: number;
  open: number;
  /** Per kind: closed by the server (not refused), the longest it took, and the oldest still open. */
  idle: FloodKind;
  slow: FloodKind;
}

/** Per kind, ms from connect; for slowloris also from its first byte (where request timeouts start). */
export interface FloodKind {
  closed: number;
  maxCloseMs: number;
  maxOpenMs: number;
  maxCloseAfterFirstByteMs: number;
  maxOpenAfterFirstByteMs: number;
}

export interface Flood {
  summary(): FloodSummary;
  /** Resolves once every connection was closed by the server, or after timeoutMs. */
  waitAllClosed(timeoutMs: number): Promise<boolean>;
  stop(): void;
}

export async function openFlood(o: FloodOptions): Promise<Flood> {
  const conns: Conn[] = [];
  let stopped = false;
  const stats = { connectSyncMaxMs: 0, chunkMaxMs: 0 };
  // Work that costs syscalls runs at most CHUNK jobs per loop turn, with the poll phase (where
  // closes are seen and timed) in between: 2,000 connections timing out together would otherwise
  // hold the loop for seconds, and every close behind them would be read that much late.
  const CHUNK = 50;
  const jobs: (() => void)[] = [];
  let jobHead = 0;
  let scheduled = false;
  const runJobs = () => {
    const t = performance.now();
    const end = Math.min(jobs.length, jobHead + CHUNK);
    while (jobHead < end) jobs[jobHead++]();
    stats.chunkMaxMs = Math.max(stats.chunkMaxMs, performance.now() - t);
    if (jobHead === jobs.length) {
      jobs.length = 0;
      jobHead = 0;
      scheduled = false;
    } else setImmediate(runJobs);
  };
  const later = (job: () => void) => {
    jobs.push(job);
    if (!scheduled) {
      scheduled = true;
      setImmediate(runJobs);
    }
  };
  const connectOne = (slow: boolean) =>
    new Promise<void>((resolve) => {
      const t = performance.now();
      const sock = net.connect({ port: o.port, host: "127.0.0.1", localAddress: o.localAddress });
      stats.connectSyncMaxMs = Math.max(stats.connectSyncMaxMs, performance.now() - t);
      const c: Conn = { sock, slow, openedAt: Date.now(), sent: 0, firstByteAt: null, closedAfter: null, closedAt: null, refused: false, reason: null };
      let connected = false;
      conns.push(c);
      const serverClosed = () => {
        if (stopped || c.closedAfter !== null) return;
        c.closedAt = Date.now();
        c.closedAfter = c.closedAt - c.openedAt;
        if (c.closedAfter < (o.refusedWithinMs ?? 500)) {
          c.refused = true;
          c.reason ??= connected ? `closed after <${[50, 500].find((b) => c.closedAfter! < b) ?? (o.refusedWithinMs ?? 500)} ms` : "closed before connect";
        }
        // The timestamp is taken; the costly part (close, and a new connect: ~1 ms of syscalls
        // and loopback TCP each) waits its turn, so a wave of closes is timed as it arrives,
        // not as late as the replacements opened before it make us read it.
        later(() => {
          sock.destroy();
          // Refused ones are not replaced at once: that would spin against a limit.
          if (o.refill && !c.refused && !stopped) void connectOne(slow);
        });
      };
      sock.on("connect", () => {
        connected = true;
        c.openedAt = Date.now();
        resolve();
      });
      sock.on("data", () => {}); // whatever the server says (400, RETRY_AFTER), keep reading
      sock.on("end", serverClosed);
      sock.on("error", (e: NodeJS.ErrnoException) => {
        if (sock.connecting) {
          c.refused = true;
          c.reason = `connect ${e.code ?? e.message}`;
        } else if (c.closedAfter === null && Date.now() - c.openedAt < (o.refusedWithinMs ?? 500)) {
          c.reason = `${e.code ?? e.message}`;
        }
        serverClosed();
        resolve();
      });
      sock.on("close", serverClosed);
    });
  const batch = o.batch ?? 200;
  for (let i = 0; i < o.count; i += batch) {
    await Promise.all(Array.from({ length: Math.min(batch, o.count - i) }, (_, k) => connectOne(!!o.slowloris && (i + k) % 2 === 1)));
  }
  // One timer for all slowloris sockets: a byte each per interval, written in chunks (above).
  const timer = o.slowloris
    ? setInterval(() => {
        for (const c of conns) {
          if (c.slow && c.closedAfter === null && !c.sock.destroyed && c.sent < o.slowloris!.length) {
            later(() => {
              if (c.closedAfter !== null || c.sock.destroyed) return;
              c.sock.write(o.slowloris!.subarray(c.sent, c.sent + 1));
              c.firstByteAt ??= Date.now();
              c.sent++;
            });
          }
        }
      }, o.intervalMs ?? 1000)
    : null;
  const summary = (): FloodSummary => {
    const part = (slow: boolean) => {
      const closed = conns.filter((c) => c.slow === slow && !c.refused && c.closedAfter !== null);
      const open = conns.filter((c) => c.slow === slow && c.closedAfter === null);
      const now = Date.now();
      const fromFirstByte = (c: Conn, t: number) => t - (c.firstByteAt ?? c.openedAt);
      return {
        closed: closed.length,
        maxCloseMs: closed.reduce((m, c) => Math.max(m, c.closedAfter!), 0),
        maxOpenMs: open.reduce((m, c) => Math.max(m, now - c.openedAt), 0),
        maxCloseAfterFirstByteMs: closed.reduce((m, c) => Math.max(m, fromFirstByte(c, c.closedAt!)), 0),
        maxOpenAfterFirstByteMs: open.reduce((m, c) => Math.max(m, fromFirstByte(c, now)), 0),
      };
    };
    const refusedBy: Record<string, number> = {};
    for (const c of conns) {
      if (!c.refused) continue;
      const k = `${c.slow ? "slowloris" : "idle"} ${c.reason ?? "?"}`;
      refusedBy[k] = (refusedBy[k] ?? 0) + 1;
    }
    return {
      opened: conns.length,
      connectSyncMaxMs: Math.round(stats.connectSyncMaxMs),
      chunkMaxMs: Math.round(stats.chunkMaxMs),
      refused: conns.filter((c) => c.refused).length,
      refusedBy,
      closedByServer: conns.filter((c) => c.closedAfter !== null).length,
      open: conns.filter((c) => c.closedAfter === null).length,
      idle: part(false),
      slow: part(true),
    };
  };
  return {
    summary,
    waitAllClosed: async (timeoutMs) => {
      const until = Date.now() + timeoutMs;
      while (Date.now() < until) {
        if (conns.every((c) => c.closedAfter !== null)) return true;
        await new Promise((r) => setTimeout(r, 100));
      }
      return false;
    },
    stop: () => {
      stopped = true;
      if (timer) clearInterval(timer);
      for (const c of conns) c.sock.destroy();
    },
  };
}
