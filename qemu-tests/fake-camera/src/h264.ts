/**
 * H.264 Annex-B parsing and RTP packetization (RFC 6184): single NAL unit packets when a NAL
 * fits the payload size, FU-A fragments otherwise. The clip is cut into access units at AUD NALs
 * (the build inserts one per frame), so each AU gets one RTP timestamp and a marker on its last packet.
 */

export const NAL_SPS = 7, NAL_PPS = 8, NAL_AUD = 9, FU_A = 28;

/** NAL units (without start codes) of an Annex-B byte stream. */
export function splitAnnexB(b: Uint8Array): Uint8Array[] {
  const starts: { at: number; len: number }[] = [];
  for (let i = 0; i + 2 < b.length; i++) {
    if (b[i] === 0 && b[i + 1] === 0) {
      if (b[i + 2] === 1) {
        starts.push({ at: i, len: 3 });
        i += 2;
      } else if (b[i + 2] === 0 && b[i + 3] === 1) {
        starts.push({ at: i, len: 4 });
        i += 3;
      }
    }
  }
  const nals: Uint8Array[] = [];
  for (let k = 0; k < starts.length; k++) {
    const from = starts[k].at + starts[k].len;
    let to = k + 1 < starts.length ? starts[k + 1].at : b.length;
    while (to > from && b[to - 1] === 0) to--; // trailing_zero_8bits
    if (to > from) nals.push(b.subarray(from, to));
  }
  return nals;
}

export const nalType = (nal: Uint8Array) => nal[0] & 0x1f;

/** Access units: split at each AUD; the AUDs themselves are dropped (not needed on RTP). */
export function accessUnits(nals: Uint8Array[]): Uint8Array[][] {
  const aus: Uint8Array[][] = [];
  let cur: Uint8Array[] = [];
  for (const n of nals) {
    if (nalType(n) === NAL_AUD) {
      if (cur.length) aus.push(cur);
      cur = [];
    } else cur.push(n);
  }
  if (cur.length) aus.push(cur);
  return aus;
}

/** RTP payloads for one NAL unit: itself, or FU-A fragments of at most maxPayload bytes. */
export function packetizeNal(nal: Uint8Array, maxPayload: number): Uint8Array[] {
  if (nal.length <= maxPayload) return [nal];
  const hdr = nal[0];
  const out: Uint8Array[] = [];
  const body = nal.subarray(1);
  const chunk = maxPayload - 2;
  for (let off = 0; off < body.length; off += chunk) {
    const part = body.subarray(off, Math.min(body.length, off + chunk));
    const p = new Uint8Array(part.length + 2);
    p[0] = (hdr & 0xe0) | FU_A; // FU indicator: F + NRI of the NAL, type 28
    p[1] = (off === 0 ? 0x80 : 0) | (off + chunk >= body.length ? 0x40 : 0) | (hdr & 0x1f);
    p.set(part, 2);
    out.push(p);
  }
  return out;
}

/** 12-byte RTP header (version 2, no CSRC). */
export function rtpPacket(pt: number, seq: number, ts: number, ssrc: number, marker: boolean, payload: Uint8Array): Uint8Array {
  const p = new Uint8Array(12 + payload.length);
  p[0] = 0x80;
  p[1] = (marker ? 0x80 : 0) | (pt & 0x7f);
  p[2] = (seq >> 8) & 0xff;
  p[3] = seq & 0xff;
  p[4] = (ts >>> 24) & 0xff;
  p[5] = (ts >>> 16) & 0xff;
  p[6] = (ts >>> 8) & 0xff;
  p[7] = ts & 0xff;
  p[8] = (ssrc >>> 24) & 0xff;
  p[9] = (ssrc >>> 16) & 0xff;
  p[10] = (ssrc >>> 8) & 0xff;
  p[11] = ssrc & 0xff;
  p.set(payload, 12);
  return p;
}

/** RTSP interleaved frame: '$', channel, 16-bit length, data (RFC 2326 §10.12). */
export function interleaved(channel: number, data: Uint8Array): Uint8Array {
  const f = new Uint8Array(4 + data.length);
  f[0] = 0x24;
  f[1] = channel;
  f[2] = (data.length >> 8) & 0xff;
  f[3] = data.length & 0xff;
  f.set(data, 4);
  return f;
}
