/**
 * One-time activation tokens. The operator lists tokens in tokens_file (one per line, or made with
 * `flussonic-streamer new-token`); a token activates exactly one device, and the use is recorded
 * atomically in state_dir/activations.json before the device hears its key.
 */

import { readFileSync } from "node:fs";
import { join } from "node:path";
import { writeFileAtomicSync } from "../platform/node";

export interface Activation {
  device_id: string;
  at: string;
}

export class TokenStore {
  private used: Record<string, Activation>;
  private readonly usedFile: string;

  constructor(private readonly tokensFile: string, stateDir: string) {
    this.usedFile = join(stateDir, "activations.json");
    try {
      this.used = JSON.parse(readFileSync(this.usedFile, "utf8"));
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== "ENOENT") throw new Error(`${this.usedFile}: ${(e as Error).message}`);
      this.used = {};
    }
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

  /** Consumes the token for deviceId; false if unknown or already used. */
  consume(token: string, deviceId: string): boolean {
    if (this.used[token] || !this.valid().has(token)) return false;
    const next = { ...this.used, [token]: { device_id: deviceId, at: new Date().toISOString() } };
    writeFileAtomicSync(this.usedFile, JSON.stringify(next, null, 1) + "\n");
    this.used = next;
    return true;
  }

  get activations(): number {
    return Object.keys(this.used).length;
  }
}
