/**
 * The LL-HLS media playlist (RFC 8216bis) of one segmenter: fMP4 segments behind EXT-X-MAP (and
 * EXT-X-DISCONTINUITY with a new map where the parameter sets changed), the
 * parts of the last segments, blocking reload and the preload hint of the next part. `suffix` is
 * appended to every URI (a viewer's ?token=, so a token viewer's player can fetch what it lists).
 */

import { MIN_SEGMENT_S, PART_TARGET_S, type HlsSegmenter } from "./segmenter";

/** Parts are listed for segments this close to the live edge (in target durations); RFC 8216bis asks for at least 3. */
const PART_WINDOW = 3;

/** The URI of init segment n: the first is init.mp4, later ones (after a parameter-set change) init<n>.mp4. */
export function initName(n: number): string {
  return n <= 0 ? "init.mp4" : `init${n}.mp4`;
}

export function mediaPlaylist(s: HlsSegmenter, suffix: string): string {
  const target = Math.max(Math.ceil(MIN_SEGMENT_S), Math.ceil(s.maxSegmentS));
  const first = s.segments[0];
  const lines = [
    "#EXTM3U",
    "#EXT-X-VERSION:9",
    `#EXT-X-TARGETDURATION:${target}`,
    `#EXT-X-SERVER-CONTROL:CAN-BLOCK-RELOAD=YES,PART-HOLD-BACK=${(3 * PART_TARGET_S).toFixed(3)}`,
    `#EXT-X-PART-INF:PART-TARGET=${PART_TARGET_S.toFixed(3)}`,
    `#EXT-X-MEDIA-SEQUENCE:${first?.msn ?? 0}`,
  ];
  if (first?.discontinuity) lines.push(`#EXT-X-DISCONTINUITY-SEQUENCE:${first.discontinuity}`);
  lines.push(`#EXT-X-MAP:URI="${initName(first?.init ?? s.initNumber)}${suffix}"`);
  const n = s.segments.length;
  let tail = 0;
  s.segments.forEach((seg, i) => {
    if (i > 0 && seg.init !== s.segments[i - 1].init) {
      // New parameter sets (a resolution change): players must reinitialise their decoder.
      lines.push("#EXT-X-DISCONTINUITY", `#EXT-X-MAP:URI="${initName(seg.init)}${suffix}"`);
    }
    // Parts of the segments near the live edge only: the rest are listed whole.
    const fromEnd = s.segments.slice(i).reduce((t, x) => t + x.duration, 0);
    if (fromEnd <= PART_WINDOW * target || i === n - 1) {
      for (const p of seg.parts) {
        lines.push(`#EXT-X-PART:DURATION=${p.duration.toFixed(5)},URI="part${seg.msn}.${p.index}.m4s${suffix}"${p.independent ? ",INDEPENDENT=YES" : ""}`);
      }
    }
    if (seg.complete) {
      lines.push(`#EXTINF:${seg.duration.toFixed(5)},`, `seg${seg.msn}.m4s${suffix}`);
      tail = 0;
    } else {
      tail = seg.parts.length;
    }
  });
  const cur = s.current;
  const next = cur ? `part${cur.msn}.${tail}.m4s` : `part${s.lastMsn + 1}.0.m4s`;
  lines.push(`#EXT-X-PRELOAD-HINT:TYPE=PART,URI="${next}${suffix}"`);
  return lines.join("\n") + "\n";
}
