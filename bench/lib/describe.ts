// RTSP DESCRIBE round trips, timed from the request's first byte to the end of the response body.
import { createHash } from "node:crypto";
import { connect, type Socket } from "node:net";

function parseUrl(url: string) {
  const u = new URL(url);
  const user = decodeURIComponent(u.username), pass = decodeURIComponent(u.password);
  u.username = "";
  u.password = "";
  return { host: u.hostname, port: Number(u.port || 554), uri: u.toString(), user, pass };
}

class Conn {
  private buf = Buffer.alloc(0);
  private waiter: ((r: { status: number; headers: string }) => void) | null = null;
  private cseq = 0;
  constructor(readonly sock: Socket) {
    sock.setNoDelay(true);
    sock.on("data", (d) => {
      this.buf = Buffer.concat([this.buf, d]);
      const end = this.buf.indexOf("\r\n\r\n");
      if (end < 0) return;
      const head = this.buf.subarray(0, end).toString("latin1");
      const len = Number(/^content-length:\s*(\d+)/im.exec(head)?.[1] ?? 0);
      if (this.buf.length < end + 4 + len) return;
      this.buf = this.buf.subarray(end + 4 + len);
      const w = this.waiter;
      this.waiter = null;
      w?.({ status: Number(head.split(" ")[1]), headers: head });
    });
    sock.on("error", () => {});
  }
  static open(host: string, port: number): Promise<Conn> {
    return new Promise((res, rej) => {
      const s = connect({ host, port }, () => res(new Conn(s)));
      s.once("error", rej);
    });
  }
  request(uri: string, auth?: string): Promise<{ status: number; headers: string }> {
    return new Promise((res, rej) => {
      const t = setTimeout(() => rej(new Error(`DESCRIBE ${uri}: no answer in 5 s`)), 5000);
      this.waiter = (r) => {
        clearTimeout(t);
        res(r);
      };
      this.sock.write(`DESCRIBE ${uri} RTSP/1.0\r\nCSeq: ${++this.cseq}\r\nAccept: application/sdp\r\n${auth ? `Authorization: ${auth}\r\n` : ""}\r\n`);
    });
  }
  close() {
    this.sock.destroy();
  }
}

const md5 = (s: string) => createHash("md5").update(s).digest("hex");

function digest(challenge: string, user: string, pass: string, uri: string): string {
  const realm = /realm="([^"]*)"/.exec(challenge)?.[1] ?? "";
  const nonce = /nonce="([^"]*)"/.exec(challenge)?.[1] ?? "";
  const resp = md5(`${md5(`${user}:${realm}:${pass}`)}:${nonce}:${md5(`DESCRIBE:${uri}`)}`);
  return `Digest username="${user}", realm="${realm}", nonce="${nonce}", uri="${uri}", response="${resp}"`;
}

/** One authenticated DESCRIBE on a fresh connection: returns the Authorization header to reuse. */
async function authFor(host: string, port: number, uri: string, user: string, pass: string): Promise<string | undefined> {
  if (!user) return undefined;
  const c = await Conn.open(host, port);
  try {
    const r = await c.request(uri);
    if (r.status !== 401) return undefined;
    const ch = /^www-authenticate:\s*(.*)$/im.exec(r.headers)?.[1] ?? "";
    return digest(ch, user, pass, uri);
  } finally {
    c.close();
  }
}

export interface RttSamples {
  /** Repeated DESCRIBE on one open connection (through the tunnel: on one open stream). */
  keepalive: number[];
  /** New TCP connection + DESCRIBE each time (through the tunnel: also a new stream to the camera). */
  fresh: number[];
}

/** `count` DESCRIBEs of each kind, after a few warm-up ones; milliseconds. */
export async function describeRtt(url: string, count: number): Promise<RttSamples> {
  const { host, port, uri, user, pass } = parseUrl(url);
  const auth = await authFor(host, port, uri, user, pass);
  const keepalive: number[] = [];
  const fresh: number[] = [];
  const c = await Conn.open(host, port);
  try {
    for (let i = 0; i < count + 5; i++) {
      const t = performance.now();
      const r = await c.request(uri, auth);
      if (r.status !== 200) throw new Error(`DESCRIBE ${uri}: ${r.status}`);
      if (i >= 5) keepalive.push(performance.now() - t);
    }
  } finally {
    c.close();
  }
  for (let i = 0; i < count + 2; i++) {
    const t = performance.now();
    const f = await Conn.open(host, port);
    try {
      const r = await f.request(uri, auth);
      if (r.status !== 200) throw new Error(`DESCRIBE ${uri}: ${r.status}`);
      if (i >= 2) fresh.push(performance.now() - t);
    } finally {
      f.close();
    }
  }
  return { keepalive, fresh };
}
