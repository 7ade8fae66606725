// Builds the fake camera's media and bundles.
//   node qemu-tests/fake-camera/build.mjs [OUTDIR=build/fake-camera]
// media/clip.h264  Annex-B H.264 (baseline, no B-frames, SPS/PPS on every IDR, one AUD per frame)
// media/image.jpg  the snapshot
// fake-camera-node.mjs  host entry (Node);  fake-camera.js  guest entry (QuickJS bundle for the static runtime)
import { build } from "esbuild";
import { execFileSync } from "node:child_process";
import { existsSync, mkdirSync, renameSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

const here = dirname(fileURLToPath(import.meta.url));
const out = resolve(process.argv[2] ?? join(here, "../../build/fake-camera"));
const media = join(out, "media");
mkdirSync(media, { recursive: true });

// The clip: 5 s of testsrc2 at 25 fps. Small (~150 KB) so the guest can hold it in RAM.
export const CLIP = { fps: 25, frames: 125, size: "320x240" };
const ff = (args, dst) => {
  if (existsSync(dst)) return;
  execFileSync("ffmpeg", ["-hide_banner", "-loglevel", "error", "-y", ...args, dst + ".tmp"], { stdio: "inherit" });
  renameSync(dst + ".tmp", dst);
};
ff([
  "-f", "lavfi", "-i", `testsrc2=size=${CLIP.size}:rate=${CLIP.fps}`, "-frames:v", String(CLIP.frames),
  "-c:v", "libx264", "-profile:v", "baseline", "-pix_fmt", "yuv420p", "-g", String(CLIP.fps), "-bf", "0",
  "-x264-params", "repeat-headers=1:threads=1", "-b:v", "400k",
  "-bsf:v", "h264_metadata=aud=insert", "-f", "h264",
], join(media, "clip.h264"));
// Bench clip: ~4 Mbit/s 720p, same structure, for the agent's memory figure under load.
ff([
  "-f", "lavfi", "-i", `testsrc2=size=1280x720:rate=${CLIP.fps}`, "-frames:v", String(CLIP.frames),
  "-c:v", "libx264", "-profile:v", "baseline", "-pix_fmt", "yuv420p", "-g", String(CLIP.fps), "-bf", "0",
  "-x264-params", "repeat-headers=1:threads=1:nal-hrd=cbr", "-b:v", "4M", "-minrate", "4M", "-maxrate", "4M", "-bufsize", "2M",
  "-bsf:v", "h264_metadata=aud=insert", "-f", "h264",
], join(media, "clip-4mbit.h264"));
ff(["-f", "lavfi", "-i", `testsrc2=size=${CLIP.size}:rate=1`, "-frames:v", "1", "-q:v", "4", "-f", "mjpeg"], join(media, "image.jpg"));

const common = { bundle: true, minify: false, legalComments: "none", logLevel: "warning" };
await build({
  ...common, entryPoints: [join(here, "src/main-node.ts")], outfile: join(out, "fake-camera-node.mjs"),
  platform: "node", format: "esm", target: "node20",
});
await build({
  ...common, entryPoints: [join(here, "src/main-quickjs.ts")], outfile: join(out, "fake-camera.js"),
  platform: "neutral", format: "esm", target: "es2020",
  external: ["qjs:os", "qjs:std", "os", "std", "flussonic:native"],
  mainFields: ["module", "main"], conditions: ["import"],
});
console.log(`fake camera built in ${out}`);
