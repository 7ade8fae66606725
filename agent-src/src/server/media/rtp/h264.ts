/**
 * H.264 over RTP (RFC 6184): what one packet carries, for keyframe detection. Single NAL unit
 * packets, STAP-A aggregates and FU-A fragments; STAP-B/MTAP/FU-B (interleaved mode) are not
 * sent by cameras in practice and count as opaque VCL data.
 */

export interface NalSummary {
  /** Carries the start of a picture (a VCL NAL unit, or the first fragment of one). */
  vclStart: boolean;
  /** Carries (the start of) a random access picture: IDR (H.264) or IRAP (H.265). */
  irap: boolean;
  /** Carries parameter sets (SPS/PPS, and VPS for H.265). */
  params: boolean;
}

function h264Nal(t: number, s: NalSummary): void {
  if (t >= 1 && t <= 5) s.vclStart = true;
  if (t === 5) s.irap = true;
  if (t === 7 || t === 8) s.params = true;
}

export function h264Summary(p: Uint8Array): NalSummary {
  const s: NalSummary = { vclStart: false, irap: false, params: false };
  if (p.length < 1) return s;
  const t = p[0] & 0x1f;
  if (t >= 1 && t <= 23) h264Nal(t, s);
  else if (t === 24) {
    // STAP-A: [16-bit size, NAL unit]...
    for (let i = 1; i + 2 < p.length; ) {
      const n = (p[i] << 8) | p[i + 1];
      if (n === 0 || i + 2 + n > p.length) break;
      h264Nal(p[i + 2] & 0x1f, s);
      i += 2 + n;
    }
  } else if (t === 28 && p.length >= 2) {
    // FU-A: indicator, header (S E R type); only the start fragment begins a NAL unit.
    if (p[1] & 0x80) h264Nal(p[1] & 0x1f, s);
  } else if (t === 25 || t === 26 || t === 27 || t === 29) {
    s.vclStart = true;
  }
  return s;
}
