/**
 * Device keys and viewer tokens. A device key is derived from the cluster secret, so every
 * endpoint and streamer that shares the secret can check any device without a shared database,
 * and one device's key says nothing about another's.
 */

import { createHmac, randomBytes, timingSafeEqual } from "node:crypto";
import { authMessage } from "../protocol/control";

export function deviceKey(clusterSecret: Buffer, deviceId: string): Buffer {
  return createHmac("sha256", clusterSecret).update(`device-key\n${deviceId}`).digest();
}

export function newNonce(): string {
  return randomBytes(32).toString("hex");
}

export function newDeviceId(): string {
  return `cam-${randomBytes(6).toString("hex")}`;
}

export function verifyAuth(
  clusterSecret: Buffer, deviceId: string, nonce: string, cnonce: string, role: string, macHex: string,
): boolean {
  const expect = createHmac("sha256", deviceKey(clusterSecret, deviceId))
    .update(authMessage(nonce, cnonce, deviceId, role)).digest();
  const got = Buffer.from(macHex, "hex");
  return got.length === expect.length && timingSafeEqual(got, expect);
}

/** Viewer URL token for one device: "EXPIRY.MAC", EXPIRY in Unix seconds. */
export function signViewerToken(secret: Buffer, deviceId: string, expiresAt: number): string {
  const mac = createHmac("sha256", secret).update(`view\n${deviceId}\n${expiresAt}`).digest("hex");
  return `${expiresAt}.${mac}`;
}

export function checkViewerToken(secret: Buffer, deviceId: string, token: string, nowSec = Date.now() / 1000): boolean {
  const m = /^(\d{1,12})\.([0-9a-f]{64})$/.exec(token);
  if (!m || Number(m[1]) < nowSec) return false;
  const expect = Buffer.from(signViewerToken(secret, deviceId, Number(m[1])).split(".")[1], "hex");
  return timingSafeEqual(Buffer.from(m[2], "hex"), expect);
}
