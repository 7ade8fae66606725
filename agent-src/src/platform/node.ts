/**
 * Platform over Node's net/tls/fs/crypto: what the host tests and the streamer's link code use.
 */

import { createHash, randomBytes, X509Certificate } from "node:crypto";
import * as fs from "node:fs";
import * as net from "node:net";
import { dirname, basename, join } from "node:path";
import * as tls from "node:tls";
import type { Clock, ConnectCallback, LogLevel, Platform, Socket, TlsOptions } from "./platform";
import { LOG_LEVELS } from "./log-filter";
import { escapeLogText } from "./log-text";

/** One line per event: `<time> <LEVEL> <name>: <message>` on stderr. */
export function makeLogger(name: string, minLevel: LogLevel, sink: (line: string) => void = (l) => process.stderr.write(l)) {
  return (level: LogLevel, msg: string): void => {
    if (LOG_LEVELS[level] < LOG_LEVELS[minLevel]) return;
    sink(`${new Date().toISOString()} ${level.toUpperCase()} ${name}: ${escapeLogText(msg)}\n`);
  };
}

/** Node timers as a Clock: what the server's link sessions run on. */
export const nodeClock: Clock = {
  setTimer: (ms, fn) => setTimeout(fn, ms) as unknown as number,
  clearTimer: (id) => clearTimeout(id as unknown as NodeJS.Timeout),
  now: () => performance.now(),
};

/** Adapts a Node socket (plain or TLS) to the Platform's Socket. */
export class NodeSocket implements Socket {
  onData: ((data: Uint8Array) => void) | null = null;
  onEnd: (() => void) | null = null;
  onDrain: (() => void) | null = null;
  onClose: ((err: string | null) => void) | null = null;
  private error: string | null = null;

  constructor(readonly raw: net.Socket) {
    // Plain Uint8Array views: Buffer#slice does not copy, which would pin socket chunks.
    raw.on("data", (d: Buffer) => this.onData?.(new Uint8Array(d.buffer, d.byteOffset, d.length)));
    raw.on("end", () => this.onEnd?.());
    raw.on("drain", () => this.onDrain?.());
    raw.on("error", (e) => (this.error ??= e.message));
    raw.on("close", () => this.onClose?.(this.error));
  }

  write(data: Uint8Array): boolean {
    if (this.raw.destroyed || !this.raw.writable) return false;
    return this.raw.write(data);
  }
  end(): void {
    if (!this.raw.destroyed) this.raw.end();
  }
  destroy(): void {
    this.raw.destroy();
  }
  pause(): void {
    this.raw.pause();
  }
  resume(): void {
    this.raw.resume();
  }
}

/** Base64 SHA-256 of a certificate's DER SubjectPublicKeyInfo (the pin format of spki_pins). */
export function spkiSha256(cert: X509Certificate | tls.PeerCertificate): string {
  const der = cert instanceof X509Certificate
    ? cert.publicKey.export({ type: "spki", format: "der" })
    : (cert.pubkey as Buffer);
  return createHash("sha256").update(der).digest("base64");
}

function chainPins(sock: tls.TLSSocket): string[] {
  const pins: string[] = [];
  let c: tls.DetailedPeerCertificate | undefined = sock.getPeerCertificate(true);
  const seen = new Set<string>();
  while (c && c.raw && !seen.has(c.fingerprint256)) {
    seen.add(c.fingerprint256);
    pins.push(spkiSha256(new X509Certificate(c.raw)));
    c = c.issuerCertificate;
  }
  return pins;
}

export class NodePlatform implements Platform {
  private readonly start = performance.now();

  constructor(readonly log: (level: LogLevel, msg: string) => void) {}

  connectTcp(host: string, port: number, timeoutMs: number, cb: ConnectCallback): void {
    const raw = net.connect({ host, port, allowHalfOpen: true });
    this.whenConnected(raw, "connect", timeoutMs, cb);
  }

  connectTls(host: string, port: number, opts: TlsOptions, timeoutMs: number, cb: ConnectCallback): void {
    const pinsOnly = !opts.caPem && (opts.spkiSha256?.length ?? 0) > 0;
    const raw = tls.connect({
      host, port,
      servername: net.isIP(opts.serverName ?? host) ? undefined : (opts.serverName ?? host),
      ca: opts.caPem,
      // With pins only, the pin is the trust anchor: chain validation is replaced, not skipped.
      rejectUnauthorized: !pinsOnly,
      checkServerIdentity: (name, cert) => tls.checkServerIdentity(opts.serverName ?? name, cert),
      minVersion: "TLSv1.2",
    });
    this.whenConnected(raw, "secureConnect", timeoutMs, (err, sock) => {
      if (err || !sock) return cb(err, null);
      if (opts.spkiSha256?.length) {
        const presented = chainPins(raw);
        if (!presented.some((p) => opts.spkiSha256!.includes(p))) {
          raw.destroy();
          return cb("server certificate does not match any pinned SPKI hash", null);
        }
      }
      cb(null, sock);
    });
  }

  private whenConnected(raw: net.Socket, event: string, timeoutMs: number, cb: ConnectCallback): void {
    // Small RTSP requests/responses must not wait for Nagle (+40 ms per viewer connection).
    raw.setNoDelay(true);
    let done = false;
    const finish = (err: string | null) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      raw.removeListener("error", onError);
      if (err) {
        raw.destroy();
        cb(err, null);
      } else cb(null, new NodeSocket(raw));
    };
    const onError = (e: Error) => finish(e.message);
    const timer = setTimeout(() => finish(`timed out after ${timeoutMs} ms`), timeoutMs);
    raw.once(event, () => finish(null));
    raw.once("error", onError);
    raw.once("close", () => finish("connection closed during setup"));
  }

  setTimer(ms: number, fn: () => void): number {
    return setTimeout(fn, ms) as unknown as number;
  }
  clearTimer(id: number): void {
    clearTimeout(id as unknown as NodeJS.Timeout);
  }
  now(): number {
    return performance.now() - this.start;
  }
  randomBytes(n: number): Uint8Array {
    return new Uint8Array(randomBytes(n));
  }
  readFile(path: string): Uint8Array | null {
    try {
      return new Uint8Array(fs.readFileSync(path));
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === "ENOENT") return null;
      throw e;
    }
  }
  writeFileAtomic(path: string, data: Uint8Array): void {
    writeFileAtomicSync(path, data);
  }
}

/** temp file in the same directory → fsync → rename → fsync the directory. */
export function writeFileAtomicSync(path: string, data: Uint8Array | string): void {
  const dir = dirname(path);
  fs.mkdirSync(dir, { recursive: true });
  // One fixed temp name: a writer killed mid-write leaves at most one stale temp, reused next time.
  const tmp = join(dir, `.${basename(path)}.tmp`);
  const fd = fs.openSync(tmp, "w", 0o600);
  try {
    fs.writeFileSync(fd, data);
    fs.fsyncSync(fd);
  } catch (e) {
    fs.closeSync(fd);
    fs.rmSync(tmp, { force: true });
    throw e;
  }
  fs.closeSync(fd);
  fs.renameSync(tmp, path);
  const dfd = fs.openSync(dir, "r");
  try {
    fs.fsyncSync(dfd);
  } finally {
    fs.closeSync(dfd);
  }
}
