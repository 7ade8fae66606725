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
