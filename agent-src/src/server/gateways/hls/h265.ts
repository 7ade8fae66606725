/**
 * H.265 (ITU-T H.265, RFC 7798) for the fMP4 writer: the RTP syntax the depacketizer needs, the
 * SPS fields the `hvc1` sample entry needs (size, RFC 6381 codec string) and the hvcC record
 * (ISO/IEC 14496-15 8.3.3.1). Parameter sets come from the SDP's sprop-vps/sps/pps or in-band.
 */

import { Bits, NalDepacketizer, rbsp, type NalSyntax } from "./nal-depacketizer";

const VPS = 32, SPS = 33, PPS = 34;

export const H265_SYNTAX: NalSyntax = {
  headerBytes: 2,
  type: (n) => (n[0] >> 1) & 0x3f,
  aggregate: 48,
  fragment: 49,
  // The FU header's type goes into the payload header's type field (RFC 7798 4.4.3).
  fuHeader: (p) => Buffer.from([(p[0] & 0x81) | ((p[2] & 0x3f) << 1), p[1]]),
  isKey: (t) => t >= 16 && t <= 23, // IRAP pictures: BLA, IDR, CRA
  isVcl: (t) => t <= 31,
  isParamSet: (t) => t === VPS || t === SPS || t === PPS,
  delimiter: 35,
};

/** "sprop-vps=…;sprop-sps=…;sprop-pps=…" of an fmtp line → the comma list the depacketizer takes. */
export function h265Sprop(fmtp: string): string {
  return ["vps", "sps", "pps"].map((k) => new RegExp(`sprop-${k}=([^;\\s]+)`).exec(fmtp)?.[1] ?? "").filter(Boolean).join(",");
}

export class H265Depacketizer extends NalDepacketizer {
  constructor(sprop?: string) {
    super(H265_SYNTAX, sprop);
  }
  get vps(): Buffer | null {
    return this.params.get(VPS) ?? null;
  }
  get sps(): Buffer | null {
    return this.params.get(SPS) ?? null;
  }
  get pps(): Buffer | null {
    return this.params.get(PPS) ?? null;
  }
}

export interface H265SpsInfo {
  width: number;
  height: number;
  /** RFC 6381 / ISO/IEC 14496-15 E.3 codec string, e.g. "hvc1.1.6.L93.B0". */
  codec: string;
  /** general_profile_space … general_level_idc: the 12 bytes hvcC repeats. */
  ptl: Buffer;
  chromaFormat: number;
  bitDepthLuma: number;
  bitDepthChroma: number;
  subLayers: number;
  temporalIdNested: boolean;
}

/** What the sample entry needs from an SPS (ITU-T H.265 7.3.2.2.1). */
export function parseH265Sps(sps: Buffer): H265SpsInfo {
  const raw = rbsp(sps).subarray(2);
  if (raw.length < 15) throw new Error("H.265 SPS truncated");
  const r = new Bits(raw);
  r.bits(4); // sps_video_parameter_set_id
  const maxSubLayersMinus1 = r.bits(3);
  const nested = r.bit() === 1;
  const ptl = Buffer.from(raw.subarray(1, 13));
  r.bits(96); // general profile_tier_level
  const profilePresent: number[] = [], levelPresent: number[] = [];
  for (let i = 0; i < maxSubLayersMinus1; i++) {
    profilePresent.push(r.bit());
    levelPresent.push(r.bit());
  }
  if (maxSubLayersMinus1 > 0) for (let i = maxSubLayersMinus1; i < 8; i++) r.bits(2);
  for (let i = 0; i < maxSubLayersMinus1; i++) {
    if (profilePresent[i]) r.bits(88);
    if (levelPresent[i]) r.bits(8);
  }
  r.ue(); // sps_seq_parameter_set_id
  const chroma = r.ue();
  if (chroma > 3) throw new Error("bad chroma_format_idc");
  if (chroma === 3) r.bit();
  let width = r.ue(), height = r.ue();
  if (r.bit()) {
    const subW = chroma === 1 || chroma === 2 ? 2 : 1, subH = chroma === 1 ? 2 : 1;
    const [left, right, top, bottom] = [r.ue(), r.ue(), r.ue(), r.ue()];
    width -= subW * (left + right);
    height -= subH * (top + bottom);
  }
  const bitDepthLuma = r.ue() + 8, bitDepthChroma = r.ue() + 8;
  if (width <= 0 || height <= 0 || width > 16384 || height > 16384) throw new Error(`implausible picture size ${width}x${height}`);
  return { width, height, codec: codecString(ptl), ptl, chromaFormat: chroma, bitDepthLuma, bitDepthChroma, subLayers: maxSubLayersMinus1 + 1, temporalIdNested: nested };
}

function codecString(ptl: Buffer): string {
  const space = ["", "A", "B", "C"][ptl[0] >> 6];
  const tier = (ptl[0] >> 5) & 1 ? "H" : "L";
  const profile = ptl[0] & 0x1f;
  // The compatibility flags in reverse bit order, hex without leading zeros.
  const flags = ptl.readUInt32BE(1);
  let rev = 0;
  for (let i = 0; i < 32; i++) if (flags & (1 << i)) rev |= 1 << (31 - i);
  const constraints = [...ptl.subarray(5, 11)];
  while (constraints.length && constraints[constraints.length - 1] === 0) constraints.pop();
  return ["hvc1", `${space}${profile}`, (rev >>> 0).toString(16).toUpperCase(), `${tier}${ptl[11]}`, ...constraints.map((b) => b.toString(16).toUpperCase())].join(".");
}

/** HEVCDecoderConfigurationRecord with one VPS, SPS and PPS (4-byte NAL lengths). */
export function hvcC(vps: Buffer, sps: Buffer, pps: Buffer): Buffer {
  const i = parseH265Sps(sps);
  const head = Buffer.concat([
    Buffer.from([1]), i.ptl,
    Buffer.from([0xf0, 0x00, 0xfc, 0xfc | i.chromaFormat, 0xf8 | (i.bitDepthLuma - 8), 0xf8 | (i.bitDepthChroma - 8), 0, 0,
      ((i.subLayers & 7) << 3) | (i.temporalIdNested ? 4 : 0) | 3, 3]),
  ]);
  const array = (type: number, nal: Buffer) => Buffer.concat([Buffer.from([0x80 | type, 0, 1, nal.length >> 8, nal.length & 0xff]), nal]);
  return Buffer.concat([head, array(VPS, vps), array(SPS, sps), array(PPS, pps)]);
}
