// A minimal raw RTSP client (TCP interleaved) for the tests that need control ffmpeg does not give:
// a viewer that sets up PLAY and then stops reading, so TCP backpressure really reaches the server.
// (A SIGSTOPped ffmpeg is weaker: it has already grown its socket buffers to megabytes by then.)
//
//   const slow = await slowReader(url, { timeoutMs: 10_000 });   // PLAYing, reads nothing more
//   …pull the same camera with framemd5 and check it is complete…
//   slow.close();
//
// Handles Basic and Digest (MD5, with or without qop=auth) from user:password in the URL.
import { createHash, randomBytes } from "node:crypto";
import { connect, type Socket } from "node:net";

export interface RtspSessionOptions {
  /** Bound for connect + DESCRIBE + SETUP + PLAY. */
  timeoutMs: number;
  /** Stop reading once this many interleaved bytes arrived (0: right after the PLAY reply). Default: never. */
  pauseAfterBytes?: number;
  /** Called with each interleaved packet (channel, payload without the 4-byte $ header). */
  onPacket?: (channel: number, payload: Buffer) => void;
  /** PLAY's Range header (default "npt=0.000-", as ffmpeg sends); null sends none. */
  playRange?: string | null;
}

export interface RtspResponse {
  status: number;
  reason: string;
  /** Lower-case header names; repeated headers keep every value. */
  headers: Record<string, string[]>;
  body: string;
}

/**
 * The RTSP message at the start of `buf` (head and Content-Length body), once all of it is there:
 * `response` is null for a request from the server. null while the message is incomplete.
 */
export function takeRtspMessage(buf: Buffer): { response: RtspResponse | null; rest: Buffer } | null {
  const end = buf.indexOf("\r\n\r\n");
  if (end < 0) return null;
  const head = buf.subarray(0, end).toString("latin1").split("\r\n");
  const headers: Record<string, string[]> = {};
  for (const line of head.slice(1)) {
    const i = line.indexOf(":");
    if (i > 0) (headers[line.slice(0, i).trim().toLowerCase()] ??= []).push(line.slice(i + 1).trim());
  }
  const bodyLen = Number(headers["content-length"]?.[0] ?? 0);
  if (buf.length < end + 4 + bodyLen) return null;
  const body = buf.subarray(end + 4, end + 4 + bodyLen).toString("utf8");
  const m = /^RTSP\/1\.0 (\d{3}) ?(.*)$/.exec(head[0]);
  return { response: m ? { status: Number(m[1]), reason: m[2], headers, body } : null, rest: buf.subarray(end + 4 + bodyLen) };
}

export interface RtspSession {
  readonly url: string;
  /** The SDP DESCRIBE returned. */
  readonly sdp: string;
  /** Interleaved ($) payload bytes received so far. */
  bytes(): number;
  /** RTP packets (even channels) received so far. */
  packets(): number;
  isPaused(): boolean;
  /** Stop reading the socket: the kernel buffers fill and the TCP window closes towards the server. */
  pause(): void;
  resume(): void;
  waitForBytes(n: number, timeoutMs: number): Promise<void>;
  /** Resolves when the server or close() ended the connection. */
  readonly closed: Promise<void>;
  /** Sends TEARDOWN when not paused (best effort) and destroys the socket. */
  close(): void;
}

/** Opens an RTSP session over TCP and PLAYs every media of the SDP, interleaved. */
export async function openRtspSession(url: string, opts: RtspSessionOptions): Promise<RtspSession> {
  const u = new URL(url);
  const user = decodeURIComponent(u.username);
  const pass = decodeURIComponent(u.password);
  u.username = "";
  u.password = "";
  const requestUrl = u.toString();

  const sock: Socket = connect({ host: u.hostname, port: Number(u.port || 554) });
  const deadline = setTimeout(() => sock.destroy(new Error(`RTSP handshake with ${requestUrl} timed out after ${opts.timeoutMs} ms`)), opts.timeoutMs);

  let buf: Buffer = Buffer.alloc(0);
  let bytes = 0;
  let packets = 0;
  let paused = false;
  let cseq = 0;
  let pending: { resolve: (r: RtspResponse) => void; reject: (e: Error) => void } | null = null;
  let failure: Error | null = null;
  const byteWaiters = new Set<() => void>();
  let pauseAfter = opts.pauseAfterBytes; // one-shot: cleared once it has paused the session
  let playing = false;

  const pauseNow = () => {
    if (!paused) {
      paused = true;
      sock.pause();
    }
  };
  const maybeAutoPause = () => {
    if (playing && pauseAfter !== undefined && bytes >= pauseAfter) {
      pauseAfter = undefined;
      pauseNow();
    }
  };

  const parse = () => {
    for (;;) {
      // Once auto-paused, leave everything unread: that is the point of a slow reader.
      if (paused || buf.length === 0) return;
      if (buf[0] === 0x24) {
        if (buf.length < 4) return;
        const len = buf.readUInt16BE(2);
        if (buf.length < 4 + len) return;
        bytes += len;
        if (buf[1] % 2 === 0) packets++;
        opts.onPacket?.(buf[1], buf.subarray(4, 4 + len));
        buf = buf.subarray(4 + len);
        byteWaiters.forEach((w) => w());
        maybeAutoPause();
        continue;
      }
      const end = buf.indexOf("\r\n\r\n");
      if (end < 0) {
        if (buf.length > 65536) sock.destroy(new Error("RTSP: header larger than 64 KiB"));
        return;
      }
      const msg = takeRtspMessage(buf);
      if (!msg) return;
      buf = msg.rest;
      if (!msg.response) continue; // a request from the server (e.g. GET_PARAMETER): not needed here
      const p = pending;
      pending = null;
      p?.resolve(msg.response);
    }
  };

  sock.on("data", (chunk: Buffer) => {
    buf = buf.length ? Buffer.concat([buf, chunk]) : chunk;
    parse();
  });
  const closed = new Promise<void>((resolve) => {
    sock.on("error", (e) => {
      failure = e;
    });
    sock.on("close", () => {
      const p = pending;
      pending = null;
      p?.reject(failure ?? new Error(`RTSP: ${requestUrl} closed the connection`));
      byteWaiters.forEach((w) => w());
      resolve();
    });
  });
  await new Promise<void>((resolve, reject) => {
    sock.once("connect", resolve);
    sock.once("close", () => reject(failure ?? new Error(`RTSP: cannot connect to ${requestUrl}`)));
  });

  let auth: ((method: string, uri: string) => string) | null = null;
  let session = "";
  const request = async (method: string, uri: string, extra: Record<string, string> = {}): Promise<RtspResponse> => {
    for (let attempt = 0; ; attempt++) {
      const lines = [`${method} ${uri} RTSP/1.0`, `CSeq: ${++cseq}`, "User-Agent: flussonic-agent-tests"];
      if (session) lines.push(`Session: ${session}`);
      if (auth) lines.push(`Authorization: ${auth(method, uri)}`);
      for (const [k, v] of Object.entries(extra)) lines.push(`${k}: ${v}`);
      const reply = new Promise<RtspResponse>((resolve, reject) => (pending = { resolve, reject }));
      sock.write(lines.join("\r\n") + "\r\n\r\n");
      const r = await reply;
      if (r.status === 401 && attempt === 0 && (user || pass)) {
        auth = authorizer(r.headers["www-authenticate"] ?? [], user, pass);
        if (auth) continue;
      }
      if (r.status !== 200) throw new Error(`RTSP ${method} ${uri}: ${r.status} ${r.reason}`);
      return r;
    }
  };

  try {
    const d = await request("DESCRIBE", requestUrl, { Accept: "application/sdp" });
    const base = d.headers["content-base"]?.[0] ?? d.headers["content-location"]?.[0] ?? requestUrl;
    const controls = mediaControls(d.body).map((c) => resolveControl(base, c));
    if (controls.length === 0) throw new Error(`RTSP: no media in the SDP of ${requestUrl}`);
    for (let i = 0; i < controls.length; i++) {
      const s = await request("SETUP", controls[i], { Transport: `RTP/AVP/TCP;unicast;interleaved=${2 * i}-${2 * i + 1}` });
      session ||= (s.headers["session"]?.[0] ?? "").split(";")[0];
    }
    const range = opts.playRange === undefined ? "npt=0.000-" : opts.playRange;
    await request("PLAY", base, range === null ? {} : { Range: range });
    playing = true;
    clearTimeout(deadline);
    maybeAutoPause();
    parse();

    return {
      url: requestUrl,
      sdp: d.body,
      bytes: () => bytes,
      packets: () => packets,
      isPaused: () => paused,
      pause: pauseNow,
      resume: () => {
        if (paused) {
          paused = false;
          sock.resume();
          parse();
        }
      },
      waitForBytes: (n, timeoutMs) =>
        new Promise<void>((resolve, reject) => {
          const check = () => {
            if (bytes >= n) done(resolve);
            else if (sock.destroyed) done(() => reject(new Error(`RTSP: connection closed after ${bytes} of ${n} bytes`)));
          };
          const timer = setTimeout(() => done(() => reject(new Error(`RTSP: ${bytes} of ${n} bytes within ${timeoutMs} ms`))), timeoutMs);
          const done = (f: () => void) => {
            clearTimeout(timer);
            byteWaiters.delete(check);
            f();
          };
          byteWaiters.add(check);
          check();
        }),
      closed,
      close: () => {
        if (!paused && !sock.destroyed) {
          sock.write(`TEARDOWN ${base} RTSP/1.0\r\nCSeq: ${++cseq}\r\nSession: ${session}\r\n\r\n`);
        }
        sock.destroy();
      },
    };
  } catch (e) {
    clearTimeout(deadline);
    sock.destroy();
    throw e;
  }
}

/**
 * A viewer that PLAYs and then stops reading: after `readBytes` interleaved bytes (default 0, i.e.
 * nothing beyond the PLAY reply) it never reads its socket again until resume() or close().
 */
export async function slowReader(url: string, opts: { timeoutMs: number; readBytes?: number }): Promise<RtspSession> {
  return openRtspSession(url, { timeoutMs: opts.timeoutMs, pauseAfterBytes: opts.readBytes ?? 0 });
}

/** a=control of each m= section, in order (missing control: the aggregate URL itself). */
function mediaControls(sdp: string): string[] {
  const sections = sdp.split(/\r?\n(?=m=)/).slice(1);
  return sections.map((s) => /^a=control:(.+)$/m.exec(s)?.[1].trim() ?? "*");
}

/** Resolves a control attribute the way ffmpeg does: absolute stays, else appended to the base with "/". */
function resolveControl(base: string, control: string): string {
  if (control === "*") return base;
  if (/^rtsp:\/\//i.test(control)) return control;
  return base.endsWith("/") ? base + control : `${base}/${control}`;
}

/** Authorization header values (Basic, or Digest MD5 with or without qop=auth) for a 401's challenges. */
export function authorizer(challenges: string[], user: string, pass: string): ((method: string, uri: string) => string) | null {
  const digest = challenges.find((c) => /^digest /i.test(c));
  if (digest) {
    const p: Record<string, string> = {};
    for (const m of digest.slice(7).matchAll(/(\w+)=(?:"([^"]*)"|([^,\s]*))/g)) p[m[1].toLowerCase()] = m[2] ?? m[3];
    const md5 = (s: string) => createHash("md5").update(s).digest("hex");
    const ha1 = md5(`${user}:${p.realm}:${pass}`);
    const qopAuth = (p.qop ?? "").split(",").map((s) => s.trim()).includes("auth");
    let nc = 0;
    return (method, uri) => {
      const ha2 = md5(`${method}:${uri}`);
      let fields = `username="${user}", realm="${p.realm}", nonce="${p.nonce}", uri="${uri}"`;
      if (qopAuth) {
        const ncHex = (++nc).toString(16).padStart(8, "0");
        const cnonce = randomBytes(8).toString("hex");
        fields += `, qop=auth, nc=${ncHex}, cnonce="${cnonce}", response="${md5(`${ha1}:${p.nonce}:${ncHex}:${cnonce}:auth:${ha2}`)}"`;
      } else {
        fields += `, response="${md5(`${ha1}:${p.nonce}:${ha2}`)}"`;
      }
      if (p.opaque !== undefined) fields += `, opaque="${p.opaque}"`;
      if (p.algorithm) fields += `, algorithm=${p.algorithm}`;
      return `Digest ${fields}`;
    };
  }
  if (challenges.some((c) => /^basic/i.test(c))) {
    const token = Buffer.from(`${user}:${pass}`).toString("base64");
    return () => `Basic ${token}`;
  }
  return null;
}
