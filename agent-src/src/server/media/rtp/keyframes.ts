/**
 * Tags the first packet of each keyframe access unit of a video track: where a viewer may start
 * and where the GOP cache restarts. An access unit that opens with parameter sets (SPS/PPS sent
 * in-band before an IDR, as most cameras do) is a keyframe unit from its first packet, so such
 * leading packets are held back until the unit's first picture packet says which it is —
 * a delay of a few packets that arrive back to back.
 */

import { h264Summary, type NalSummary } from "./h264";
import { h265Summary } from "./h265";
import { parseRtp } from "./packet";

export type VideoCodec = "h264" | "h265";

export interface Tagged {
  pkt: Buffer;
  key: boolean;
}

/**
 * Leading packets held back at most: parameter sets and SEI are a few packets. A camera that
 * sends endless non-picture packets in one unit gets them passed on untagged beyond this, so
 * the tagger never holds more than a few chunks of memory.
 */
export const MAX_HELD_PACKETS = 64;

export class KeyframeTagger {
  private held: Buffer[] = [];
  private lastTs: number | null = null;
  private lastMarker = true;
  /** The current access unit already had its first picture packet. */
  private sawVcl = false;
  private readonly summary: (p: Uint8Array) => NalSummary;

  constructor(codec: VideoCodec) {
    this.summary = codec === "h264" ? h264Summary : h265Summary;
  }

  push(pkt: Buffer): Tagged[] {
    const h = parseRtp(pkt);
    if (!h) return [{ pkt, key: false }];
    const newAu = this.lastMarker || h.timestamp !== this.lastTs;
    this.lastTs = h.timestamp;
    this.lastMarker = h.marker;
    const out: Tagged[] = [];
    if (newAu) {
      // A unit that never showed a picture: pass what was held on untagged.
      for (const p of this.held) out.push({ pkt: p, key: false });
      this.held = [];
      this.sawVcl = false;
    }
    const s = this.summary(pkt.subarray(h.payloadStart, h.payloadEnd));
    if (!this.sawVcl && !s.vclStart) {
      // Parameter sets, SEI, AUD before the picture: wait for it.
      this.held.push(pkt);
      if (h.marker || this.held.length > MAX_HELD_PACKETS) out.push(...this.flush(false));
      return out;
    }
    if (!this.sawVcl) {
      this.sawVcl = true;
      const held = this.held;
      this.held = [];
      const all = [...held, pkt];
      all.forEach((p, i) => out.push({ pkt: p, key: s.irap && i === 0 }));
      return out;
    }
    out.push({ pkt, key: false });
    return out;
  }

  private flush(key: boolean): Tagged[] {
    const out = this.held.map((p) => ({ pkt: p, key }));
    this.held = [];
    return out;
  }
}
