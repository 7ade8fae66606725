/**
 * Playback of recordings over HTTP, for viewers already authorized for the device (the gateway
 * checks, exactly as for live video):
 *
 *   GET /<device>/archive/timeline.json?from=<unix s>&to=<unix s>   recorded ranges, gaps between
 *   GET /<device>/archive/<from>/<duration>/index.m3u8             HLS VOD of the range
 *       …/<from>/<duration>/i<start ms>.mp4, s<start ms>.m4s        its init and media segments
 *   GET /<device>/archive/<from>/<duration>/archive.mp4            the range as one fragmented MP4
 *
 * from: Unix seconds, duration: seconds (≤ MAX_RANGE_S). Whole recorded segments that overlap the
 * range are served (they start at keyframes, so playback starts at or just before `from`); the
 * MP4 export also stops at the first fragment past the end. Decode times are moved so the range's
 * first segment starts at 0; a gap (camera offline, streamer down) is an EXT-X-DISCONTINUITY in
 * the playlist, and in the MP4 a jump in time. The export is streamed segment by segment, so its
 * memory is one segment file, whatever the range.
 */

import type * as http from "node:http";
import { readFile } from "node:fs/promises";
import { GAP_TOLERANCE_MS, type Archive } from "../../record/archive";
import { parseSegment } from "../../record/fmp4-file";
import { TICKS_PER_MS, type StoredSegment } from "../../record/store";

export const MAX_RANGE_S = 24 * 3600;
const MAX_EXPORTS = 4;
let exports = 0;

/** "timeline.json" or "<from>/<duration>/<file>" after /<device>/archive/. */
export const ARCHIVE_PATH = /^\/([A-Za-z0-9._-]{1,64})\/archive\/(timeline\.json|(\d{9,11})\/(\d{1,6})\/(index\.m3u8|archive\.mp4|i\d{13}\.mp4|s\d{13}\.m4s))$/;

function text(res: http.ServerResponse, status: number, body: string): void {
  res.writeHead(status, { "Content-Type": "text/plain; charset=utf-8", "Content-Length": Buffer.byteLength(body), "Cache-Control": "no-store" });
  res.end(body);
}

export async function archiveRequest(res: http.ServerResponse, archive: Archive, deviceId: string, m: RegExpExecArray, query: URLSearchParams, suffix: string, head: boolean): Promise<void> {
  const store = archive.store(deviceId);
  if (m[2] === "timeline.json") {
    const now = Date.now();
    const from = query.has("from") ? Number(query.get("from")) * 1000 : now - 86_400_000;
    const to = query.has("to") ? Number(query.get("to")) * 1000 : now + 60_000;
    if (!Number.isFinite(from) || !Number.isFinite(to) || to < from) return text(res, 400, "bad from/to (Unix seconds, from ≤ to)\n");
    const body = JSON.stringify({
      device: deviceId,
      state: archive.stateOf(deviceId),
      ranges: archive.timeline(deviceId, from, to).map((r) => ({ from: r.from / 1000, to: r.to / 1000 })),
      oldest: store?.oldestMs ? store.oldestMs / 1000 : null,
      newest: store?.newestMs ? store.newestMs / 1000 : null,
      bytes: store?.bytes ?? 0,
      segments: store?.segments.length ?? 0,
    });
    res.writeHead(200, { "Content-Type": "application/json", "Content-Length": Buffer.byteLength(body), "Cache-Control": "no-store" });
    return void res.end(head ? undefined : body);
  }
  const fromMs = Number(m[3]) * 1000, durS = Number(m[4]), file = m[5];
  if (durS < 1 || durS > MAX_RANGE_S) return text(res, 400, `duration must be 1…${MAX_RANGE_S} s\n`);
  const segs = store?.overlapping(fromMs, fromMs + durS * 1000) ?? [];
  if (!segs.length) return text(res, 404, "nothing recorded in this range\n");
  const shift = segs[0].startMs * TICKS_PER_MS;
  if (file === "index.m3u8") {
    const body = playlist(segs, suffix);
    res.writeHead(200, { "Content-Type": "application/vnd.apple.mpegurl", "Content-Length": Buffer.byteLength(body), "Cache-Control": "no-cache, private" });
    return void res.end(head ? undefined : body);
  }
  if (file === "archive.mp4") return exportMp4(res, segs.map((s) => ({ seg: s, path: store!.path(s) })), fromMs + durS * 1000, shift, deviceId, m[3], head);
  const start = Number(file.slice(1, 14));
  const seg = segs.find((s) => s.startMs === start);
  if (!seg) return text(res, 404, "no such segment in this range\n");
  let parsed;
  try {
    parsed = parseSegment(await readFile(store!.path(seg)));
  } catch {
    return text(res, 404, "segment no longer on disk\n");
  }
  const body = file.startsWith("i") ? parsed.init : parsed.rebase(shift, 1);
  res.writeHead(200, { "Content-Type": "video/mp4", "Content-Length": body.length, "Cache-Control": "private, max-age=3600" });
  res.end(head ? undefined : body);
}

function playlist(segs: StoredSegment[], suffix: string): string {
  const target = Math.max(1, ...segs.map((s) => Math.ceil(s.durationMs / 1000)));
  const lines = ["#EXTM3U", "#EXT-X-VERSION:7", `#EXT-X-TARGETDURATION:${target}`, "#EXT-X-PLAYLIST-TYPE:VOD", "#EXT-X-MEDIA-SEQUENCE:0", "#EXT-X-INDEPENDENT-SEGMENTS"];
  let prevEnd: number | null = null;
  for (const s of segs) {
    // A gap is a new timeline, and (after a camera reconnect) possibly new parameter sets: a new map.
    if (prevEnd === null || s.startMs - prevEnd > GAP_TOLERANCE_MS) {
      if (prevEnd !== null) lines.push("#EXT-X-DISCONTINUITY");
      lines.push(`#EXT-X-MAP:URI="i${s.startMs}.mp4${suffix}"`);
    }
    lines.push(`#EXT-X-PROGRAM-DATE-TIME:${new Date(s.startMs).toISOString()}`, `#EXTINF:${(s.durationMs / 1000).toFixed(3)},`, `s${s.startMs}.m4s${suffix}`);
    prevEnd = s.startMs + s.durationMs;
  }
  lines.push("#EXT-X-ENDLIST");
  return lines.join("\n") + "\n";
}

async function exportMp4(res: http.ServerResponse, segs: { seg: StoredSegment; path: string }[], toMs: number, shift: number, deviceId: string, from: string, head: boolean): Promise<void> {
  if (exports >= MAX_EXPORTS) return text(res, 503, "too many exports at once; try again shortly\n");
  exports++;
  try {
    let init: Buffer | null = null;
    let seq = 1;
    for (const s of segs) {
      let parsed;
      try {
        parsed = parseSegment(await readFile(s.path));
      } catch {
        continue; // removed by retention meanwhile
      }
      if (!init) {
        init = parsed.init;
        res.writeHead(200, {
          "Content-Type": "video/mp4", "Cache-Control": "private, no-store",
          "Content-Disposition": `attachment; filename="${deviceId}-${from}.mp4"`,
        });
        if (head) return void res.end();
        res.write(init);
      } else if (!parsed.init.equals(init)) {
        break; // new parameter sets (camera reconfigured): one MP4 holds one; the rest is another export
      }
      const frags = parsed.fragments.filter((f) => f.baseTime < toMs * TICKS_PER_MS);
      const r = parsed.rebaseSome(frags, shift, seq);
      seq = r.seq;
      if (!res.write(r.data)) await new Promise<void>((ok) => { res.once("drain", ok); res.once("close", ok); });
      if (res.destroyed) return;
    }
    if (!init) return text(res, 404, "segments no longer on disk\n");
    res.end();
  } finally {
    exports--;
  }
}
