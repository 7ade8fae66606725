// HLS beyond H.264 video alone: H.264 + AAC, H.265 as hvc1, and a resolution change mid-stream.
// Real processes on 127.0.0.1: GStreamer camera ← agent ← TLS → streamer → HLS, read by ffmpeg.
// (Outside integration/: the muxer is the streamer's, so the native-agent rerun would add nothing.)
import { execFile } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startHlsSystem, type HlsSystem } from "../../../testkit/hls-system";

const exec = promisify(execFile);
let sys: HlsSystem;
let tmp: string;

beforeAll(async () => {
  sys = await startHlsSystem();
  tmp = mkdtempSync(join(tmpdir(), "fa-hls-codecs-"));
}, 90_000);
afterAll(async () => {
  await sys?.stop();
  if (tmp) rmSync(tmp, { recursive: true, force: true });
});

const hlsUrl = (path: string, file: string) => `${sys.base}/${sys.id}/${path}/${file}?token=${sys.token(sys.id)}`;

interface Frame {
  /** Seconds. */
  pts: number;
  md5: string;
}

/**
 * ffmpeg's framemd5 of one stream: decoded pictures for video (RTSP and fMP4 frame NAL units
 * differently), the packets themselves for audio (the same AAC frames either way).
 */
async function framemd5(url: string, stream: "v" | "a", count: number, timeoutMs: number): Promise<Frame[]> {
  const args = ["-hide_banner", "-loglevel", "error", ...(url.startsWith("rtsp") ? ["-rtsp_transport", "tcp"] : []), "-i", url, "-map", `0:${stream}:0`,
    ...(stream === "v" ? ["-frames:v", String(count)] : ["-c:a", "copy", "-frames:a", String(count)]), "-f", "framemd5", "-"];
  const { stdout } = await exec("ffmpeg", args, { timeout: timeoutMs, maxBuffer: 64 * 1024 * 1024 });
  const tb = /#tb 0: (\d+)\/(\d+)/.exec(stdout)!;
  const unit = Number(tb[1]) / Number(tb[2]);
  return stdout.split("\n").filter((l) => l && !l.startsWith("#")).map((l) => {
    const f = l.split(",").map((x) => x.trim());
    return { pts: Number(f[2]) * unit, md5: f[5] };
  });
}

/** Where `part` sits in `whole` as a contiguous run (every hash equal), or -1. */
function runStart(whole: Frame[], part: Frame[]): number {
  for (let s = whole.findIndex((f) => f.md5 === part[0].md5); s >= 0; s = whole.findIndex((f, i) => i > s && f.md5 === part[0].md5)) {
    if (part.every((f, i) => whole[s + i]?.md5 === f.md5)) return s;
  }
  return -1;
}

async function segmentsStartWithKeyframes(path: string): Promise<number> {
  const text = await (await fetch(hlsUrl(path, "index.m3u8"))).text();
  const init = Buffer.from(await (await fetch(hlsUrl(path, "init.mp4"))).arrayBuffer());
  const segs = [...text.matchAll(/^(seg\d+\.m4s)\?/gm)].map((m) => m[1]);
  for (const s of segs) {
    const f = join(tmp, `${path}-${s}.mp4`);
    writeFileSync(f, Buffer.concat([init, Buffer.from(await (await fetch(hlsUrl(path, s))).arrayBuffer())]));
    const { stdout } = await exec("ffprobe", ["-v", "error", "-select_streams", "v:0", "-show_entries", "frame=key_frame,pict_type", "-of", "csv=p=0", f], { timeout: 20_000 });
    expect(stdout.trim().split("\n")[0], s).toMatch(/^1,I/);
  }
  return segs.length;
}

describe.concurrent("HLS codecs", () => {
  it("H.264 + AAC: pictures and audio frames equal a direct pull's, audio in step with the video, segments start with keyframes", async () => {
    const [v, a] = await Promise.all([framemd5(hlsUrl("av", "index.m3u8"), "v", 150, 60_000), framemd5(hlsUrl("av", "index.m3u8"), "a", 300, 60_000)]);
    const [dv, da] = await Promise.all([framemd5(sys.cam.rtspUrl("av"), "v", 300, 60_000), framemd5(sys.cam.rtspUrl("av"), "a", 600, 60_000)]);
    const sv = runStart(dv, v), sa = runStart(da, a);
    console.log(`av: ${v.length} pictures from direct #${sv}, ${a.length} audio frames from direct #${sa}`);
    expect(v.length).toBeGreaterThanOrEqual(100);
    expect(a.length).toBeGreaterThanOrEqual(200);
    expect(sv).toBeGreaterThanOrEqual(0);
    expect(sa).toBeGreaterThanOrEqual(0);
    // The clip's own timing: video frame i at i/25 s, audio frame j at j·1024/48000 s (same origin).
    // The HLS stream must keep that relation (what a direct pull carries via RTCP) within 100 ms.
    const clipSkew = (sa * 1024) / 48000 - sv / 25;
    const hlsSkew = a[0].pts - v[0].pts;
    console.log(`av: audio−video in the clip ${clipSkew.toFixed(3)} s, in HLS ${hlsSkew.toFixed(3)} s`);
    expect(Math.abs(hlsSkew - clipSkew)).toBeLessThan(0.1);
    // The audio timeline has no steps on a loopback camera: the sender reports, once in, agree with
    // the arrival-based placement (a correction would show here as one step off 1024 samples).
    const steps = a.slice(1).map((f, i) => f.pts - a[i].pts - 1024 / 48000);
    console.log(`av: largest audio timestamp step off nominal ${Math.max(...steps.map(Math.abs)).toFixed(4)} s`);
    expect(Math.max(...steps.map(Math.abs))).toBeLessThan(0.03);
    expect(await segmentsStartWithKeyframes("av")).toBeGreaterThanOrEqual(1);
  }, 120_000);

  it("H.265 as hvc1: init segment with hvcC, pictures equal a direct pull's, segments start with keyframes", async () => {
    const init = Buffer.from(await (await fetch(hlsUrl("hevc", "init.mp4"))).arrayBuffer());
    expect(init.includes("hvc1")).toBe(true);
    expect(init.includes("hvcC")).toBe(true);
    const [v, dv] = await Promise.all([framemd5(hlsUrl("hevc", "index.m3u8"), "v", 150, 60_000), framemd5(sys.cam.rtspUrl("hevc"), "v", 300, 60_000)]);
    const sv = runStart(dv, v);
    console.log(`hevc: ${v.length} pictures from direct #${sv}`);
    expect(v.length).toBeGreaterThanOrEqual(100);
    expect(sv).toBeGreaterThanOrEqual(0);
    expect(await segmentsStartWithKeyframes("hevc")).toBeGreaterThanOrEqual(1);
  }, 120_000);

  it("a new resolution mid-stream: a new init segment behind EXT-X-DISCONTINUITY, ffmpeg decodes both sizes without an error", async () => {
    // The camera switches from 320x180 to 640x360 6 s into its stream (a new SPS at a keyframe).
    const { stderr } = await exec("ffmpeg", ["-hide_banner", "-nostats", "-loglevel", "repeat+info", "-i", hlsUrl("sizes", "index.m3u8"),
      "-map", "0:v:0", "-frames:v", "300", "-vf", "showinfo", "-f", "null", "-"], { timeout: 60_000, maxBuffer: 64 * 1024 * 1024 });
    const sizes = [...stderr.matchAll(/\[Parsed_showinfo[^\]]*\] n:\s*\d+ .* s:(\d+x\d+)/g)].map((m) => m[1]);
    const order = sizes.filter((s, i) => i === 0 || sizes[i - 1] !== s);
    console.log(`sizes: ${sizes.length} pictures, sizes in order ${order.join(" → ")}`);
    expect(order).toEqual(["320x180", "640x360"]);
    expect(sizes.filter((s) => s === "640x360").length).toBeGreaterThanOrEqual(100);
    expect(stderr).not.toMatch(/error|corrupt|non-existing PPS|no frame/i);
    const text = await (await fetch(hlsUrl("sizes", "index.m3u8"))).text();
    expect(text).toMatch(/#EXT-X-MAP:URI="init1\.mp4\?token=/);
    // The segment behind the new map decodes at the new size with init1.mp4 alone.
    const after = /#EXT-X-MAP:URI="init1\.mp4[^\n]*\n(?:#[^\n]*\n)*(seg\d+\.m4s)/.exec(text)?.[1];
    expect(after).toBeDefined();
    const init1 = Buffer.from(await (await fetch(hlsUrl("sizes", "init1.mp4"))).arrayBuffer());
    const f = join(tmp, "sizes-after.mp4");
    writeFileSync(f, Buffer.concat([init1, Buffer.from(await (await fetch(hlsUrl("sizes", after!))).arrayBuffer())]));
    const { stdout } = await exec("ffprobe", ["-v", "error", "-select_streams", "v:0", "-show_entries", "stream=width,height", "-of", "csv=p=0", f], { timeout: 20_000 });
    expect(stdout.trim()).toBe("640,360");
  }, 90_000);
});
