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
  /** Lines in the index file (additions and removals since it was last compacted). */
  private logLines = 0;

  constructor(readonly dir: string) {}

  private get indexFile(): string {
    return join(this.dir, "index.tsv");
  }

  /**
   * Recovers partial segments, then loads the index, checked against the folder listing (names
   * only: no file is opened or stat'ed unless the index lacks it, so a start with months of
   * archive stays quick). Files the index lacks are read and added, entries without a file
   * dropped; then the index is written compacted. Synchronous: once per device before recording.
   */
  open(): OpenReport {
    mkdirSync(this.dir, { recursive: true });
    const report: OpenReport = { recovered: 0, dropped: 0, rebuilt: false };
    const found: string[] = [];
    for (const day of readdirSync(this.dir)) {
      if (!/^\d{4}-\d{2}-\d{2}$/.test(day)) continue;
      for (const f of readdirSync(join(this.dir, day))) {
        const rel = `${day}/${f}`;
        if (/^\d{13}\.mp4\.part$/.test(f)) {
          if (this.recoverPartial(rel)) {
            report.recovered++;
            found.push(rel.slice(0, -".part".length));
          } else {
            report.dropped++;
          }
        } else if (/^\d{13}\.mp4$/.test(f)) {
          found.push(rel);
        }
      }
    }
    const log = this.readIndex();
    const indexed = log?.segments ?? new Map<string, StoredSegment>();
    this.segments = [];
    for (const rel of found) {
      let seg = indexed.get(rel);
      if (!seg) {
        report.rebuilt = true;
        const path = join(this.dir, rel);
        seg = describe(path, rel, statSync(path).size) ?? undefined;
      }
      if (seg) this.segments.push(seg);
    }
    if (!log || indexed.size !== this.segments.length) report.rebuilt = true;
    this.segments.sort((a, b) => a.startMs - b.startMs);
    if (report.rebuilt || !log || log.lines !== this.segments.length) this.writeIndex();
    this.bytes = this.segments.reduce((n, x) => n + x.bytes, 0);
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

  /** The index log replayed: "start dur bytes rel" adds a segment, "- rel" removes one. Null when missing or unreadable. */
  private readIndex(): { segments: Map<string, StoredSegment>; lines: number } | null {
    if (!existsSync(this.indexFile)) return null;
    const segments = new Map<string, StoredSegment>();
    let lines = 0;
    for (const line of readFileSync(this.indexFile, "utf8").split("\n")) {
      if (!line) continue;
      lines++;
      const f = line.split("\t");
      if (f[0] === "-" && f.length === 2) {
        segments.delete(f[1]);
        continue;
      }
      const [a, b, c, rel] = f;
      const seg = { startMs: Number(a), durationMs: Number(b), bytes: Number(c), rel };
      if (f.length !== 4 || !rel || ![seg.startMs, seg.durationMs, seg.bytes].every(Number.isFinite)) return null;
      segments.set(rel, seg);
    }
    return { segments, lines };
  }

  private writeIndex(): void {
    this.logLines = this.segments.length;
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
    this.logLines++;
  }

  /** Removes the oldest segments while `more` says so; returns how many went. Each is a line appended to the index. */
  dropOldest(more: (oldest: StoredSegment) => boolean): number {
    let n = 0;
    const removed: string[] = [];
    while (this.segments.length && more(this.segments[0])) {
      const s = this.segments.shift()!;
      this.bytes -= s.bytes;
      removed.push(`-\t${s.rel}\n`);
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
    if (n) {
      // Compacted now and then, so the index stays about one line per segment.
      this.logLines += n;
      if (this.logLines > 2 * this.segments.length + 1000) this.writeIndex();
      else appendFileSync(this.indexFile, removed.join(""));
    }
    return n;
  }

  /** Segments that overlap [fromMs, toMs) (a binary search: an archive holds ~260 000 segments a month). */
  overlapping(fromMs: number, toMs: number): StoredSegment[] {
    // Segments do not overlap each other: the first candidate is the last one starting at or before fromMs.
    let lo = 0, hi = this.segments.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (this.segments[mid].startMs <= fromMs) lo = mid + 1;
      else hi = mid;
    }
    const out: StoredSegment[] = [];
    for (let i = Math.max(0, lo - 1); i < this.segments.length && this.segments[i].startMs < toMs; i++) {
      const s = this.segments[i];
      if (s.startMs + s.durationMs > fromMs) out.push(s);
    }
    return out;
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
