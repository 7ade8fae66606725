/**
 * Fragmented MP4 (ISO/IEC 14496-12, CMAF-shaped) written box by box: the init segment (ftyp +
 * moov with an empty sample table and mvex; avc1/hvc1 video, mp4a audio) and media fragments (moof + mdat, one traf per track,
 * default-base-is-moof, tfdt v1). Each LL-HLS partial segment is one fragment, so fragments must
 * start anywhere in a GOP: that is why these boxes are ours and not a muxing library's (see
 * docs/server.md "Browsers: HLS").
 */

export function box(type: string, ...parts: Buffer[]): Buffer {
  const size = 8 + parts.reduce((n, p) => n + p.length, 0);
  const head = Buffer.alloc(8);
  head.writeUInt32BE(size, 0);
  head.write(type, 4, "latin1");
  return Buffer.concat([head, ...parts], size);
}

function full(type: string, version: number, flags: number, ...parts: Buffer[]): Buffer {
  const vf = Buffer.alloc(4);
  vf.writeUInt32BE(((version & 0xff) << 24) | (flags & 0xffffff), 0);
  return box(type, vf, ...parts);
}

function u32(...v: number[]): Buffer {
  const b = Buffer.alloc(4 * v.length);
  v.forEach((x, i) => b.writeUInt32BE(x >>> 0, 4 * i));
  return b;
}

function u16(...v: number[]): Buffer {
  const b = Buffer.alloc(2 * v.length);
  v.forEach((x, i) => b.writeUInt16BE(x & 0xffff, 2 * i));
  return b;
}

const MATRIX = u32(0x10000, 0, 0, 0, 0x10000, 0, 0, 0, 0x40000000);

export interface VideoTrackInfo {
  kind: "video";
  id: number;
  timescale: number;
  width: number;
  height: number;
  /** Sample entry type and its configuration box: "avc1" + avcC, or "hvc1" + hvcC. */
  entry: "avc1" | "hvc1";
  config: Buffer;
}

function videoEntry(t: VideoTrackInfo): Buffer {
  const compressor = Buffer.alloc(32);
  return box(t.entry,
    Buffer.alloc(6), u16(1), // reserved, data_reference_index
    Buffer.alloc(16), u16(t.width, t.height), u32(0x480000, 0x480000, 0), u16(1), compressor, u16(0x18, 0xffff),
    box(t.entry === "avc1" ? "avcC" : "hvcC", t.config));
}

export interface AudioTrackInfo {
  kind: "audio";
  id: number;
  /** The sample rate. */
  timescale: number;
  channels: number;
  /** AAC AudioSpecificConfig (ISO/IEC 14496-3), carried in the esds box. */
  config: Buffer;
}

export type TrackInfo = VideoTrackInfo | AudioTrackInfo;

/** An MPEG-4 descriptor: tag, one-byte length (ours are all < 128 bytes), body. */
function descriptor(tag: number, ...parts: Buffer[]): Buffer {
  const body = Buffer.concat(parts);
  if (body.length > 127) throw new Error("descriptor too long");
  return Buffer.concat([Buffer.from([tag, body.length]), body]);
}

function audioEntry(t: AudioTrackInfo): Buffer {
  const esds = full("esds", 0, 0, descriptor(3, u16(t.id), Buffer.from([0]),
    descriptor(4, Buffer.from([0x40, 0x15, 0, 0, 0]), u32(0, 0), descriptor(5, t.config)),
    descriptor(6, Buffer.from([2]))));
  return box("mp4a",
    Buffer.alloc(6), u16(1), // reserved, data_reference_index
    u32(0, 0), u16(Math.min(t.channels, 2) || 2, 16), u16(0, 0), u32((t.timescale & 0xffff) * 65536), esds);
}

function trak(t: TrackInfo): Buffer {
  const video = t.kind === "video";
  const tkhd = video
    ? full("tkhd", 0, 3, u32(0, 0, t.id, 0, 0, 0, 0), u16(0, 0, 0, 0), MATRIX, u32(t.width * 65536, t.height * 65536))
    : full("tkhd", 0, 3, u32(0, 0, t.id, 0, 0, 0, 0), u16(0, 1, 0x100, 0), MATRIX, u32(0, 0));
  const mdhd = full("mdhd", 0, 0, u32(0, 0, t.timescale, 0), u16(0x55c4, 0));
  const hdlr = full("hdlr", 0, 0, u32(0), Buffer.from(video ? "vide" : "soun", "latin1"), u32(0, 0, 0), Buffer.from(video ? "VideoHandler\0" : "SoundHandler\0", "latin1"));
  const mhd = video ? full("vmhd", 0, 1, u16(0, 0, 0, 0)) : full("smhd", 0, 0, u16(0, 0));
  const dinf = box("dinf", full("dref", 0, 0, u32(1), full("url ", 0, 1)));
  const stbl = box("stbl",
    full("stsd", 0, 0, u32(1), video ? videoEntry(t) : audioEntry(t)),
    full("stts", 0, 0, u32(0)), full("stsc", 0, 0, u32(0)), full("stsz", 0, 0, u32(0, 0)), full("stco", 0, 0, u32(0)));
  return box("trak", tkhd, box("mdia", mdhd, hdlr, box("minf", mhd, dinf, stbl)));
}

/** ftyp + moov for the given tracks. */
export function initSegment(tracks: TrackInfo[]): Buffer {
  const ftyp = box("ftyp", Buffer.from("iso6", "latin1"), u32(0), Buffer.from("iso6cmfcisomdash", "latin1"));
  const mvhd = full("mvhd", 0, 0, u32(0, 0, 1000, 0, 0x10000), u16(0x100, 0), u32(0, 0), MATRIX, Buffer.alloc(24), u32(Math.max(0, ...tracks.map((t) => t.id)) + 1));
  const mvex = box("mvex", ...tracks.map((t) => full("trex", 0, 0, u32(t.id, 1, 0, 0, 0))));
  return Buffer.concat([ftyp, box("moov", mvhd, ...tracks.map(trak), mvex)]);
}

export interface Sample {
  duration: number;
  data: Buffer;
  key: boolean;
}

export interface TrackRun {
  trackId: number;
  /** Decode time of the first sample, in the track's timescale. */
  baseTime: number;
  samples: Sample[];
}

const KEY_FLAGS = 0x02000000; // sample_depends_on 2 (an I picture)
const DELTA_FLAGS = 0x01010000; // sample_depends_on 1, sample_is_non_sync_sample

/** One fragment: moof (one traf per run) + mdat with the runs' samples in order. */
export function fragment(sequence: number, runs: TrackRun[]): Buffer {
  const trafs = (offsets: number[]) => runs.map((r, i) => {
    const tfhd = full("tfhd", 0, 0x020000, u32(r.trackId));
    const base = Buffer.alloc(8);
    base.writeBigUInt64BE(BigInt(Math.max(0, Math.round(r.baseTime))));
    const tfdt = full("tfdt", 1, 0, base);
    const entries = Buffer.alloc(12 * r.samples.length);
    r.samples.forEach((s, j) => {
      entries.writeUInt32BE(s.duration >>> 0, 12 * j);
      entries.writeUInt32BE(s.data.length, 12 * j + 4);
      entries.writeUInt32BE(s.key ? KEY_FLAGS : DELTA_FLAGS, 12 * j + 8);
    });
    const trun = full("trun", 0, 0x000701, u32(r.samples.length, offsets[i]), entries);
    return box("traf", tfhd, tfdt, trun);
  });
  const mfhd = full("mfhd", 0, 0, u32(sequence));
  const moofSize = box("moof", mfhd, ...trafs(runs.map(() => 0))).length;
  const offsets: number[] = [];
  let at = moofSize + 8;
  for (const r of runs) {
    offsets.push(at);
    at += r.samples.reduce((n, s) => n + s.data.length, 0);
  }
  const moof = box("moof", mfhd, ...trafs(offsets));
  return Buffer.concat([moof, box("mdat", ...runs.flatMap((r) => r.samples.map((s) => s.data)))]);
}

/** An H.264/H.265 access unit as an mp4 sample: each NAL unit behind a 4-byte length. */
export function lengthPrefixed(nals: Buffer[]): Buffer {
  const parts: Buffer[] = [];
  for (const n of nals) parts.push(u32(n.length), n);
  return Buffer.concat(parts);
}
