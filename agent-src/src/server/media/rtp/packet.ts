/**
 * RTP (RFC 3550) and RTCP on the byte level: what the media core needs to route, tag and
 * re-stamp packets. Parsing is bounds-checked: a camera's bytes are not trusted.
 */

export interface RtpHeader {
  marker: boolean;
  payloadType: number;
  seq: number;
  timestamp: number;
  ssrc: number;
  /** Payload bytes: after CSRCs and header extension, before padding. */
  payloadStart: number;
  payloadEnd: number;
}

/** The header of an RTP packet, or null if it is not a well-formed RTP version 2 packet. */
export function parseRtp(b: Uint8Array): RtpHeader | null {
  if (b.length < 12 || b[0] >> 6 !== 2) return null;
  const cc = b[0] & 0x0f;
  let start = 12 + 4 * cc;
  if (b[0] & 0x10) {
    if (b.length < start + 4) return null;
    start += 4 + 4 * ((b[start + 2] << 8) | b[start + 3]);
  }
  let end = b.length;
  if (b[0] & 0x20) end -= b[b.length - 1];
  if (start > end) return null;
  return {
    marker: (b[1] & 0x80) !== 0,
    payloadType: b[1] & 0x7f,
    seq: (b[2] << 8) | b[3],
    timestamp: ((b[4] << 24) | (b[5] << 16) | (b[6] << 8) | b[7]) >>> 0,
    ssrc: ((b[8] << 24) | (b[9] << 16) | (b[10] << 8) | b[11]) >>> 0,
    payloadStart: start,
    payloadEnd: end,
  };
}

/** Rewrites timestamp and SSRC of an RTP packet in place (the source's own copy). */
export function restampRtp(b: Buffer, timestamp: number, ssrc: number): void {
  b.writeUInt32BE(timestamp >>> 0, 4);
  b.writeUInt32BE(ssrc >>> 0, 8);
}

/**
 * Rewrites the first RTCP packet of a compound packet if it is a sender report (PT 200): its
 * SSRC and RTP timestamp are mapped like the RTP packets they describe. Anything else is left alone.
 */
export function restampRtcpSr(b: Buffer, mapTs: (ts: number) => number, ssrc: number): void {
  if (b.length < 28 || b[0] >> 6 !== 2 || b[1] !== 200) return;
  b.writeUInt32BE(ssrc >>> 0, 4);
  b.writeUInt32BE(mapTs(b.readUInt32BE(16)) >>> 0, 16);
}
