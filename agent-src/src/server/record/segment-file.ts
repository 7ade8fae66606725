/**
 * One segment file being written: created as <start>.mp4.part, appended to in order (init, then
 * one fragment at a time), and on finish fsynced and renamed to <start>.mp4 — so a file under its
 * final name is always whole, and a .part left by a crash holds whole fragments up to some point
 * (the store truncates it there at the next start). A failed write (disk full) stops the file at
 * the last fragment that was written completely: finish() cuts it back to that and keeps it.
 */

import { mkdir, open, rename, unlink, type FileHandle } from "node:fs/promises";
import { dirname } from "node:path";

/** Bytes queued but not yet written; beyond this the disk is not keeping up and the segment is cut. */
const MAX_QUEUED = 16 * 1024 * 1024;

export class SegmentFile {
  private fh: Promise<FileHandle>;
  private chain: Promise<void> = Promise.resolve();
  private queued = 0;
  /** Bytes known to be on disk as whole boxes. */
  private good = 0;
  /** Decode time (ticks) where the last fragment written completely ends. */
  goodEndTicks: number;
  fragmentsWritten = 0;
  failed: Error | null = null;
  onError: ((e: Error) => void) | null = null;
  /** A fragment is on disk (in the page cache) whole. */
  onFragment: (() => void) | null = null;
  private readonly part: string;

  constructor(readonly path: string, readonly startTicks: number) {
    this.part = path + ".part";
    this.goodEndTicks = startTicks;
    // The day folder first (usually there already).
    this.fh = mkdir(dirname(path), { recursive: true }).then(() => open(this.part, "wx"));
    this.fh.catch((e: Error) => this.fail(e));
  }

  /** `endTicks`: where this piece's media ends (null for the init segment). */
  append(buf: Buffer, endTicks: number | null): void {
    if (this.failed) return;
    if (this.queued + buf.length > MAX_QUEUED) return this.fail(Object.assign(new Error("disk too slow: write queue over 16 MiB"), { code: "ESLOW" }));
    this.queued += buf.length;
    this.chain = this.chain.then(async () => {
      if (this.failed) return;
      const fh = await this.fh;
      try {
        let off = 0;
        while (off < buf.length) off += (await fh.write(buf, off, buf.length - off, this.good + off)).bytesWritten;
      } catch (e) {
        return this.fail(e as Error);
      } finally {
        this.queued -= buf.length;
      }
      this.good += buf.length;
      if (endTicks !== null) {
        this.goodEndTicks = endTicks;
        this.fragmentsWritten++;
        this.onFragment?.();
      }
    });
  }

  private fail(e: Error): void {
    if (this.failed) return;
    this.failed = e;
    this.onError?.(e);
  }

  /** Closes the file: renamed into place with its whole fragments (bytes returned), or removed (null) when it has none. */
  async finish(): Promise<number | null> {
    await this.chain;
    let fh: FileHandle;
    try {
      fh = await this.fh;
    } catch {
      return null;
    }
    try {
      if (!this.fragmentsWritten) {
        await fh.close();
        await unlink(this.part).catch(() => {});
        return null;
      }
      if (this.failed) await fh.truncate(this.good);
      await fh.sync();
      await fh.close();
      await rename(this.part, this.path);
      return this.good;
    } catch (e) {
      this.fail(e as Error);
      await fh.close().catch(() => {});
      // Left as .part: the next start truncates it to its whole fragments.
      return null;
    }
  }
}
