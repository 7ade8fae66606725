/**
 * Who may watch: RTSP viewers use Digest (RFC 2617, MD5 — what ffmpeg/VLC speak), HTTP viewers
 * Basic, and either may carry a signed per-device URL token instead. An unauthenticated request
 * gets the same 401 whether or not the device exists, so nothing about the fleet leaks.
 *
 * Digest nonces are stateless to issue (time + random + MAC: a flood of 401s costs no memory) and
 * single-use to accept: the first request that authenticates with a nonce consumes it, so a
 * captured Authorization header is worthless on any other connection. The RTSP gateway checks
 * credentials once per connection, so clients that reuse one nonce for every request of their
 * connection (ffmpeg, VLC: no qop, no nc) keep working. A consumed, expired or forgotten nonce
 * with otherwise correct credentials is answered stale=true, and clients retry with the fresh
 * nonce without asking the user again.
 */

import { createHash, createHmac, randomBytes, timingSafeEqual } from "node:crypto";
import { checkViewerToken } from "../keys";
import type { Viewer } from "../config";

const NONCE_TTL_MS = 300_000;
/** Consumed nonces remembered at most; past it the oldest are forgotten and nonces as old turn stale. */
const USED_NONCES_MAX = 50_000;
export const REALM = "flussonic-agent";

const md5 = (s: string) => createHash("md5").update(s).digest("hex");

function safeEqual(a: string, b: string): boolean {
  const x = Buffer.from(a), y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

/** ok: authenticated; stale: right credentials, nonce no longer usable; denied: anything else. */
export type DigestResult = "ok" | "stale" | "denied";

export class ViewerAuth {
  /** Consumed nonce → its issue time (ms), in issue-time order up to eviction. */
  private readonly used = new Map<string, number>();
  /** Nonces issued before this (ms) are stale: set when the used store forgets its oldest. */
  private floorMs = 0;
  /** In every nonce we issue: the used store is per process, so another process's nonces are stale here. */
  private readonly instance = randomBytes(4).toString("hex");

  constructor(
    private readonly viewers: Viewer[],
    private readonly secret: Buffer,
    private readonly now: () => number = Date.now,
    private readonly usedMax = USED_NONCES_MAX,
  ) {}

  private allowed(v: Viewer, deviceId: string): boolean {
    return v.devices.includes("*") || v.devices.includes(deviceId);
  }

  private nonceMac(issued: string, rand: string): string {
    return createHmac("sha256", this.secret).update(`nonce\n${issued}\n${rand}`).digest("hex").slice(0, 32);
  }

  digestChallenge(stale = false): string {
    const issued = String(this.now());
    const rand = this.instance + randomBytes(6).toString("hex");
    const nonce = `${issued}.${rand}.${this.nonceMac(issued, rand)}`;
    // stale right after nonce: live555 (VLC) only reads it in that position.
    return `Digest realm="${REALM}", nonce="${nonce}", ${stale ? "stale=true, " : ""}algorithm=MD5`;
  }

  /** Issue time (ms) of a nonce made with our secret, or null if it is not one. */
  private nonceIssued(nonce: string): number | null {
    const m = /^(\d{1,15})\.([0-9a-f]{20})\.([0-9a-f]{32})$/.exec(nonce);
    if (!m || !safeEqual(this.nonceMac(m[1], m[2]), m[3])) return null;
    return Number(m[1]);
  }

  /**
   * Checks a Digest Authorization header for `method uri` on deviceId, and consumes its nonce on
   * success. The digest's uri must be the request's (absolute, or its path), so a header made for
   * one device or stream does not open another.
   */
  checkDigest(method: string, requestUri: string, header: string | undefined, deviceId: string): DigestResult {
    if (!header?.startsWith("Digest ")) return "denied";
    const p: Record<string, string> = {};
    for (const m of header.slice(7).matchAll(/(\w+)=(?:"([^"]*)"|([^,\s]*))/g)) p[m[1].toLowerCase()] = m[2] ?? m[3];
    const v = this.viewers.find((x) => x.name === p.username);
    if (!v || !p.nonce || !p.uri || !p.response || p.realm !== REALM) return "denied";
    if (p.uri !== requestUri && p.uri !== pathOf(requestUri)) return "denied";
    const issued = this.nonceIssued(p.nonce);
    if (issued === null) return "denied";
    if (p.qop !== undefined && (p.qop !== "auth" || !/^[0-9a-fA-F]{8}$/.test(p.nc ?? "") || !p.cnonce)) return "denied";
    const ha1 = md5(`${v.name}:${REALM}:${v.password}`);
    const ha2 = md5(`${method}:${p.uri}`);
    const expect = p.qop ? md5(`${ha1}:${p.nonce}:${p.nc}:${p.cnonce}:${p.qop}:${ha2}`) : md5(`${ha1}:${p.nonce}:${ha2}`);
    if (!safeEqual(expect, p.response.toLowerCase()) || !this.allowed(v, deviceId)) return "denied";
    const now = this.now();
    this.expire(now);
    const fresh = p.nonce.split(".")[1].startsWith(this.instance) && issued >= this.floorMs && now - issued <= NONCE_TTL_MS && issued <= now + 1000;
    if (!fresh || this.used.has(p.nonce)) return "stale";
    this.consume(p.nonce, issued);
    return "ok";
  }

  /** Account name of a Digest header (for per-viewer accounting), without checking it. */
  static digestUser(header: string | undefined): string | null {
    return /(?:^Digest |,)\s*username="([^"]*)"/.exec(header ?? "")?.[1] ?? null;
  }

  private consume(nonce: string, issued: number): void {
    while (this.used.size >= this.usedMax) {
      const [oldest, at] = this.used.entries().next().value as [string, number];
      this.used.delete(oldest);
      // Forgetting a consumed nonce must not make it usable again: everything as old turns stale.
      this.floorMs = Math.max(this.floorMs, at + 1);
    }
    this.used.set(nonce, issued);
  }

  /** Drops consumed nonces past their TTL: they are refused by age anyway. */
  private expire(now: number): void {
    for (const [n, at] of this.used) {
      if (now - at <= NONCE_TTL_MS) break;
      this.used.delete(n);
    }
  }

  /** Number of consumed nonces remembered (bounded by usedMax). */
  get usedNonces(): number {
    return this.used.size;
  }

  checkBasic(header: string | undefined, deviceId: string): boolean {
    if (!header?.startsWith("Basic ")) return false;
    const dec = Buffer.from(header.slice(6).trim(), "base64").toString("utf8");
    const i = dec.indexOf(":");
    if (i < 0) return false;
    const v = this.viewers.find((x) => x.name === dec.slice(0, i));
    return !!v && safeEqual(v.password, dec.slice(i + 1)) && this.allowed(v, deviceId);
  }

  checkToken(token: string | null | undefined, deviceId: string): boolean {
    return !!token && checkViewerToken(this.secret, deviceId, token);
  }

  /** Expiry (Unix ms) of a valid token for deviceId, or null. Connections must not outlive it. */
  tokenExpiry(token: string | null | undefined, deviceId: string): number | null {
    if (!this.checkToken(token, deviceId)) return null;
    return Number(token!.split(".")[0]) * 1000;
  }
}

/** "/dev/stream1?x" of "rtsp://host:port/dev/stream1?x" (what some clients put in the digest uri). */
function pathOf(uri: string): string {
  const m = /^rtsps?:\/\/[^/?#]*(\/[^#]*)?$/.exec(uri);
  return m ? (m[1] ?? "/") : uri;
}
