/**
 * Instant start: the packets since the last keyframe of the source's key track (parameter sets
 * and the keyframe included, since the tagger puts in-band parameter sets in the keyframe's unit),
 * and every other track's packets since then, in arrival order. A new viewer is sent this first.
 * Bounded by maxBytes: a GOP larger than that is dropped whole (a partial GOP cannot be decoded)
 * and caching resumes at the next keyframe. maxBytes 0 turns the cache off.
 *
 * Packets are views into the chunks they arrived in (a copy of each cost ~10 % of the streamer's
 * CPU on a fast stream), so what a packet holds on to is its chunk's memory, not its length. The
 * bound counts that: a chunk whole, when the packets move on to it (packets arrive in order, so a
 * chunk comes back only by exception, and is then counted again: an overestimate). A camera that
 * pads small packets with bytes the cache does not keep only fills the bound sooner; it cannot
 * make the cache hold more.
 */

export interface MediaPacket {
  track: number;
  rtcp: boolean;
  /** The RTP or RTCP packet, already re-stamped by the source; shared, never modified afterwards. */
  data: Buffer;
  /** First packet of a keyframe access unit of the key track: a viewer may start here. */
  key: boolean;
}

export class GopCache {
  private packets: MediaPacket[] = [];
  /** Memory held: the chunks (backing buffers) the cached packets are views into. */
  private size = 0;
  /** The last cached packet's chunk. */
  private lastChunk: ArrayBufferLike | null = null;

  constructor(readonly maxBytes: number) {}

  get bytes(): number {
    return this.size;
  }

  get length(): number {
    return this.packets.length;
  }

  push(p: MediaPacket): void {
    if (this.maxBytes <= 0) return;
    if (p.key) {
      this.clear();
    } else if (!this.packets.length) {
      return; // nothing cached until a keyframe
    }
    if (p.rtcp) return; // sender reports are live-only: a cached one would describe the past
    this.packets.push(p);
    const chunk = p.data.buffer;
    if (chunk !== this.lastChunk) {
      this.lastChunk = chunk;
      this.size += chunk.byteLength;
    }
    if (this.size > this.maxBytes) this.clear();
  }

  /** What a new viewer is sent first: starts with a keyframe packet, or is empty. */
  snapshot(): MediaPacket[] {
    return this.packets.slice();
  }

  clear(): void {
    this.packets = [];
    this.size = 0;
    this.lastChunk = null;
  }
}
