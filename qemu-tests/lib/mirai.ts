/** Mirai's default-credential list and the two ways we try it: telnet and the serial console. */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { REPO } from "./paths.js";
import type { SerialLine } from "./serial.js";

export interface Credential {
  user: string;
  pass: string;
}

/** The list the package ships (the same 61 pairs as the team's shared test data), so a clone
 * without ../shared tests the same passwords the hardening refuses. */
export const MIRAI_TSV = join(REPO, "package/flussonic-harden/default-credentials.tsv");

/** Distinct pairs from the TSV (user<TAB>password<TAB>weight; empty password allowed). */
export function miraiCredentials(path = MIRAI_TSV): Credential[] {
  const seen = new Set<string>();
  const out: Credential[] = [];
  for (const line of readFileSync(path, "utf8").split("\n")) {
    if (!line.trim() || line.startsWith("#")) continue;
    const [user, pass = ""] = line.split("\t");
    const key = `${user}\t${pass}`;
    if (!seen.has(key)) {
      seen.add(key);
      out.push({ user, pass });
    }
  }
  return out;
}

/** Run fn over items with at most `limit` in flight. */
export async function pool<T, R>(items: T[], limit: number, fn: (t: T) => Promise<R>): Promise<R[]> {
  const out: R[] = new Array(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const i = next++;
      out[i] = await fn(items[i]);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return out;
}

/**
 * getty's "<hostname> login: " prompt. Not anchored at the line end: a kernel message may land
 * right after it on the console (seen on a loaded host); "login[123]:" syslog lines don't match.
 */
const GETTY_PROMPT = /[A-Za-z0-9-]+ login: /;

export type ConsoleResult = "shell" | "denied" | "no-prompt";

/**
 * Try one pair on the serial console's getty. Busybox login waits ~3 s after a failure and then
 * prompts again, so we always wait for a fresh "login:" before typing (no type-ahead).
 */
export async function consoleLogin(con: SerialLine, c: Credential, timeoutMs = 15_000, promptTimeoutMs = 45_000): Promise<ConsoleResult> {
  // getty may be respawning (input flushed; seconds on a slow emulated raspi0 under load): poke
  // with CR every 3 s until a fresh prompt shows, bounded.
  let prompt = false;
  for (let i = 0; i < Math.ceil(promptTimeoutMs / 3000) && !prompt; i++) {
    con.clear();
    con.write("\r");
    prompt = !!(await con.expect([GETTY_PROMPT], 3000));
  }
  if (!prompt) return "no-prompt";
  con.write(c.user + "\r");
  // An account without a password gets its shell at once, with no "Password:" (Buildroot's root).
  const p = await con.expect([/[Pp]assword: /, GETTY_PROMPT, /\n[^\n]*[#$] (\x1b\[6n)?/], timeoutMs);
  if (!p) return "no-prompt";
  if (p.index === 1) return "denied";
  if (p.index === 0) con.write(c.pass + "\r");
  // Denial: "Login incorrect", or busybox's "bad salt" for a locked ("*") hash, or simply a new
  // login prompt. A shell: a prompt line ending in # or $ (ash may append a cursor query).
  const v = p.index === 2 ? p : await con.expect([/incorrect|denied|failed|bad salt/i, GETTY_PROMPT, /\n[^\n]*[#$] (\x1b\[6n)?/], timeoutMs);
  if (!v || v.index < 2) return "denied";
  con.write("echo SH''ELL-$(id -u)\r");
  const s = await con.expect([/SHELL-\d+/], 5000);
  con.write("exit\r");
  return s ? "shell" : "denied";
}

/** What the control shell reports when the console goes silent: who waits where, UART counters. */
export const CONSOLE_DIAG = [
  "for p in $(pidof getty login flussonic-agent init); do echo \"$p $(cat /proc/$p/comm) $(cat /proc/$p/wchan)\"; done",
  "cat /proc/tty/driver/ttyAMA /proc/tty/driver/serial 2>/dev/null; cat /proc/loadavg",
].join("; ");
