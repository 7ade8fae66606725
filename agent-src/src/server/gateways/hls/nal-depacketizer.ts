/**
 * H.264 (RFC 6184) and H.265 (RFC 7798) over RTP back into access units for the fMP4 writer:
 * single NAL unit packets, aggregation packets (STAP-A / AP) and fragmentation units (FU-A / FU)
 * reassembled into whole NAL units, grouped by RTP timestamp (and the marker bit) into one access
 * unit per picture. A lost or skipped packet (sequence gap) drops the damaged unit and everything
 * up to the next keyframe, so the writer never gets a picture the decoder cannot reconstruct.
 * The latest parameter sets (in-band, or the SDP's) are kept for the init segment.
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

/** Where the codecs differ: NAL header size and type field, the aggregation and fragmentation packet types. */
export interface NalSyntax {
  headerBytes: 1 | 2;
  type(nal: Buffer): number;
  /** STAP-A (H.264) / AP (H.265) packet type. */
  aggregate: number;
  /** FU-A (H.264) / FU (H.265) packet type. */
  fragment: number;
  /** The reassembled NAL unit's header from a fragmentation unit's payload. */
  fuHeader(payload: Buffer): Buffer;
  isKey(type: number): boolean;
  isVcl(type: number): boolean;
  isParamSet(type: number): boolean;
  /** Access unit delimiter type: mp4 samples carry none. */
  delimiter: number;
}

export class NalDepacketizer {
  /** The latest parameter set of each type (in-band or from the SDP). */
  readonly params = new Map<number, Buffer>();
  private nals: Buffer[] = [];
  private auTs: number | null = null;
  private fu: Buffer[] | null = null;
  private fuBytes = 0;
  private lastSeq: number | null = null;
  private broken = true; // wait for a keyframe
  private damaged = false;
  private lastRaw: number | null = null;
  private high = 0;
  onUnit: ((au: AccessUnit) => void) | null = null;

  /** `sprop`: the SDP's base64 parameter sets, comma-separated. */
  constructor(private readonly syn: NalSyntax, sprop?: string) {
    for (const b64 of (sprop ?? "").split(",").filter(Boolean)) {
      const nal = Buffer.from(b64, "base64");
      if (nal.length > syn.headerBytes && syn.isParamSet(syn.type(nal))) this.params.set(syn.type(nal), nal);
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
    const syn = this.syn, hb = syn.headerBytes;
    if (p.length < hb) return;
    const t = syn.type(p);
    if (t === syn.aggregate) {
      for (let i = hb; i + 2 <= p.length; ) {
        const n = (p[i] << 8) | p[i + 1];
        if (n === 0 || i + 2 + n > p.length) break;
        this.nal(Buffer.from(p.subarray(i + 2, i + 2 + n)));
        i += 2 + n;
      }
    } else if (t === syn.fragment) {
      if (p.length < hb + 1) return;
      const fh = p[hb];
      const start = (fh & 0x80) !== 0, end = (fh & 0x40) !== 0;
      if (start) {
        this.fu = [syn.fuHeader(p)];
        this.fuBytes = hb;
      }
      if (this.fu) {
        this.fu.push(Buffer.from(p.subarray(hb + 1)));
        this.fuBytes += p.length - hb - 1;
        if (this.fuBytes > MAX_NAL) {
          this.fu = null;
          this.damaged = true;
        } else if (end) {
          this.nal(Buffer.concat(this.fu, this.fuBytes));
          this.fu = null;
        }
      }
    } else if (hb === 2 ? t < 48 : t >= 1 && t <= 23) {
      this.nal(Buffer.from(p));
    }
    if (h.marker) this.flush();
  }

  private nal(n: Buffer): void {
    if (n.length < this.syn.headerBytes) return;
    const t = this.syn.type(n);
    if (this.syn.isParamSet(t)) this.params.set(t, n);
    if (t === this.syn.delimiter) return; // access unit delimiters: mp4 samples need none
    this.nals.push(n);
  }

  private flush(): void {
    const nals = this.nals, ts = this.auTs, damaged = this.damaged || this.fu !== null;
    this.nals = [];
    this.fu = null;
    this.damaged = false;
    this.auTs = null;
    if (ts === null || !nals.length) return;
    const key = nals.some((n) => this.syn.isKey(this.syn.type(n)));
    const vcl = nals.some((n) => this.syn.isVcl(this.syn.type(n)));
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
export function rbsp(nal: Buffer): Buffer {
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

export class Bits {
  private pos = 0;
  constructor(private readonly b: Buffer) {}
  bit(): number {
    if (this.pos >= this.b.length * 8) throw new Error("parameter set truncated");
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
