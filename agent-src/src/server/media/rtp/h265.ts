/**
 * H.265 over RTP (RFC 7798): what one packet carries, for keyframe detection. Single NAL unit
 * packets, aggregation packets (AP, type 48) and fragmentation units (FU, type 49). DONL fields
 * (sprop-max-don-diff > 0) are not expected; cameras do not send them.
 */

import type { NalSummary } from "./h264";

function h265Nal(t: number, s: NalSummary): void {
  if (t <= 31) s.vclStart = true;
  if (t >= 16 && t <= 23) s.irap = true; // BLA, IDR, CRA and reserved IRAP types
  if (t >= 32 && t <= 34) s.params = true; // VPS, SPS, PPS
}

export function h265Summary(p: Uint8Array): NalSummary {
  const s: NalSummary = { vclStart: false, irap: false, params: false };
  if (p.length < 2) return s;
  const t = (p[0] >> 1) & 0x3f;
  if (t === 48) {
    for (let i = 2; i + 2 < p.length; ) {
      const n = (p[i] << 8) | p[i + 1];
      if (n < 2 || i + 2 + n > p.length) break;
      h265Nal((p[i + 2] >> 1) & 0x3f, s);
      i += 2 + n;
    }
  } else if (t === 49) {
    if (p.length >= 3 && p[2] & 0x80) h265Nal(p[2] & 0x3f, s);
  } else if (t !== 50) {
    h265Nal(t, s);
  }
  return s;
}
