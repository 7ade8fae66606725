/**
 * AAC over RTP as RFC 3640 "mpeg4-generic" (the AAC-hbr/lbr modes cameras use) back into raw AAC
 * frames for the fMP4 writer, and the AudioSpecificConfig (the SDP's `config=`) the mp4a sample
 * entry needs. One RTP packet carries one or more whole frames (AU headers give their sizes) or a
 * fragment of one frame (continued until the marker bit). A sequence gap drops what it damaged.
 * MP4A-LATM (RFC 6416) is not handled: such a track is left out of the HLS stream.
 */

import { parseRtp } from "../../media/rtp/packet";

export interface AudioFrame {
  /** Timestamp in the track's clock (the sample rate), unwrapped. */
  ts: number;
  data: Buffer;
}

export interface AacConfig {
  /** AudioSpecificConfig bytes (ISO/IEC 14496-3 1.6.2.1). */
  asc: Buffer;
  objectType: number;
  sampleRate: number;
  channels: number;
  /** "mp4a.40.2" for AAC-LC. */
  codec: string;
  /** Samples per frame (1024; 960 with frameLengthFlag). */
  frameSamples: number;
}

const RATES = [96000, 88200, 64000, 48000, 44100, 32000, 24000, 22050, 16000, 12000, 11025, 8000, 7350];
/** Largest AAC frame we reassemble from fragments (6144 bits per channel; 8 channels). */
const MAX_FRAME = 8 * 768;

/** The SDP's fmtp `config=` hex → what the sample entry needs; throws on what it cannot read. */
export function parseAacConfig(hex: string): AacConfig {
  if (!/^([0-9a-f]{2}){2,64}$/i.test(hex)) throw new Error(`bad AAC config "${hex}"`);
  const asc = Buffer.from(hex, "hex");
  let pos = 0;
  const bits = (n: number) => {
    let v = 0;
    for (let i = 0; i < n; i++, pos++) {
      if (pos >= asc.length * 8) throw new Error("AAC config truncated");
      v = v * 2 + ((asc[pos >> 3] >> (7 - (pos & 7))) & 1);
    }
    return v;
  };
  let objectType = bits(5);
  if (objectType === 31) objectType = 32 + bits(6);
  const fi = bits(4);
  const sampleRate = fi === 15 ? bits(24) : RATES[fi];
  const channels = bits(4);
  if (!sampleRate) throw new Error(`bad AAC sampling frequency index ${fi}`);
  const frameSamples = objectType <= 4 && bits(1) ? 960 : 1024;
  return { asc, objectType, sampleRate, channels, codec: `mp4a.40.${objectType}`, frameSamples };
}

export interface AacRtpParams {
  sizeLength: number;
  indexLength: number;
  indexDeltaLength: number;
}

/** sizelength/indexlength/indexdeltalength of an fmtp line (AAC-hbr defaults 13/3/3); throws on a layout we cannot read. */
export function aacRtpParams(fmtp: string): AacRtpParams {
  const get = (k: string, d: number) => {
    const m = new RegExp(`(?:^|;)\\s*${k}=(\\d+)`, "i").exec(fmtp);
    return m ? Number(m[1]) : d;
  };
  const p = { sizeLength: get("sizelength", 13), indexLength: get("indexlength", 3), indexDeltaLength: get("indexdeltalength", 3) };
  checkLayout(p);
  return p;
}

function checkLayout(p: AacRtpParams): void {
  if (p.sizeLength < 1 || p.sizeLength > 16 || p.indexLength > 8 || p.indexDeltaLength > 8) throw new Error("unsupported AAC AU header layout");
}

export class AacDepacketizer {
  onFrame: ((f: AudioFrame) => void) | null = null;
  private lastSeq: number | null = null;
  private lastRaw: number | null = null;
  private high = 0;
  private frag: { ts: number; size: number; parts: Buffer[]; have: number } | null = null;

  constructor(private readonly p: AacRtpParams, private readonly frameSamples: number) {
    checkLayout(p);
  }

  reset(): void {
    this.lastSeq = null;
    this.frag = null;
  }

  private unwrap(ts: number): number {
    this.high = this.lastRaw === null ? ts : this.high + ((ts - this.lastRaw) | 0);
    this.lastRaw = ts;
    return this.high;
  }

  push(pkt: Buffer): void {
    const h = parseRtp(pkt);
    if (!h) return;
    if (this.lastSeq !== null && h.seq !== ((this.lastSeq + 1) & 0xffff)) this.frag = null;
    this.lastSeq = h.seq;
    const ts = this.unwrap(h.timestamp);
    const p = pkt.subarray(h.payloadStart, h.payloadEnd);
    if (p.length < 2) return;
    const headerBits = p.readUInt16BE(0);
    const headerBytes = Math.ceil(headerBits / 8);
    if (2 + headerBytes > p.length) return;
    // AU headers: size + index (first) / index-delta (others), MSB first.
    const sizes: number[] = [];
    let pos = 0;
    const bits = (n: number) => {
      let v = 0;
      for (let i = 0; i < n; i++, pos++) v = v * 2 + ((p[2 + (pos >> 3)] >> (7 - (pos & 7))) & 1);
      return v;
    };
    while (pos < headerBits) {
      const need = this.p.sizeLength + (sizes.length ? this.p.indexDeltaLength : this.p.indexLength);
      if (pos + need > headerBits) break;
      sizes.push(bits(this.p.sizeLength));
      bits(need - this.p.sizeLength);
    }
    let at = 2 + headerBytes;
    if (this.frag) {
      // A continuation of the frame the previous packet began.
      this.frag.parts.push(Buffer.from(p.subarray(at)));
      this.frag.have += p.length - at;
      if (this.frag.have > this.frag.size || this.frag.ts !== ts) this.frag = null;
      else if (h.marker || this.frag.have === this.frag.size) {
        if (this.frag.have === this.frag.size) this.onFrame?.({ ts, data: Buffer.concat(this.frag.parts) });
        this.frag = null;
      }
      return;
    }
    for (let i = 0; i < sizes.length; i++) {
      const n = sizes[i];
      if (at + n > p.length) {
        // One frame larger than the packet: the rest follows (RFC 3640 3.2.3).
        if (sizes.length === 1 && !h.marker && n <= MAX_FRAME) this.frag = { ts, size: n, parts: [Buffer.from(p.subarray(at))], have: p.length - at };
        return;
      }
      this.onFrame?.({ ts: ts + i * this.frameSamples, data: Buffer.from(p.subarray(at, at + n)) });
      at += n;
    }
  }
}
