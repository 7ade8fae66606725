// Many connections that never finish anything, against one listener: idle ones (connect, send
// nothing) and slowloris ones (a request or ClientHello trickled a byte at a time, never complete).
// Records when the server closed each one, so a test can check that its timeouts really apply.
//
//   const f = await openFlood({ port, count: 2000, slowloris: SLOW.rtsp, intervalMs: 1000 });
//   …
//   f.summary()  // { opened, refused, closedByServer, open, closeAfterMs: { max, p50 } }
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
  /** ms after open when the server closed it (EOF or reset); null while open. */
  closedAfter: number | null;
  refused: boolean;
}

export interface FloodSummary {
  opened: number;
  /** Connect failed, or closed by the server within refusedWithinMs of opening (a limit, not a timeout). */
  refused: number;
  closedByServer: number;
  open: number;
  /** Per kind: closed by the server (not refused), the longest it took, and the oldest still open. */
  idle: { closed: number; maxCloseMs: number; maxOpenMs: number };
  slow: { closed: number; maxCloseMs: number; maxOpenMs: number };
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
  const connectOne = (slow: boolean) =>
    new Promise<void>((resolve) => {
      const sock = net.connect({ port: o.port, host: "127.0.0.1", localAddress: o.localAddress });
      const c: Conn = { sock, slow, openedAt: Date.now(), sent: 0, closedAfter: null, refused: false };
      conns.push(c);
      const serverClosed = () => {
        if (stopped || c.closedAfter !== null) return;
        c.closedAfter = Date.now() - c.openedAt;
        if (c.closedAfter < (o.refusedWithinMs ?? 500)) c.refused = true;
        sock.destroy();
        // Refused ones are not replaced at once: that would spin against a limit.
        if (o.refill && !c.refused) void connectOne(slow);
      };
      sock.on("connect", () => {
        c.openedAt = Date.now();
        resolve();
      });
      sock.on("data", () => {}); // whatever the server says (400, RETRY_AFTER), keep reading
      sock.on("end", serverClosed);
      sock.on("error", () => {
        if (sock.connecting) c.refused = true;
        serverClosed();
        resolve();
      });
      sock.on("close", serverClosed);
    });
  const batch = o.batch ?? 200;
  for (let i = 0; i < o.count; i += batch) {
    await Promise.all(Array.from({ length: Math.min(batch, o.count - i) }, (_, k) => connectOne(!!o.slowloris && (i + k) % 2 === 1)));
  }
  // One timer for all slowloris sockets: a byte each per interval.
  const timer = o.slowloris
    ? setInterval(() => {
        for (const c of conns) {
          if (c.slow && c.closedAfter === null && !c.sock.destroyed && c.sent < o.slowloris!.length) {
            c.sock.write(o.slowloris!.subarray(c.sent, c.sent + 1));
            c.sent++;
          }
        }
      }, o.intervalMs ?? 1000)
    : null;
  const summary = (): FloodSummary => {
    const part = (slow: boolean) => {
      const closed = conns.filter((c) => c.slow === slow && !c.refused && c.closedAfter !== null);
      const open = conns.filter((c) => c.slow === slow && c.closedAfter === null);
      const now = Date.now();
      return {
        closed: closed.length,
        maxCloseMs: closed.reduce((m, c) => Math.max(m, c.closedAfter!), 0),
        maxOpenMs: open.reduce((m, c) => Math.max(m, now - c.openedAt), 0),
      };
    };
    return {
      opened: conns.length,
      refused: conns.filter((c) => c.refused).length,
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
