/**
 * H.264 over RTP (RFC 6184) back into access units for the HLS muxer: single NAL unit packets,
 * STAP-A aggregates and FU-A fragments reassembled into whole NAL units, grouped by RTP timestamp
 * (and the marker bit) into one access unit per picture. A lost or skipped packet (sequence gap)
 * drops the damaged unit and everything up to the next IDR, so the muxer never writes a picture
 * the decoder cannot reconstruct. Also: SPS/PPS kept for the init segment (in-band, or the SDP's
 * sprop-parameter-sets), and the SPS fields the mp4 sample entry needs.
 */

import { parseRtp } from "../../media/rtp/packet";

export interface AccessUnit {
  /** 90 kHz RTP timestamp, unwrapped (monotonic across the 32-bit wrap). */
  ts: number;
  nals: Buffer[];
  /** Contains an IDR picture. */
  key: boolean;
}

/** Largest NAL unit we reassemble (a 4K intra frame fits easily); larger ones are dropped as garbage. */
const MAX_NAL = 8 * 1024 * 1024;

export class H264Depacketizer {
  sps: Buffer | null = null;
  pps: Buffer | null = null;
  private nals: Buffer[] = [];
  private auTs: number | null = null;
  private fu: Buffer[] | null = null;
  private fuBytes = 0;
  private lastSeq: number | null = null;
  private broken = true; // wait for an IDR
  private damaged = false;
  private lastRaw: number | null = null;
  private high = 0;
  onUnit: ((au: AccessUnit) => void) | null = null;

  constructor(sprop?: string) {
    for (const b64 of (sprop ?? "").split(",").filter(Boolean)) {
      const nal = Buffer.from(b64, "base64");
      this.paramSet(nal);
    }
  }

  /** A new camera session (or a viewer restart): nothing carries over but the parameter sets. */
  reset(): void {
    this.nals = [];
    this.auTs = null;
    this.fu = null;
    this.lastSeq = null;
    this.broken = true;
    this.damaged = false;
  }

  private paramSet(nal: Buffer): void {
    const t = nal[0] & 0x1f;
    if (t === 7 && nal.length >= 4) this.sps = Buffer.from(nal);
    if (t === 8 && nal.length >= 1) this.pps = Buffer.from(nal);
  }

  private unwrap(ts: number): number {
    if (this.lastRaw !== null) {
      const d = (ts - this.lastRaw) | 0; // signed 32-bit difference
      this.high += d;
    } else {
      this.high = ts;
    }
    this.lastRaw = ts;
    return this.high;
  }

  push(pkt: Buffer): void {
    const h = parseRtp(pkt);
    if (!h || h.payloadEnd - h.payloadStart < 1) return;
    if (this.lastSeq !== null && h.seq !== ((this.lastSeq + 1) & 0xffff)) {
      this.damaged = true;
      this.fu = null;
    }
    this.lastSeq = h.seq;
    const ts = this.unwrap(h.timestamp);
    if (this.auTs !== null && ts !== this.auTs) this.flush();
    this.auTs = ts;
    const p = pkt.subarray(h.payloadStart, h.payloadEnd);
    const t = p[0] & 0x1f;
    if (t >= 1 && t <= 23) this.nal(Buffer.from(p));
    else if (t === 24) {
      for (let i = 1; i + 2 <= p.length; ) {
        const n = (p[i] << 8) | p[i + 1];
        if (n === 0 || i + 2 + n > p.length) break;
        this.nal(Buffer.from(p.subarray(i + 2, i + 2 + n)));
        i += 2 + n;
      }
    } else if (t === 28 && p.length >= 2) {
      const start = (p[1] & 0x80) !== 0, end = (p[1] & 0x40) !== 0;
      if (start) {
        this.fu = [Buffer.from([(p[0] & 0xe0) | (p[1] & 0x1f)])];
        this.fuBytes = 1;
      }
      if (this.fu) {
        this.fu.push(Buffer.from(p.subarray(2)));
        this.fuBytes += p.length - 2;
        if (this.fuBytes > MAX_NAL) {
          this.fu = null;
          this.damaged = true;
        } else if (end) {
          this.nal(Buffer.concat(this.fu, this.fuBytes));
          this.fu = null;
        }
      }
    }
    if (h.marker) this.flush();
  }

  private nal(n: Buffer): void {
    const t = n[0] & 0x1f;
    if (t === 7 || t === 8) this.paramSet(n);
    if (t === 9) return; // access unit delimiters: mp4 samples need none
    this.nals.push(n);
  }

  private flush(): void {
    const nals = this.nals, ts = this.auTs, damaged = this.damaged || this.fu !== null;
    this.nals = [];
    this.fu = null;
    this.damaged = false;
    this.auTs = null;
    if (ts === null || !nals.length) return;
    const key = nals.some((n) => (n[0] & 0x1f) === 5);
    const vcl = nals.some((n) => (n[0] & 0x1f) >= 1 && (n[0] & 0x1f) <= 5);
    if (!vcl) return;
    if (damaged) {
      this.broken = true;
      return;
    }
    if (this.broken && !key) return;
    this.broken = false;
    this.onUnit?.({ ts, nals, key });
  }
}

/** RBSP of a NAL unit: emulation prevention bytes (00 00 03) removed. */
function rbsp(nal: Buffer): Buffer {
  const out = Buffer.allocUnsafe(nal.length);
  let n = 0, zeros = 0;
  for (const b of nal) {
    if (zeros >= 2 && b === 3) {
      zeros = 0;
      continue;
    }
    zeros = b === 0 ? zeros + 1 : 0;
    out[n++] = b;
  }
  return out.subarray(0, n);
}

class Bits {
  private pos = 0;
  constructor(private readonly b: Buffer) {}
  bit(): number {
    if (this.pos >= this.b.length * 8) throw new Error("SPS truncated");
    const v = (this.b[this.pos >> 3] >> (7 - (this.pos & 7))) & 1;
    this.pos++;
    return v;
  }
  bits(n: number): number {
    let v = 0;
    for (let i = 0; i < n; i++) v = v * 2 + this.bit();
    return v;
  }
  ue(): number {
    let zeros = 0;
    while (this.bit() === 0) if (++zeros > 31) throw new Error("bad exp-Golomb code");
    return 2 ** zeros - 1 + this.bits(zeros);
  }
  se(): number {
    const k = this.ue();
    return k & 1 ? (k + 1) / 2 : -(k / 2);
  }
}

export interface SpsInfo {
  width: number;
  height: number;
  /** RFC 6381 codec string, e.g. "avc1.42c01e". */
  codec: string;
}

/** Picture size and codec string from an SPS (ITU-T H.264 7.3.2.1.1). */
export function parseSps(sps: Buffer): SpsInfo {
  const r = new Bits(rbsp(sps).subarray(1));
  const profile = r.bits(8);
  r.bits(8);
  r.bits(8);
  r.ue();
  let chroma = 1;
  if ([100, 110, 122, 244, 44, 83, 86, 118, 128, 138, 139, 134, 135].includes(profile)) {
    chroma = r.ue();
    if (chroma === 3) r.bit();
    r.ue();
    r.ue();
    r.bit();
    if (r.bit()) {
      for (let i = 0; i < (chroma !== 3 ? 8 : 12); i++) {
        if (!r.bit()) continue;
        let last = 8, next = 8;
        for (let j = 0; j < (i < 6 ? 16 : 64); j++) {
          if (next !== 0) next = (last + r.se() + 256) % 256;
          last = next === 0 ? last : next;
        }
      }
    }
  }
  r.ue(); // log2_max_frame_num_minus4
  const pocType = r.ue();
  if (pocType === 0) r.ue();
  else if (pocType === 1) {
    r.bit();
    r.se();
    r.se();
    const n = r.ue();
    for (let i = 0; i < n; i++) r.se();
  }
  r.ue(); // max_num_ref_frames
  r.bit();
  const wMbs = r.ue() + 1;
  const hMapUnits = r.ue() + 1;
  const frameMbsOnly = r.bit();
  if (!frameMbsOnly) r.bit();
  r.bit();
  let cl = 0, cr = 0, ct = 0, cb = 0;
  if (r.bit()) {
    cl = r.ue();
    cr = r.ue();
    ct = r.ue();
    cb = r.ue();
  }
  const subW = chroma === 1 || chroma === 2 ? 2 : 1;
  const subH = chroma === 1 ? 2 : 1;
  const cropX = chroma === 0 ? 1 : subW, cropY = (chroma === 0 ? 1 : subH) * (2 - frameMbsOnly);
  const width = wMbs * 16 - cropX * (cl + cr);
  const height = (2 - frameMbsOnly) * hMapUnits * 16 - cropY * (ct + cb);
  const hex = (n: number) => n.toString(16).padStart(2, "0");
  return { width, height, codec: `avc1.${hex(sps[1])}${hex(sps[2])}${hex(sps[3])}` };
}

/** AVCDecoderConfigurationRecord (ISO/IEC 14496-15 5.3.3.1) of one SPS and one PPS. */
export function avcC(sps: Buffer, pps: Buffer): Buffer {
  const head = Buffer.from([1, sps[1], sps[2], sps[3], 0xff, 0xe1]);
  const len = (n: number) => Buffer.from([n >> 8, n & 0xff]);
  return Buffer.concat([head, len(sps.length), sps, Buffer.from([1]), len(pps.length), pps]);
}
