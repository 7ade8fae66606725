/**
 * Reading back the fMP4 segment files the recorder writes (ftyp + moov, then moof + mdat
 * fragments, tfdt in 90 kHz ticks since the Unix epoch): where each complete fragment lies and
 * which decode times it covers, for crash recovery (a file cut short is truncated to its last
 * complete fragment), index rebuilds and playback. Also the in-place rewrite of a fragment's
 * decode time and sequence number, so a range played back or exported starts near zero.
 */

import { closeSync, fstatSync, openSync, readSync } from "node:fs";

export interface FragmentInfo {
  /** Byte offset of the moof and the end of its mdat. */
  offset: number;
  end: number;
  /** First decode time and the sum of the first track's sample durations (90 kHz ticks). */
  baseTime: number;
  duration: number;
}

export interface SegmentScan {
  /** Bytes of ftyp + moov (the init segment), 0 when the file does not start with one. */
  initEnd: number;
  fragments: FragmentInfo[];
  /** Bytes that hold whole boxes: init plus complete fragments. */
  completeEnd: number;
  size: number;
}

/** Top-level boxes larger than this are not ours (a 10 s segment at 50 Mbit/s is ~60 MB). */
const MAX_BOX = 512 * 1024 * 1024;
/** The recorder's video clock, which segment times and shifts are given in. */
const TICKS_PER_S = 90_000;

/** Walks the file's top-level boxes; stops at the first incomplete or implausible one. */
export function scanSegmentFile(path: string): SegmentScan {
  const fd = openSync(path, "r");
  try {
    const size = fstatSync(fd).size;
    const head = Buffer.alloc(8);
    let at = 0, initEnd = 0, completeEnd = 0;
    let moof: { offset: number; data: Buffer } | null = null;
    const fragments: FragmentInfo[] = [];
    while (at + 8 <= size) {
      if (readSync(fd, head, 0, 8, at) < 8) break;
      const len = head.readUInt32BE(0), type = head.toString("latin1", 4, 8);
      if (len < 8 || len > MAX_BOX || at + len > size) break;
      if (type === "ftyp" || type === "moov") {
        if (fragments.length || moof) break;
        if (type === "moov") initEnd = completeEnd = at + len;
      } else if (type === "moof") {
        if (!initEnd) break;
        const data = Buffer.alloc(len);
        readSync(fd, data, 0, len, at);
        moof = { offset: at, data };
      } else if (type === "mdat") {
        if (!moof) break;
        const t = moofTimes(moof.data);
        if (!t) break;
        fragments.push({ offset: moof.offset, end: at + len, ...t });
        completeEnd = at + len;
        moof = null;
      } else {
        break;
      }
      at += len;
    }
    return { initEnd, fragments, completeEnd, size };
  } finally {
    closeSync(fd);
  }
}

interface Child {
  type: string;
  start: number;
  end: number;
}

function children(b: Buffer, from: number, to: number): Child[] {
  const out: Child[] = [];
  for (let at = from; at + 8 <= to; ) {
    const len = b.readUInt32BE(at);
    if (len < 8 || at + len > to) break;
    out.push({ type: b.toString("latin1", at + 4, at + 8), start: at, end: at + len });
    at += len;
  }
  return out;
}

/** Decode time and duration of a moof's first traf (tfdt + trun with per-sample durations). */
function moofTimes(moof: Buffer): { baseTime: number; duration: number } | null {
  const traf = children(moof, 8, moof.length).find((c) => c.type === "traf");
  if (!traf) return null;
  let baseTime: number | null = null, duration = 0;
  for (const c of children(moof, traf.start + 8, traf.end)) {
    if (c.type === "tfdt") {
      const v = moof[c.start + 8];
      baseTime = v === 1 ? Number(moof.readBigUInt64BE(c.start + 12)) : moof.readUInt32BE(c.start + 12);
    } else if (c.type === "trun") {
      const flags = moof.readUInt32BE(c.start + 8) & 0xffffff;
      const count = moof.readUInt32BE(c.start + 12);
      if (!(flags & 0x100)) return null; // ours always carry sample durations
      let at = c.start + 16 + (flags & 1 ? 4 : 0) + (flags & 4 ? 4 : 0);
      const per = 4 * [0x100, 0x200, 0x400, 0x800].filter((f) => flags & f).length;
      if (at + per * count > c.end) return null;
      for (let i = 0; i < count; i++, at += per) duration += moof.readUInt32BE(at);
    }
  }
  return baseTime === null ? null : { baseTime, duration };
}

/** Each track's timescale (mdhd) by track id (tkhd), from an init segment's moov. */
export function trackTimescales(init: Buffer): Map<number, number> {
  const out = new Map<number, number>();
  const moov = children(init, 0, init.length).find((c) => c.type === "moov");
  if (!moov) return out;
  for (const trak of children(init, moov.start + 8, moov.end).filter((c) => c.type === "trak")) {
    let id: number | null = null, scale: number | null = null;
    for (const c of children(init, trak.start + 8, trak.end)) {
      // tkhd v0: version/flags, creation, modification, then track_id (v1: two 64-bit times).
      if (c.type === "tkhd") id = init.readUInt32BE(c.start + (init[c.start + 8] === 1 ? 28 : 20));
      if (c.type !== "mdia") continue;
      const mdhd = children(init, c.start + 8, c.end).find((x) => x.type === "mdhd");
      if (mdhd) scale = init.readUInt32BE(mdhd.start + (init[mdhd.start + 8] === 1 ? 28 : 20));
    }
    if (id !== null && scale) out.set(id, scale);
  }
  return out;
}

/**
 * A copy of fragment bytes (moof + mdat, one or more) with every tfdt moved by -shift 90 kHz
 * ticks (converted to each track's own timescale, e.g. an audio track's sample rate, from
 * `timescales`; 90 kHz when absent) and mfhd sequence numbers renumbered from `seq`; returns the
 * next sequence number.
 */
export function rebaseFragments(data: Buffer, shift: number, seq: number, timescales?: Map<number, number>): { data: Buffer; seq: number } {
  const out = Buffer.from(data);
  for (const top of children(out, 0, out.length)) {
    if (top.type !== "moof") continue;
    for (const c of children(out, top.start + 8, top.end)) {
      if (c.type === "mfhd") out.writeUInt32BE(seq++ >>> 0, c.start + 12);
      if (c.type !== "traf") continue;
      let by = shift;
      for (const t of children(out, c.start + 8, c.end)) {
        if (t.type === "tfhd") by = Math.round((shift * (timescales?.get(out.readUInt32BE(t.start + 12)) ?? TICKS_PER_S)) / TICKS_PER_S);
        if (t.type !== "tfdt") continue;
        if (out[t.start + 8] === 1) out.writeBigUInt64BE(BigInt(Math.max(0, Number(out.readBigUInt64BE(t.start + 12)) - by)), t.start + 12);
        else out.writeUInt32BE(Math.max(0, out.readUInt32BE(t.start + 12) - by) >>> 0, t.start + 12);
      }
    }
  }
  return { data: out, seq };
}

export interface ParsedFragment {
  data: Buffer;
  baseTime: number;
  duration: number;
}

export interface ParsedSegment {
  init: Buffer;
  fragments: ParsedFragment[];
  /** All fragments, decode times moved by -shift, sequence numbers from seq. */
  rebase(shift: number, seq: number): Buffer;
  rebaseSome(frags: ParsedFragment[], shift: number, seq: number): { data: Buffer; seq: number };
}

/** A whole segment file read into memory: its init segment and whole fragments (a cut-off tail is ignored). */
export function parseSegment(buf: Buffer): ParsedSegment {
  let initEnd = 0;
  const fragments: ParsedFragment[] = [];
  let moofAt = -1;
  for (const c of children(buf, 0, buf.length)) {
    if (c.type === "moov") initEnd = c.end;
    else if (c.type === "moof") moofAt = c.start;
    else if (c.type === "mdat" && moofAt >= 0) {
      const t = moofTimes(buf.subarray(moofAt, c.start));
      if (t) fragments.push({ data: buf.subarray(moofAt, c.end), ...t });
      moofAt = -1;
    }
  }
  if (!initEnd) throw new Error("not a recorded segment (no moov)");
  const init = buf.subarray(0, initEnd);
  const scales = trackTimescales(init);
  const rebaseSome = (frags: ParsedFragment[], shift: number, seq: number) => rebaseFragments(Buffer.concat(frags.map((f) => f.data)), shift, seq, scales);
  return { init, fragments, rebaseSome, rebase: (shift, seq) => rebaseSome(fragments, shift, seq).data };
}
