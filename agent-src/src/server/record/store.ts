/**
 * One device's archive on disk: <root>/<device>/<YYYY-MM-DD>/<start ms>.mp4 (UTC day of the
 * start), each a self-contained fMP4 segment, and <root>/<device>/index.tsv, one line per
 * finished segment: start ms, duration ms, bytes, path relative to the device folder.
 *
 * The files are the truth, the index a fast path: at open, a segment still being written when
 * the streamer died (<start>.mp4.part) is truncated to its last complete fragment and finished,
 * or removed if nothing complete is left; then the folders are listed and, if the index does not
 * name exactly the files found (lost, cut short, stale), it is rebuilt from the files themselves
 * and written anew (temp file + fsync + rename).
 */

import { closeSync, existsSync, fsyncSync, mkdirSync, openSync, readdirSync, readFileSync, renameSync, rmdirSync, statSync, truncateSync, unlinkSync, writeFileSync, appendFileSync } from "node:fs";
import { join } from "node:path";
import { scanSegmentFile } from "./fmp4-file";

/** Decode times are 90 kHz ticks since the Unix epoch. */
export const TICKS_PER_MS = 90;

export interface StoredSegment {
  startMs: number;
  durationMs: number;
  bytes: number;
  /** Relative to the device folder: "2026-12-02/1764670000000.mp4". */
  rel: string;
}

export interface OpenReport {
  recovered: number;
  dropped: number;
  rebuilt: boolean;
}

export function dayFolder(ms: number): string {
  return new Date(ms).toISOString().slice(0, 10);
}

export class DeviceStore {
  /** Sorted by start. */
  segments: StoredSegment[] = [];
  bytes = 0;

  constructor(readonly dir: string) {}

  private get indexFile(): string {
    return join(this.dir, "index.tsv");
  }

  /** Recovers partial segments, loads or rebuilds the index. Synchronous: done once per device before recording. */
  open(): OpenReport {
    mkdirSync(this.dir, { recursive: true });
    const report: OpenReport = { recovered: 0, dropped: 0, rebuilt: false };
    const found = new Map<string, number>();
    for (const day of readdirSync(this.dir)) {
      if (!/^\d{4}-\d{2}-\d{2}$/.test(day)) continue;
      for (const f of readdirSync(join(this.dir, day))) {
        const rel = `${day}/${f}`;
        if (/^\d{13}\.mp4\.part$/.test(f)) {
          if (this.recoverPartial(rel)) {
            report.recovered++;
            const done = rel.slice(0, -".part".length);
            found.set(done, statSync(join(this.dir, done)).size);
          } else {
            report.dropped++;
          }
          continue;
        }
        if (/^\d{13}\.mp4$/.test(f)) found.set(rel, statSync(join(this.dir, rel)).size);
      }
    }
    const indexed = this.readIndex();
    const same = indexed !== null && indexed.length === found.size && indexed.every((s) => found.get(s.rel) === s.bytes);
    if (same) {
      this.segments = indexed!;
    } else {
      report.rebuilt = true;
      this.segments = [];
      for (const [rel, bytes] of found) {
        const s = describe(join(this.dir, rel), rel, bytes);
        if (s) this.segments.push(s);
      }
      this.segments.sort((a, b) => a.startMs - b.startMs);
      this.writeIndex();
    }
    this.bytes = this.segments.reduce((n, s) => n + s.bytes, 0);
    return report;
  }

  /** A segment the streamer was writing when it died: keep its complete fragments, if any. */
  private recoverPartial(rel: string): boolean {
    const path = join(this.dir, rel);
    let scan;
    try {
      scan = scanSegmentFile(path);
    } catch {
      unlinkSync(path);
      return false;
    }
    if (!scan.fragments.length) {
      unlinkSync(path);
      return false;
    }
    if (scan.completeEnd < scan.size) truncateSync(path, scan.completeEnd);
    const fd = openSync(path, "r+");
    fsyncSync(fd);
    closeSync(fd);
    renameSync(path, path.slice(0, -".part".length));
    return true;
  }

  private readIndex(): StoredSegment[] | null {
    if (!existsSync(this.indexFile)) return null;
    const out: StoredSegment[] = [];
    for (const line of readFileSync(this.indexFile, "utf8").split("\n")) {
      if (!line) continue;
      const [a, b, c, rel] = line.split("\t");
      const s = { startMs: Number(a), durationMs: Number(b), bytes: Number(c), rel };
      if (!rel || ![s.startMs, s.durationMs, s.bytes].every(Number.isFinite)) return null;
      out.push(s);
    }
    out.sort((x, y) => x.startMs - y.startMs);
    return out;
  }

  private writeIndex(): void {
    const tmp = this.indexFile + ".tmp";
    writeFileSync(tmp, this.segments.map(line).join(""));
    const fd = openSync(tmp, "r");
    fsyncSync(fd);
    closeSync(fd);
    renameSync(tmp, this.indexFile);
  }

  /** A finished segment (already renamed into place). The index line is appended, not fsynced: a lost one is rebuilt. */
  add(s: StoredSegment): void {
    let i = this.segments.length;
    while (i > 0 && this.segments[i - 1].startMs > s.startMs) i--;
    this.segments.splice(i, 0, s);
    this.bytes += s.bytes;
    appendFileSync(this.indexFile, line(s));
  }

  /** Removes the oldest segments while `more` says so; returns how many went. */
  dropOldest(more: (oldest: StoredSegment) => boolean): number {
    let n = 0;
    while (this.segments.length && more(this.segments[0])) {
      const s = this.segments.shift()!;
      this.bytes -= s.bytes;
      try {
        unlinkSync(join(this.dir, s.rel));
      } catch {
        // already gone: the index forgets it all the same
      }
      const day = join(this.dir, s.rel.split("/")[0]);
      try {
        if (!readdirSync(day).length) rmdirSync(day);
      } catch {
        // not empty or gone
      }
      n++;
    }
    if (n) this.writeIndex();
    return n;
  }

  /** Segments that overlap [fromMs, toMs). */
  overlapping(fromMs: number, toMs: number): StoredSegment[] {
    return this.segments.filter((s) => s.startMs < toMs && s.startMs + s.durationMs > fromMs);
  }

  path(s: StoredSegment): string {
    return join(this.dir, s.rel);
  }

  get oldestMs(): number | null {
    return this.segments[0]?.startMs ?? null;
  }

  get newestMs(): number | null {
    const s = this.segments[this.segments.length - 1];
    return s ? s.startMs + s.durationMs : null;
  }
}

function line(s: StoredSegment): string {
  return `${s.startMs}\t${s.durationMs}\t${s.bytes}\t${s.rel}\n`;
}

/** Start and duration of a finished segment file, from its fragments. */
function describe(path: string, rel: string, bytes: number): StoredSegment | null {
  try {
    const scan = scanSegmentFile(path);
    const f = scan.fragments;
    if (!f.length) return null;
    const last = f[f.length - 1];
    const startMs = Math.round(f[0].baseTime / TICKS_PER_MS);
    return { startMs, durationMs: Math.round((last.baseTime + last.duration) / TICKS_PER_MS) - startMs, bytes, rel };
  } catch {
    return null;
  }
}
