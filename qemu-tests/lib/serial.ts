/**
 * A line-oriented view of a QEMU chardev (unix socket): collect output, wait for a pattern with
 * a deadline, write input. Used for the camera's serial console and the test rig's control shell.
 */
import { connect, Socket } from "node:net";

export class SerialLine {
  private buf = "";
  /** Everything ever received, for diagnostics. */
  transcript = "";
  private waiters: (() => void)[] = [];
  private closed = false;

  private constructor(private sock: Socket) {
    sock.setEncoding("latin1");
    sock.on("data", (d: string) => {
      this.buf += d;
      this.transcript += d;
      if (this.transcript.length > 2_000_000) this.transcript = this.transcript.slice(-1_000_000);
      for (const w of this.waiters.splice(0)) w();
    });
    sock.on("close", () => {
      this.closed = true;
      for (const w of this.waiters.splice(0)) w();
    });
    sock.on("error", () => {});
  }

  /** Connect to a chardev socket QEMU is (about to be) listening on; retries until the deadline. */
  static async open(path: string, timeoutMs: number): Promise<SerialLine> {
    const deadline = Date.now() + timeoutMs;
    for (let attempt = 0; ; attempt++) {
      try {
        const s = await new Promise<Socket>((resolve, reject) => {
          const c = connect(path, () => resolve(c));
          c.once("error", reject);
        });
        return new SerialLine(s);
      } catch (e) {
        if (Date.now() > deadline || attempt > 1000) throw new Error(`serial ${path}: ${e}`);
        await new Promise((r) => setTimeout(r, 50));
      }
    }
  }

  write(text: string): void {
    if (!this.closed) this.sock.write(text, "latin1");
  }

  /** Drop what was received so far (so old output can't satisfy the next expect). */
  clear(): void {
    this.buf = "";
  }

  /**
   * Wait until the received text matches one of the patterns; consume through the match.
   * Returns the index of the pattern that matched and the match, or null on timeout/close.
   */
  async expect(patterns: RegExp[], timeoutMs: number): Promise<{ index: number; match: RegExpExecArray } | null> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      let best: { index: number; match: RegExpExecArray } | null = null;
      patterns.forEach((re, index) => {
        const m = re.exec(this.buf);
        if (m && (!best || m.index < best.match.index)) best = { index, match: m };
      });
      if (best) {
        const b = best as { index: number; match: RegExpExecArray };
        this.buf = this.buf.slice(b.match.index + b.match[0].length);
        return b;
      }
      const left = deadline - Date.now();
      if (left <= 0 || this.closed) return null;
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, left);
        this.waiters.push(() => {
          clearTimeout(t);
          resolve();
        });
      });
    }
  }

  close(): void {
    this.sock.destroy();
  }
}
