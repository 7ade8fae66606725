// Recording on the server: GStreamer camera → agent → TLS → streamer recording the shared
// source to disk; kill -9 in the middle of a segment; a full disk (a 2 MiB tmpfs in the
// streamer's own mount namespace); the camera's codecs as they come. The minute-long recording
// and the camera's 20 s offline are in record-minute.test.ts.
import { existsSync, rmSync, statSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { startStreamer } from "../../../testkit/system";
import { tempDir } from "../../../testkit/procs";
import { decodeErrors, exec, frames, segmentFiles, sleep, startSystem, timeline, url, waitRecorded, type Sys } from "./record-kit";

const SEGMENT = { segment_s: 2, devices: { "*": { record: "continuous", path: "/gop4" } } };

describe("recording from the shared source", () => {
  let sys: Sys;

  it("kill -9 mid-segment: finished segments stay playable, the partial one keeps its whole fragments, the index is rebuilt, recording goes on after a gap", async () => {
    sys = await startSystem(SEGMENT);
    await waitRecorded(sys, (x) => x.segments >= 1, 30_000);
    const devDir = join(sys.archiveDir, sys.id);
    // In the middle of a 4 s segment: 1.5 s after one was finished.
    const before = segmentFiles(devDir).filter((f) => f.endsWith(".mp4"));
    const lastDone = await (async () => {
      const until = Date.now() + 10_000;
      while (Date.now() < until) {
        const now = segmentFiles(devDir).filter((f) => f.endsWith(".mp4"));
        if (now.length > before.length) return now;
        await sleep(100);
      }
      throw new Error("no segment finished");
    })();
    await sleep(1500);
    const partial = segmentFiles(devDir).filter((f) => f.endsWith(".part"));
    expect(partial.length).toBe(1);
    sys.server.kill("SIGKILL");
    const killedAt = Date.now();
    await sys.server.proc.exited;
    await sleep(300);
    rmSync(join(devDir, "index.tsv"));
    const partialBytes = statSync(partial[0]).size;
    sys.server = await startStreamer({ ...sys.server.opts, ports: sys.server.ports, dir: sys.server.dir });
    const upAt = Date.now();
    const downtime = (upAt - killedAt) / 1000;
    expect(sys.server.proc.lines().join("\n")).toMatch(/1 partial segment\(s\) recovered.*index rebuilt/);
    const recovered = partial[0].slice(0, -".part".length);
    expect(existsSync(recovered)).toBe(true);
    expect(statSync(recovered).size).toBeLessThanOrEqual(partialBytes);
    for (const f of [...lastDone, recovered]) expect(await decodeErrors(f), f).toBe("");
    const t = await waitRecorded(sys, (x) => x.ranges.length >= 2 && x.ranges[x.ranges.length - 1].to - x.ranges[x.ranges.length - 1].from >= 4, 40_000);
    const gap = t.ranges[1].from - t.ranges[0].to;
    // The recovered segment is on the timeline: the first range runs through it.
    const recStart = Number(/(\d{13})\.mp4$/.exec(recovered)![1]) / 1000;
    expect(t.ranges[0].from).toBeLessThanOrEqual(recStart);
    expect(t.ranges[0].to).toBeGreaterThan(recStart + 0.5);
    console.log(`streamer down ${downtime.toFixed(2)} s; timeline gap ${gap.toFixed(2)} s; recovered partial ${statSync(recovered).size} of ${partialBytes} bytes`);
    // The gap is the downtime, plus what the killed segment had not yet written (≤ one 1 s fragment)
    // and the agent's reconnect and the camera's new session after the restart.
    expect(gap).toBeGreaterThanOrEqual(downtime - 0.1);
    expect(gap).toBeLessThanOrEqual(downtime + 1.2 + 8);
    expect(t.segments).toBeGreaterThanOrEqual(lastDone.length + 1);
  }, 90_000);

  it("SIGTERM mid-segment: the segment under way is finished and renamed before the exit, nothing is left to recovery", async () => {
    const devDir = join(sys.archiveDir, sys.id);
    // In the middle of a segment: 1.5 s after one was finished.
    const n0 = segmentFiles(devDir).filter((f) => f.endsWith(".mp4")).length;
    const until = Date.now() + 10_000;
    while (segmentFiles(devDir).filter((f) => f.endsWith(".mp4")).length === n0 && Date.now() < until) await sleep(100);
    await sleep(1500);
    const partial = segmentFiles(devDir).filter((f) => f.endsWith(".part"));
    expect(partial.length).toBe(1);
    const mark = sys.server.proc.mark();
    sys.server.proc.signal("SIGTERM");
    const exit = await sys.server.proc.exited;
    expect(exit.code).toBe(0);
    await sys.server.proc.waitForLine(/recording stopped, 1 segment\(s\) under way closed/, { timeoutMs: 1000, after: mark });
    expect(segmentFiles(devDir).filter((f) => f.endsWith(".part"))).toEqual([]);
    const closed = partial[0].slice(0, -".part".length);
    expect(existsSync(closed)).toBe(true);
    expect(await decodeErrors(closed)).toBe("");
    // What had arrived was written: about 1.5 s of pictures, not only the whole fragments a crash keeps.
    const pics = await frames(closed);
    console.log(`SIGTERM: the segment under way closed with ${pics.length} pictures`);
    expect(pics.length).toBeGreaterThanOrEqual(25);
    // The next start has nothing to recover.
    sys.server = await startStreamer({ ...sys.server.opts, ports: sys.server.ports, dir: sys.server.dir });
    expect(sys.server.proc.lines().join("\n")).not.toMatch(/partial segment\(s\) recovered/);
  }, 60_000);
});

describe("a full disk", () => {
  it("pauses recording (state, metric, log line) without touching live viewing, and recording resumes once space is freed", async () => {
    // The archive folder is a 2 MiB tmpfs that only the streamer's own mount namespace sees.
    // close_after_ms 1 s: the live viewer's leaving would close a source nobody else holds.
    const sys = await startSystem(SEGMENT, (dir) => ["unshare", "-m", "--propagation", "private", "sh", "-c", 'mount -t tmpfs -o size=2m tmpfs "$0" && exec "$@"', dir], { close_after_ms: 1000 });
    const ns = (script: string) => exec("nsenter", ["-t", String(sys.server.proc.pid), "-m", "--", "sh", "-c", script], { timeout: 10_000 }).catch((e) => e);
    const filler = join(sys.archiveDir, "filler");
    await waitRecorded(sys, (x) => x.segments >= 1 && x.state === "recording", 30_000);
    // A live viewer over RTSP for the whole episode.
    const viewerSeconds = 12;
    const viewer = frames(sys.server.rtspUrl(sys.id, "gop4"), ["-rtsp_transport", "tcp", "-t", String(viewerSeconds)]);
    await ns(`dd if=/dev/zero of=${filler} bs=16k 2>/dev/null; df -k ${sys.archiveDir} | tail -1`);
    const full = await waitRecorded(sys, (x) => x.state === "disk_full", 15_000);
    const paused = await sys.server.proc.waitForLine(/recording paused, disk full/, { timeoutMs: 5000 });
    console.log(paused.input);
    const metrics = await (await fetch(`http://127.0.0.1:${sys.server.ports.admin}/metrics`)).text();
    expect(metrics).toContain(`flussonic_archive_state{device="${sys.id}",state="disk_full"} 1`);
    expect(Number(new RegExp(`flussonic_archive_write_errors_total\\{device="${sys.id}"\\} (\\d+)`).exec(metrics)?.[1])).toBeGreaterThanOrEqual(1);
    await sleep(3000);
    expect((await timeline(sys)).state).toBe("disk_full");
    await ns(`rm -f ${filler}`);
    const back = await waitRecorded(sys, (x) => x.state === "recording" && x.segments > full.segments, 20_000);
    await sys.server.proc.waitForLine(/recording again/, { timeoutMs: 1000 });
    const got = await viewer;
    console.log(`live viewer: ${got.length} frames in ${viewerSeconds} s while the disk was full; segments ${full.segments} → ${back.segments}`);
    expect(got.length).toBeGreaterThanOrEqual(viewerSeconds * 25 * 0.9);
    expect(sys.server.proc.exit()).toBeNull();
    // The viewer has gone: the recorder alone keeps the one pull of the camera open, and records on.
    await sleep(2500);
    const dev = (await sys.server.devices()).find((d) => d.id === sys.id) as unknown as { sources: { path: string; playing: boolean; reconnects: number }[] };
    expect(dev.sources.map((x) => [x.path, x.playing])).toEqual([["/gop4", true]]);
    const later = await waitRecorded(sys, (x) => x.segments > back.segments, 10_000);
    expect(later.state).toBe("recording");
    // What was recorded before, during the cut and after, decodes cleanly.
    const r = later.ranges;
    const from = Math.floor(r[0].from), dur = Math.ceil(r[r.length - 1].to) - from;
    const out = join(tempDir("fa-export-"), "all.mp4");
    const res = await fetch(url(sys, `${from}/${dur}/archive.mp4`));
    const { writeFile } = await import("node:fs/promises");
    await writeFile(out, Buffer.from(await res.arrayBuffer()));
    expect(await decodeErrors(out)).toBe("");
    expect(r.length).toBeGreaterThanOrEqual(2); // the pause is a gap on the timeline
  }, 90_000);
});

/** ffmpeg's framemd5 of one stream of `input`, at most `count`: decoded pictures (v), or the AAC packets as sent (a). */
async function streamMd5(input: string, stream: "v" | "a", count?: number): Promise<{ pts: number; md5: string }[]> {
  const { stdout } = await exec("ffmpeg", ["-hide_banner", "-loglevel", "error", ...(input.startsWith("rtsp") ? ["-rtsp_transport", "tcp"] : []), "-i", input,
    "-map", `0:${stream}:0`, ...(stream === "a" ? ["-c:a", "copy"] : []), ...(count ? [`-frames:${stream}`, String(count)] : []), "-f", "framemd5", "-"],
  { timeout: 60_000, maxBuffer: 64 * 1024 * 1024 });
  const tb = /^#tb 0: (\d+)\/(\d+)/m.exec(stdout)!;
  const unit = Number(tb[1]) / Number(tb[2]);
  return stdout.split("\n").filter((l) => l && !l.startsWith("#")).map((l) => {
    const c = l.split(",").map((x) => x.trim());
    return { pts: Number(c[2]) * unit, md5: c[5] };
  });
}

/** Where `part` sits in `whole` as a contiguous run (every hash equal), or -1. */
function runStart(whole: { md5: string }[], part: { md5: string }[]): number {
  for (let s = whole.findIndex((f) => f.md5 === part[0].md5); s >= 0; s = whole.findIndex((f, i) => i > s && f.md5 === part[0].md5)) {
    if (part.every((f, i) => whole[s + i]?.md5 === f.md5)) return s;
  }
  return -1;
}

describe("recording the camera's codecs as they come", () => {
  it("H.264 + AAC: the export's pictures and audio frames equal a direct pull's, audio in step with the video", async () => {
    const sys = await startSystem({ segment_s: 2, devices: { "*": { record: "continuous", path: "/av" } } });
    // The direct pull runs while the recording grows (the /av clip restarts for every camera session).
    const direct = Promise.all([streamMd5(sys.cam.rtspUrl("av"), "v", 300), streamMd5(sys.cam.rtspUrl("av"), "a", 560)]);
    const t = await waitRecorded(sys, (x) => x.ranges.length > 0 && x.ranges[0].to - x.ranges[0].from >= 8, 30_000);
    const r = t.ranges[0];
    const from = Math.floor(r.from), dur = Math.ceil(r.to) - from;
    const out = join(tempDir("fa-export-"), "av.mp4");
    const res = await fetch(url(sys, `${from}/${dur}/archive.mp4`));
    expect(res.status).toBe(200);
    const { writeFile } = await import("node:fs/promises");
    await writeFile(out, Buffer.from(await res.arrayBuffer()));
    const [v, a] = await Promise.all([streamMd5(out, "v"), streamMd5(out, "a")]);
    const [dv, da] = await direct;
    // The recording may run past what the direct pull took: compare the part both have.
    const sv = runStart(dv, v.slice(0, 150)), sa = runStart(da, a.slice(0, 280));
    console.log(`av export: ${v.length} pictures from direct #${sv}, ${a.length} audio frames from direct #${sa}`);
    expect(v.length).toBeGreaterThanOrEqual(150);
    expect(a.length).toBeGreaterThanOrEqual(280);
    expect(sv).toBeGreaterThanOrEqual(0);
    expect(sa).toBeGreaterThanOrEqual(0);
    // The clip's own timing: video frame i at i/25 s, audio frame j at j·1024/48000 s; the export keeps it within 100 ms.
    const clipSkew = (sa * 1024) / 48000 - sv / 25;
    const recSkew = a[0].pts - v[0].pts;
    console.log(`av export: audio−video in the clip ${clipSkew.toFixed(3)} s, in the export ${recSkew.toFixed(3)} s`);
    expect(Math.abs(recSkew - clipSkew)).toBeLessThan(0.1);
    // Audio is continuous across fragments and segments: every frame 1024 samples after the one before.
    const steps = a.slice(1).map((f, i) => f.pts - a[i].pts - 1024 / 48000);
    expect(Math.max(...steps.map(Math.abs))).toBeLessThan(0.001);
    expect(await decodeErrors(out)).toBe("");
  }, 60_000);
});
