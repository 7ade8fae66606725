// A raw TCP connection to an RTSP port for tests that send what no real client would: partial heads,
// bare LFs, replayed headers. Reads responses (head + Content-Length body) and reports when the
// server closes the connection.
//
//   const c = await RawRtsp.connect(port);
//   c.send("OPTIONS rtsp://… RTSP/1.0\r\nCSeq: 1\r\n\r\n");
//   const r = await c.response(5000);   // { status, headers, head }
//   await c.closedWithin(3000);         // true if the server closed it in time
import { createHash } from "node:crypto";
import { connect, type Socket } from "node:net";

export interface RawResponse {
  status: number;
  head: string;
  /** Lower-case names; last value wins. */
  headers: Record<string, string>;
  body: string;
}

export class RawRtsp {
  private buf = "";
  private waiters = new Set<() => void>();
  /** Time the server closed the connection (ms since epoch), or null while open. */
  closedAt: number | null = null;
  readonly openedAt = Date.now();

  private constructor(readonly sock: Socket) {
    sock.setEncoding("latin1");
    sock.on("data", (d: string) => {
      this.buf += d;
      this.wake();
    });
    sock.on("error", () => {});
    sock.on("close", () => {
      this.closedAt = Date.now();
      this.wake();
    });
  }

  static connect(port: number): Promise<RawRtsp> {
    return new Promise((resolve, reject) => {
      const s = connect({ host: "127.0.0.1", port }, () => resolve(new RawRtsp(s)));
      s.once("error", reject);
    });
  }

  private wake(): void {
    for (const w of [...this.waiters]) w();
  }

  send(s: string): void {
    if (!this.sock.destroyed) this.sock.write(Buffer.from(s, "latin1"));
  }

  get closed(): boolean {
    return this.closedAt !== null;
  }

  /** Everything received and not yet taken by response(). */
  get unread(): string {
    return this.buf;
  }

  /** The next response; rejects on timeout or if the connection closes first. */
  response(timeoutMs: number): Promise<RawResponse> {
    return this.until(() => {
      const end = this.buf.indexOf("\r\n\r\n");
      if (end < 0) return null;
      const head = this.buf.slice(0, end);
      const headers: Record<string, string> = {};
      for (const l of head.split("\r\n").slice(1)) {
        const i = l.indexOf(":");
        if (i > 0) headers[l.slice(0, i).trim().toLowerCase()] = l.slice(i + 1).trim();
      }
      const len = Number(headers["content-length"] ?? 0);
      if (this.buf.length < end + 4 + len) return null;
      const body = this.buf.slice(end + 4, end + 4 + len);
      this.buf = this.buf.slice(end + 4 + len);
      return { status: Number(/^RTSP\/1\.0 (\d{3})/.exec(head)?.[1] ?? 0), head, headers, body };
    }, timeoutMs, "response");
  }

  /** True once the server has closed the connection, false if still open after timeoutMs. */
  async closedWithin(timeoutMs: number): Promise<boolean> {
    try {
      await this.until(() => (this.closed ? true : null), timeoutMs, "close", true);
      return true;
    } catch {
      return false;
    }
  }

  private until<T>(check: () => T | null, timeoutMs: number, what: string, closeOk = false): Promise<T> {
    return new Promise((resolve, reject) => {
      const done = (f: () => void) => {
        clearTimeout(timer);
        this.waiters.delete(w);
        f();
      };
      const w = () => {
        const v = check();
        if (v !== null) done(() => resolve(v));
        else if (this.closed && !closeOk) done(() => reject(new Error(`connection closed before a ${what} (got ${JSON.stringify(this.buf.slice(0, 200))})`)));
      };
      const timer = setTimeout(() => done(() => reject(new Error(`no ${what} within ${timeoutMs} ms`))), timeoutMs);
      this.waiters.add(w);
      w();
    });
  }

  close(): void {
    this.sock.destroy();
  }
}

/** Digest Authorization (MD5, no qop) for a challenge, the way ffmpeg and VLC compute it. */
export function digestHeader(challenge: string, user: string, password: string, method: string, uri: string): string {
  const p: Record<string, string> = {};
  for (const m of challenge.slice(7).matchAll(/(\w+)=(?:"([^"]*)"|([^,\s]*))/g)) p[m[1].toLowerCase()] = m[2] ?? m[3];
  const md5 = (s: string) => createHash("md5").update(s).digest("hex");
  const response = md5(`${md5(`${user}:${p.realm}:${password}`)}:${p.nonce}:${md5(`${method}:${uri}`)}`);
  return `Digest username="${user}", realm="${p.realm}", nonce="${p.nonce}", uri="${uri}", response="${response}"`;
}
