/**
 * Who may watch: RTSP viewers use Digest (RFC 2617, MD5 — what ffmpeg/VLC speak), HTTP viewers
 * Basic, and either may carry a signed per-device URL token instead. An unauthenticated request
 * gets the same 401 whether or not the device exists, so nothing about the fleet leaks.
 */

import { createHash, createHmac, timingSafeEqual } from "node:crypto";
import { checkViewerToken } from "./keys";
import type { Viewer } from "./config";

const NONCE_TTL_S = 600;
export const REALM = "flussonic-agent";

const md5 = (s: string) => createHash("md5").update(s).digest("hex");

function safeEqual(a: string, b: string): boolean {
  const x = Buffer.from(a), y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

export class ViewerAuth {
  constructor(private readonly viewers: Viewer[], private readonly secret: Buffer) {}

  private allowed(v: Viewer, deviceId: string): boolean {
    return v.devices.includes("*") || v.devices.includes(deviceId);
  }

  /** Stateless nonce: time + MAC, so any streamer process can check it without memory. */
  digestChallenge(nowS = Math.floor(Date.now() / 1000)): string {
    const mac = createHmac("sha256", this.secret).update(`nonce\n${nowS}`).digest("hex").slice(0, 32);
    return `Digest realm="${REALM}", nonce="${nowS}.${mac}", algorithm=MD5`;
  }

  private nonceValid(nonce: string, nowS = Date.now() / 1000): boolean {
    const m = /^(\d+)\.([0-9a-f]{32})$/.exec(nonce);
    if (!m || nowS - Number(m[1]) > NONCE_TTL_S) return false;
    const mac = createHmac("sha256", this.secret).update(`nonce\n${m[1]}`).digest("hex").slice(0, 32);
    return safeEqual(mac, m[2]);
  }

  checkDigest(method: string, header: string | undefined, deviceId: string): boolean {
    if (!header?.startsWith("Digest ")) return false;
    const p: Record<string, string> = {};
    for (const m of header.slice(7).matchAll(/(\w+)=(?:"([^"]*)"|([^,\s]*))/g)) p[m[1].toLowerCase()] = m[2] ?? m[3];
    const v = this.viewers.find((x) => x.name === p.username);
    if (!v || !p.nonce || !p.uri || !p.response || p.realm !== REALM || !this.nonceValid(p.nonce)) return false;
    const ha1 = md5(`${v.name}:${REALM}:${v.password}`);
    const ha2 = md5(`${method}:${p.uri}`);
    const expect = p.qop ? md5(`${ha1}:${p.nonce}:${p.nc}:${p.cnonce}:${p.qop}:${ha2}`) : md5(`${ha1}:${p.nonce}:${ha2}`);
    return safeEqual(expect, p.response.toLowerCase()) && this.allowed(v, deviceId);
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
}
