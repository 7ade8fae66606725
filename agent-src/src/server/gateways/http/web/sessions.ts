/**
 * Web console sessions: an account logs in with its viewer name and password and gets a random
 * session id in a cookie (HttpOnly, SameSite=Strict, Path=/, Max-Age) plus a CSRF token that
 * state-changing requests must echo in a header. Sessions live in memory (a restart logs
 * everyone out), expire SESSION_TTL_MS after login, and are bounded in number (the oldest go).
 * Failed logins are limited per address, so passwords cannot be guessed at line rate.
 */

import { randomBytes, timingSafeEqual } from "node:crypto";
import type { Viewer } from "../../../config";

export const COOKIE = "fs_session";
export const SESSION_TTL_MS = 12 * 3600_000;
const MAX_SESSIONS = 10_000;
const FAILURES_PER_MINUTE = 10;

export interface WebSession {
  id: string;
  viewer: Viewer;
  csrf: string;
  expires: number;
}

function safeEqual(a: string, b: string): boolean {
  const x = Buffer.from(a), y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

export class Sessions {
  private readonly map = new Map<string, WebSession>();
  private readonly failures = new Map<string, number[]>();

  constructor(private readonly viewers: Viewer[], private readonly now: () => number = Date.now) {}

  /** A new session for correct credentials; null for wrong ones; "limited" while the address is over its failure budget. */
  login(name: unknown, password: unknown, addr: string): WebSession | null | "limited" {
    const now = this.now();
    const recent = (this.failures.get(addr) ?? []).filter((t) => now - t < 60_000);
    if (recent.length >= FAILURES_PER_MINUTE) return "limited";
    const v = typeof name === "string" && typeof password === "string" ? this.viewers.find((x) => x.name === name) : undefined;
    if (!v || !safeEqual(v.password, password as string)) {
      recent.push(now);
      this.failures.set(addr, recent);
      if (this.failures.size > MAX_SESSIONS) this.failures.delete(this.failures.keys().next().value as string);
      return null;
    }
    while (this.map.size >= MAX_SESSIONS) this.map.delete(this.map.keys().next().value as string);
    const s: WebSession = { id: randomBytes(32).toString("base64url"), viewer: v, csrf: randomBytes(24).toString("base64url"), expires: now + SESSION_TTL_MS };
    this.map.set(s.id, s);
    return s;
  }

  /** The live session a request's Cookie header names, or null. */
  fromCookie(header: string | undefined): WebSession | null {
    const id = cookieValue(header, COOKIE);
    if (!id) return null;
    const s = this.map.get(id);
    if (!s) return null;
    if (s.expires <= this.now()) {
      this.map.delete(id);
      return null;
    }
    return s;
  }

  logout(s: WebSession): void {
    this.map.delete(s.id);
  }

  checkCsrf(s: WebSession, header: string | string[] | undefined): boolean {
    return typeof header === "string" && safeEqual(s.csrf, header);
  }

  static cookie(s: WebSession): string {
    return `${COOKIE}=${s.id}; Path=/; HttpOnly; SameSite=Strict; Max-Age=${Math.floor(SESSION_TTL_MS / 1000)}`;
  }

  static clearCookie(): string {
    return `${COOKIE}=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0`;
  }
}

export function cookieValue(header: string | undefined, name: string): string | null {
  for (const part of (header ?? "").split(";")) {
    const i = part.indexOf("=");
    if (i > 0 && part.slice(0, i).trim() === name) return part.slice(i + 1).trim() || null;
  }
  return null;
}

export function mayWatch(v: Viewer, deviceId: string): boolean {
  return v.devices.includes("*") || v.devices.includes(deviceId);
}
