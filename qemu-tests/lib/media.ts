/** ffmpeg helpers shared by the fake-camera host test and the end-to-end tests. */
import { execa } from "execa";
import { join } from "node:path";
import { REPO } from "./paths.js";

export const FAKE_CAMERA_DIR = join(REPO, "build/fake-camera");
export const CLIP = join(FAKE_CAMERA_DIR, "media/clip.h264");
export const JPEG = join(FAKE_CAMERA_DIR, "media/image.jpg");

/** Builds the fake camera's media and bundles (cached: ffmpeg runs only when media is missing). */
export async function buildFakeCamera(): Promise<void> {
  await execa("node", [join(REPO, "qemu-tests/fake-camera/build.mjs")], { timeout: 120_000 });
}

/** Per-frame MD5s of the decoded picture (framemd5 hash column), at most `frames` of them. */
export async function frameMd5s(input: string, frames: number, inputArgs: string[] = [], timeoutMs = 60_000): Promise<string[]> {
  const r = await execa(
    "ffmpeg",
    ["-hide_banner", "-loglevel", "error", ...inputArgs, "-i", input, "-frames:v", String(frames), "-map", "0:v:0", "-f", "framemd5", "-"],
    { timeout: timeoutMs, reject: false },
  );
  if (r.exitCode !== 0 && !r.stdout) throw new Error(`ffmpeg ${input}: ${r.stderr}`);
  return r.stdout
    .split("\n")
    .filter((l) => l && !l.startsWith("#"))
    .map((l) => l.split(",").pop()!.trim());
}

/** The clip's own frame hashes, repeated so a looping source can be compared past its end. */
export async function clipMd5s(frames: number): Promise<string[]> {
  const one = await frameMd5s(CLIP, 100000);
  const out: string[] = [];
  for (let i = 0; out.length < frames && i < 100; i++) out.push(...one);
  return out.slice(0, frames);
}

export async function ffprobeJson(input: string, inputArgs: string[] = [], timeoutMs = 30_000): Promise<any> {
  const r = await execa("ffprobe", ["-v", "error", ...inputArgs, "-show_streams", "-of", "json", input], { timeout: timeoutMs });
  return JSON.parse(r.stdout);
}
