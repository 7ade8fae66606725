/**
 * H.264 (ITU-T H.264, RFC 6184) for the fMP4 writer: the RTP syntax the depacketizer needs, the
 * SPS fields the mp4 sample entry needs (size, RFC 6381 codec string) and the avcC record.
 */

import { NalDepacketizer, rbsp, Bits, type NalSyntax } from "./nal-depacketizer";

export type { AccessUnit } from "./nal-depacketizer";

export const H264_SYNTAX: NalSyntax = {
  headerBytes: 1,
  type: (n) => n[0] & 0x1f,
  aggregate: 24,
  fragment: 28,
  fuHeader: (p) => Buffer.from([(p[0] & 0xe0) | (p[1] & 0x1f)]),
  isKey: (t) => t === 5,
  isVcl: (t) => t >= 1 && t <= 5,
  isParamSet: (t) => t === 7 || t === 8,
  delimiter: 9,
};

/** H.264 over RTP back into access units; `sps`/`pps` are the latest parameter sets seen. */
export class H264Depacketizer extends NalDepacketizer {
  constructor(sprop?: string) {
    super(H264_SYNTAX, sprop);
  }
  get sps(): Buffer | null {
    return this.params.get(7) ?? null;
  }
  get pps(): Buffer | null {
    return this.params.get(8) ?? null;
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
