/** One RTP packet (version 2, payload type 96) around `payload`, for feeding depacketizers and sources. */
export function rtpPacket(seq: number, ts: number, marker: boolean, payload: Buffer | number[], ssrc = 0): Buffer {
  const h = Buffer.alloc(12);
  h[0] = 0x80;
  h[1] = (marker ? 0x80 : 0) | 96;
  h.writeUInt16BE(seq & 0xffff, 2);
  h.writeUInt32BE(ts >>> 0, 4);
  h.writeUInt32BE(ssrc >>> 0, 8);
  return Buffer.concat([h, Buffer.isBuffer(payload) ? payload : Buffer.from(payload)]);
}

/** An RTP packet of MPEG-4 AAC (RFC 3640, AAC-hbr: one AU header) with one 100-byte frame filled with `seq`. */
export function aacRtpPacket(seq: number, ts: number): Buffer {
  const frame = Buffer.alloc(100, seq & 0xff);
  return rtpPacket(seq, ts, true, Buffer.concat([Buffer.from([0, 16, (frame.length << 3) >> 8, (frame.length << 3) & 0xff]), frame]));
}

/** An RTCP sender report mapping RTP time `rtpTs` to wall-clock `ntp` (seconds since 1900, fractional). */
export function rtcpSenderReport(rtpTs: number, ntp: number): Buffer {
  const b = Buffer.alloc(28);
  b[0] = 0x80;
  b[1] = 200;
  b.writeUInt16BE(6, 2);
  b.writeUInt32BE(Math.floor(ntp), 8);
  b.writeUInt32BE(Math.round((ntp % 1) * 2 ** 32), 12);
  b.writeUInt32BE(rtpTs >>> 0, 16);
  return b;
}
