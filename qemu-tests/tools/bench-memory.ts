/**
 * Agent peak memory inside an emulated camera while it relays a ~4 Mbit/s stream: boots the
 * hardened image with the 720p 4 Mbit/s clip, pulls the stream through the streamer for 20 s,
 * then reads VmHWM/VmRSS of the agent process from the guest's /proc. Goal: VmHWM <= 2 MB.
 *   make qemu-bench-memory [QEMU_BENCH_ARCH=armhf]
 */
import { execa } from "execa";
import { statSync } from "node:fs";
import { join } from "node:path";
import type { Arch } from "../lib/boards.js";
import { startCameraSystem, CameraSystem } from "../lib/camera-system.js";
import { FAKE_CAMERA_DIR } from "../lib/media.js";

const arch = (process.env.QEMU_BENCH_ARCH ?? "armhf") as Arch;
const SECONDS = 20;
const clip = join(FAKE_CAMERA_DIR, "media/clip-4mbit.h264");
let sys: CameraSystem | undefined;
process.on("SIGINT", async () => {
  await sys?.stop();
  process.exit(130);
});

try {
  sys = await startCameraSystem(arch, {
    extraFiles: [{ path: "/usr/share/fake-camera/clip.h264", from: clip, mode: 0o644 }],
  });
  const mem = async () => {
    const s = await sys!.guest.run("cat /proc/$(pidof flussonic-agent)/status");
    const kb = (k: string) => Number(new RegExp(`${k}:\\s+(\\d+) kB`).exec(s)?.[1] ?? NaN);
    return { hwm: kb("VmHWM"), rss: kb("VmRSS") };
  };
  const idle = await mem();
  const t0 = Date.now();
  const r = await execa("ffmpeg", ["-hide_banner", "-loglevel", "error", "-y", "-rtsp_transport", "tcp", "-i", sys.rtspUrl(), "-t", String(SECONDS), "-c", "copy", "-f", "h264", "/tmp/bench-4mbit.h264"], { reject: false, timeout: 120_000 });
  if (r.exitCode !== 0) throw new Error(`ffmpeg: ${r.stderr}`);
  const secs = (Date.now() - t0) / 1000;
  const bytes = statSync("/tmp/bench-4mbit.h264").size;
  const loaded = await mem();
  const clipMbit = (statSync(clip).size * 8) / 5 / 1e6;
  console.log(`agent memory inside the ${arch} guest (${sys.image.hash}):`);
  console.log(`  clip bitrate            ${clipMbit.toFixed(2)} Mbit/s (5 s loop)`);
  console.log(`  relayed                 ${(bytes / 1e6).toFixed(1)} MB in ${secs.toFixed(1)} s = ${((bytes * 8) / secs / 1e6).toFixed(2)} Mbit/s (ffmpeg exit ${r.exitCode})`);
  console.log(`  VmHWM idle / loaded     ${idle.hwm} kB / ${loaded.hwm} kB   (goal <= 2048 kB: ${loaded.hwm <= 2048 ? "met" : "MISSED"})`);
  console.log(`  VmRSS after the stream  ${loaded.rss} kB`);
} finally {
  await sys?.stop();
}
