/**
 * make demo: boot the armhf hardened camera in QEMU, start endpoint + streamer on 127.0.0.1, print
 * the camera's rtsp:// URL, record 5 s to out/demo.mp4 and a snapshot to out/snapshot.jpg, show an
 * ffprobe summary, shut everything down. Ctrl-C at any point stops QEMU and the servers.
 *   DEMO_ARCH=aarch64   another guest CPU      DEMO_WAIT=1   keep running until Ctrl-C (try VLC)
 */
import { execa } from "execa";
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import type { Arch } from "../lib/boards.js";
import { CameraSystem, probeSummary, startCameraSystem } from "../lib/camera-system.js";
import { REPO } from "../lib/paths.js";
import { isLoopback, listeners } from "../lib/procnet.js";
import { cleanup } from "../../testkit/procs.js";

const arch = (process.env.DEMO_ARCH ?? "armhf") as Arch;
const out = join(REPO, "out");
let sys: CameraSystem | undefined;
let stopping = false;

async function shutdown(code: number): Promise<never> {
  if (!stopping) {
    stopping = true;
    console.log("demo: stopping camera and servers …");
    await sys?.stop().catch(() => {});
    await cleanup(); // the servers' config and state folders
  }
  process.exit(code);
}
process.on("SIGINT", () => void shutdown(130));
process.on("SIGTERM", () => void shutdown(143));

async function main() {
  mkdirSync(out, { recursive: true });
  console.log(`demo: booting the hardened ${arch} camera (QEMU) and starting endpoint + streamer on 127.0.0.1 …`);
  sys = await startCameraSystem(arch);
  console.log(`demo: camera booted in ${(sys.guest.bootMs / 1000).toFixed(1)} s; device ${sys.deviceId} online ${(sys.liveMs / 1000).toFixed(1)} s after power-on`);

  const socks = [];
  for (const p of ["tcp", "tcp6", "udp", "udp6"] as const) socks.push(...listeners(p, await sys.guest.run(`cat /proc/net/${p}`)));
  const exposed = socks.filter((l) => !isLoopback(l.address));
  console.log(`demo: sockets listening inside the camera: ${socks.map((l) => `${l.address}:${l.port}`).join(", ") || "none"} — reachable from the network: ${exposed.length ? JSON.stringify(exposed) : "NONE"}`);

  const url = sys.rtspUrl();
  console.log(`\n  camera video:  ${url}\n  (ffplay -rtsp_transport tcp '${url}')\n`);

  console.log("demo: recording 5 s to out/demo.mp4 …");
  const rec = await execa("ffmpeg", ["-hide_banner", "-loglevel", "error", "-y", "-rtsp_transport", "tcp", "-i", url, "-t", "5", "-c", "copy", join(out, "demo.mp4")], { reject: false, timeout: 60_000 });
  if (rec.exitCode !== 0) throw new Error(`ffmpeg failed: ${rec.stderr}`);
  writeFileSync(join(out, "snapshot.jpg"), await sys.snapshot());
  console.log("demo: snapshot saved to out/snapshot.jpg");
  console.log("\n--- ffprobe out/demo.mp4 ---\n" + (await probeSummary(join(out, "demo.mp4"))));
  console.log("--- ffprobe out/snapshot.jpg ---\n" + (await probeSummary(join(out, "snapshot.jpg"))));

  if (process.env.DEMO_WAIT) {
    console.log(`demo: running; play ${url} — Ctrl-C to stop`);
    await new Promise(() => {});
  }
  await shutdown(0);
}

main().catch(async (e) => {
  console.error(`demo failed: ${e instanceof Error ? e.message : e}`);
  await shutdown(1);
});
