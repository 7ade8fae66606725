/**
 * One-time activation tokens. The operator lists tokens in tokens_file (one per line, or made with
 * `flussonic-streamer new-token`); a token activates exactly one device, even when several
 * endpoint processes share the tokens file and state_dir.
 *
 * A use is claimed by creating state_dir/activations/<sha256(token)>.json with link(2), which
 * fails with EEXIST if the file already exists: the kernel (or the NFS server) picks exactly one
 * winner, the claim file appears whole (written to a temporary name first, then linked), and
 * nothing is ever rewritten, so no process can lose another's record. Unlike a lock file there
 * is no stale lock to break after a crash and nobody waits. activations.json, where earlier
 * versions recorded uses, is still honoured.
 */

import { createHash, randomBytes } from "node:crypto";
import { closeSync, fsyncSync, linkSync, mkdirSync, openSync, readdirSync, readFileSync, unlinkSync, writeSync } from "node:fs";
import { join } from "node:path";

export interface Activation {
  device_id: string;
  at: string;
}

export class TokenStore {
  private readonly claimDir: string;
  private readonly legacyFile: string;

  constructor(private readonly tokensFile: string, stateDir: string) {
    this.claimDir = join(stateDir, "activations");
    this.legacyFile = join(stateDir, "activations.json");
    mkdirSync(this.claimDir, { recursive: true });
    this.legacy(); // an unreadable record is a startup error, not a silent re-use of tokens
  }

  private valid(): Set<string> {
    // Re-read each time: the operator adds tokens without restarting the endpoint.
    let text = "";
    try {
      text = readFileSync(this.tokensFile, "utf8");
    } catch {
      return new Set();
    }
    return new Set(text.split("\n").map((l) => l.trim()).filter((l) => l && !l.startsWith("#")));
  }

  private legacy(): Record<string, Activation> {
    try {
      return JSON.parse(readFileSync(this.legacyFile, "utf8"));
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === "ENOENT") return {};
      throw new Error(`${this.legacyFile}: ${(e as Error).message}`);
    }
  }

  /** Consumes the token for deviceId; false if unknown or already used (here or by another process). */
  consume(token: string, deviceId: string): boolean {
    if (!this.valid().has(token) || this.legacy()[token]) return false;
    const claim = join(this.claimDir, `${createHash("sha256").update(token).digest("hex")}.json`);
    const tmp = join(this.claimDir, `.tmp-${process.pid}-${randomBytes(6).toString("hex")}`);
    const record: Activation = { device_id: deviceId, at: new Date().toISOString() };
    const fd = openSync(tmp, "wx", 0o600);
    try {
      writeSync(fd, JSON.stringify(record) + "\n");
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    try {
      linkSync(tmp, claim);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === "EEXIST") return false;
      throw e;
    } finally {
      unlinkSync(tmp);
    }
    // The claim must survive a power cut before the device hears its key.
    const dfd = openSync(this.claimDir, "r");
    try {
      fsyncSync(dfd);
    } finally {
      closeSync(dfd);
    }
    return true;
  }

  /** Tokens used so far, by any process sharing state_dir. */
  get activations(): number {
    const claims = readdirSync(this.claimDir).filter((f) => f.endsWith(".json")).length;
    return claims + Object.keys(this.legacy()).length;
  }
}
