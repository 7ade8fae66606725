/**
 * A camera without a real-time clock boots in 1970, before NTP has run — and it must still come
 * online: every certificate is "not yet valid" then, which the agent's TLS client ignores while
 * the clock is unset (before 2024; "expired" is always enforced, and a set clock refuses a future
 * certificate — agent-src/test/native). raspi0 (armel) has no RTC, so it is the board that shows
 * it; the virt and malta boards read the host's time from their emulated RTC.
 */
import { X509Certificate } from "node:crypto";
import { readFileSync } from "node:fs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { CameraSystem, startCameraSystem } from "./lib/camera-system.js";
import { testArches } from "./lib/env.js";
import { buildFakeCamera, clipMd5s, frameMd5s } from "./lib/media.js";
import { qemuPki } from "./lib/pki.js";

describe.skipIf(!testArches().includes("armel"))("RTC-less camera (raspi0) with its clock unset", () => {
  let sys: CameraSystem | undefined;

  beforeAll(async () => {
    await buildFakeCamera();
    sys = await startCameraSystem("armel", { clock: "unset" });
    console.log(`[armel, clock unset] live ${sys.liveMs} ms after QEMU start`);
  }, 240_000);
  afterAll(async () => {
    await sys?.stop();
  }, 60_000);

  it("runs in 1970, before the streamer's certificate is valid", async () => {
    const guestNow = Number((await sys!.guest.run("date -u +%s")).trim());
    const notBefore = Date.parse(new X509Certificate(readFileSync(qemuPki().certFile)).validFrom) / 1000;
    console.log(`[armel] guest clock ${new Date(guestNow * 1000).toISOString()}, certificate valid from ${new Date(notBefore * 1000).toISOString()}`);
    expect(guestNow).toBeLessThan(365 * 86400); // still in 1970: nothing set the clock
    expect(guestNow).toBeLessThan(notBefore);
  }, 60_000);

  it("activates, goes live and plays the clip through the tunnel", async () => {
    const got = await frameMd5s(sys!.rtspUrl(), 30, ["-rtsp_transport", "tcp"], 90_000);
    expect(got).toEqual(await clipMd5s(30));
  }, 120_000);
});
