/**
 * Access units in, fMP4 out, for any consumer (HLS here; recording can use the same): made with
 * the tracks (ids, timescales, codec configuration), it gives the init segment and, on each
 * flush(), one fragment (moof + mdat) with every sample added since the last flush. Callers decide
 * where fragments end (an LL-HLS part, a recording chunk) and give each sample its decode time in
 * the track's timescale; nothing here knows about playlists or RTP.
 */

import { fragment, initSegment, type Sample, type TrackInfo, type TrackRun } from "./fmp4";

export interface TimedSample extends Sample {
  /** Decode time in the track's timescale, from the stream's origin (≥ 0). */
  time: number;
}

export class Fmp4Writer {
  readonly init: Buffer;
  private runs = new Map<number, TimedSample[]>();
  private sequence = 1;

  constructor(readonly tracks: TrackInfo[]) {
    this.init = initSegment(tracks);
    for (const t of tracks) this.runs.set(t.id, []);
  }

  add(trackId: number, s: TimedSample): void {
    const run = this.runs.get(trackId);
    if (!run) throw new Error(`no track ${trackId}`);
    run.push(s);
  }

  /** Samples added and not yet flushed, on any track. */
  get pending(): boolean {
    for (const r of this.runs.values()) if (r.length) return true;
    return false;
  }

  /** One fragment with what was added since the last flush, or null when nothing was. */
  flush(): Buffer | null {
    const runs: TrackRun[] = [];
    for (const [trackId, samples] of this.runs) {
      if (!samples.length) continue;
      // A sample lasts until the next one: a gap (lost audio, a dropped picture) stays a gap in time.
      for (let i = 0; i + 1 < samples.length; i++) {
        const d = samples[i + 1].time - samples[i].time;
        if (d > 0) samples[i].duration = d;
      }
      runs.push({ trackId, baseTime: samples[0].time, samples });
      this.runs.set(trackId, []);
    }
    return runs.length ? fragment(this.sequence++, runs) : null;
  }
}
