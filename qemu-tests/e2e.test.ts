/**
 * End to end, per guest CPU: the hardened camera boots, its static agent activates against the
 * endpoint on the host and goes live at the streamer, and a real client plays the camera's video
 * (framemd5 identical to the clip) and snapshot (byte-identical to the guest's JPEG) through it;
 * three viewers at once cost the camera one RTSP session.
 * On armhf, a headless Chromium also logs in to the console and plays the camera over LL-HLS
 * (skipped when /usr/bin/chromium is missing; make test installs it: scripts/install-browser.sh).
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { RESULTS, haveChromium, launchChromium, loginAndOpenPlayer, nonBlankScreenshot, watchPlayback } from "../testkit/browser.js";
import { VIEWER } from "../testkit/streamer.js";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { CameraSystem, startCameraSystem } from "./lib/camera-system.js";
import { testArches } from "./lib/env.js";
import { buildFakeCamera, clipMd5s, frameMd5s, JPEG } from "./lib/media.js";
import { startPull, type LivePull } from "../testkit/ffmpeg.js";

const FRAMES = 100;

describe.each(testArches())("camera %s end to end", (arch) => {
  let sys: CameraSystem | undefined;

  beforeAll(async () => {
    await buildFakeCamera();
    sys = await startCameraSystem(arch);
    console.log(`[${arch}] boot ${sys.guest.bootMs} ms, device ${sys.deviceId} live ${sys.liveMs} ms after QEMU start`);
  }, 240_000);
  afterAll(async () => {
    await sys?.stop();
  }, 60_000);

  it(`plays ${FRAMES} frames identical to the clip over RTSP through the tunnel`, async () => {
    const t0 = Date.now();
    const got = await frameMd5s(sys!.rtspUrl(), FRAMES, ["-rtsp_transport", "tcp"], 90_000);
    console.log(`[${arch}] ${got.length} frames in ${Date.now() - t0} ms`);
    expect(got.length).toBe(FRAMES);
    expect(got).toEqual(await clipMd5s(FRAMES));
  }, 120_000);

  it("three viewers at once: the guest's camera serves one RTSP session (the streamer shares it)", async () => {
    const pulls: LivePull[] = [];
    try {
      for (let i = 0; i < 3; i++) pulls.push(await startPull(sys!.rtspUrl()));
      await Promise.all(pulls.map((p) => p.waitForPackets(10, 60_000)));
      // Established TCP connections whose local end is the fake camera's 127.0.0.1:554.
      const sessions = Number((await sys!.guest.sh("grep -c ' 0100007F:022A [0-9A-F]*:[0-9A-F]* 01 ' /proc/net/tcp", 20_000)).out.trim());
      console.log(`[${arch}] 3 viewers, camera connections in the guest: ${sessions}`);
      expect(sessions).toBe(1);
    } finally {
      await Promise.all(pulls.map((p) => p.stop()));
    }
  }, 120_000);

  it("runs the agent (and its supervisor) as its own user, not root; its state is the agent's", async () => {
    // The agent by name; its supervisor (a shell script: pidof does not see it) by the pidfile.
    const out = await sys!.guest.run("id -u flussonic-agent; for p in $(pidof flussonic-agent) $(cat /var/run/flussonic-agent.pid); do " +
      "awk '/^Uid:/ { print \"uid\", $2, $3 }' /proc/$p/status; done; " +
      "ls -ln /var/lib/flussonic-agent/state.json | awk '{ print \"state\", $3 }'", 60_000);
    const uid = out.trim().split("\n")[0].trim();
    expect(Number(uid), out).toBeGreaterThan(0);
    const uids = out.split("\n").filter((l) => l.startsWith("uid "));
    expect(uids.length, out).toBe(2); // the agent and its supervisor
    for (const l of uids) expect(l, out).toBe(`uid ${uid} ${uid}`); // real and effective
    expect(out).toContain(`state ${uid}`);
  }, 90_000);

  it("serves the guest's snapshot byte for byte", async () => {
    const guestJpeg = Buffer.from((await sys!.guest.run("od -An -v -tx1 /usr/share/fake-camera/image.jpg", 60_000)).replace(/\s+/g, ""), "hex");
    expect(guestJpeg).toEqual(readFileSync(JPEG));
    expect(await sys!.snapshot()).toEqual(guestJpeg);
  }, 90_000);

  it.skipIf(arch !== "armhf" || !haveChromium())("a browser logs in, sees the guest's snapshot as thumbnail and plays the camera over LL-HLS", async () => {
    const browser = await launchChromium();
    try {
      const page = await browser.newPage();
      const pageErrors: string[] = [];
      page.on("pageerror", (e) => pageErrors.push(String(e)));
      await page.setViewport({ width: 1024, height: 640 });
      const thumb = await loginAndOpenPlayer(page, sys!.httpBase, VIEWER, sys!.deviceId);
      expect(thumb.jpeg).toEqual(readFileSync(JPEG));
      expect(page.url()).toBe(`${sys!.httpBase}/${sys!.deviceId}/stream1/`);
      // The emulated camera is slower to start than the host one (its first segment goes through QEMU).
      const st = await watchPlayback(page, { seconds: 3, frames: 50, timeoutMs: 45_000 });
      console.log(`[${arch}] browser: ${JSON.stringify(st)}`);
      expect(st.played).toBeGreaterThanOrEqual(3);
      expect(st.frames).toBeGreaterThanOrEqual(50);
      expect(st.error).toBeNull();
      expect(st.fatal).toBe(0);
      expect(st.state).toBe("live");
      const shot = await nonBlankScreenshot(page, join(RESULTS, `hls-player-qemu-${arch}.png`));
      expect(shot.sd).toBeGreaterThan(10);
      expect(shot.levels).toBeGreaterThan(32);
      expect(pageErrors).toEqual([]);
    } finally {
      await browser.close();
    }
  }, 150_000);

  it("delivers two-way audio to the camera (POST /<id>/audio → guest's /play_audio)", async () => {
    const body = new Uint8Array(6000).map((_, i) => (i * 31 + 7) & 0xff);
    expect(await sys!.playAudio(body)).toBe(200);
    const inGuest = Buffer.from((await sys!.guest.run("od -An -v -tx1 /tmp/fake-camera-audio.bin", 60_000)).replace(/\s+/g, ""), "hex");
    expect(new Uint8Array(inGuest)).toEqual(body);
  }, 90_000);
});
