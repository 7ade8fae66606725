// Issue 14 in a real browser: Debian's headless Chromium (scripts/install-browser.sh), driven by
// puppeteer-core (never downloads a browser), logs in to the console, sees the device with a live
// thumbnail that is the camera's snapshot, opens the player, and the <video> plays over LL-HLS.
// Against the host camera: GStreamer test camera ← agent ← TLS → streamer.
import { join } from "node:path";
import type { Browser } from "puppeteer-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { RESULTS, launchChromium, loginAndOpenPlayer, nonBlankScreenshot, watchPlayback } from "../../../testkit/browser";
import { ADMIN, startHlsSystem, type HlsSystem } from "../../../testkit/hls-system";
import { tempDir } from "../../../testkit/procs";

/* eslint-disable @typescript-eslint/no-explicit-any -- page-side callbacks see DOM objects */
// Page-side code below runs in the browser; the test program is typed for Node (no DOM lib).
declare const document: any, window: any;
type HTMLVideoElement = any;
let sys: HlsSystem;
let browser: Browser;

beforeAll(async () => {
  browser = await launchChromium();
  // Recording the player's camera path too: the timeline test plays it back.
  sys = await startHlsSystem(undefined, { archive: { dir: tempDir("fa-archive-"), segment_s: 2, devices: { "*": { record: "continuous", path: "/long" } } } });
}, 120_000);
afterAll(async () => {
  await browser?.close();
  await sys?.stop();
});

/** Width and height of a baseline JPEG (its SOF0/SOF2 segment). */
function jpegSize(b: Buffer): { width: number; height: number } {
  for (let i = 2; i + 9 < b.length; ) {
    if (b[i] !== 0xff) break;
    const marker = b[i + 1], len = b.readUInt16BE(i + 2);
    if (marker === 0xc0 || marker === 0xc2) return { height: b.readUInt16BE(i + 5), width: b.readUInt16BE(i + 7) };
    i += 2 + len;
  }
  throw new Error("no SOF in JPEG");
}

describe("browser: console → player", () => {
  it("logs in, lists the device with the camera's snapshot as thumbnail, opens the player, and the video plays", async () => {
    const page = await browser.newPage();
    const consoleErrors: string[] = [];
    const failed: string[] = [];
    page.on("console", (m) => m.type() === "error" && !/Failed to load resource/.test(m.text()) && consoleErrors.push(m.text()));
    page.on("response", (r) => r.status() >= 400 && failed.push(`${r.status()} ${r.url().replace(sys.base, "")}`));
    page.on("pageerror", (e) => consoleErrors.push(String(e)));
    await page.setViewport({ width: 1024, height: 640 });
    // The device card, with a thumbnail the browser decoded, byte for byte the camera's snapshot;
    // then click → player.
    const thumb = await loginAndOpenPlayer(page, sys.base, ADMIN, sys.id, () => page.screenshot({ path: join(RESULTS, "hls-console.png") }).then(() => {}));
    expect(thumb.jpeg.equals(sys.cam.jpeg)).toBe(true);
    expect({ width: thumb.width, height: thumb.height }).toEqual(jpegSize(sys.cam.jpeg));
    expect(thumb.meta).toMatch(/online/);
    expect(page.url()).toBe(`${sys.base}/${sys.id}/long/`);
    const st = await watchPlayback(page, { seconds: 3, frames: 50 });
    console.log(`player: ${JSON.stringify(st)}`);
    expect(st.played).toBeGreaterThanOrEqual(3);
    expect(st.frames).toBeGreaterThanOrEqual(50);
    expect(st.error).toBeNull();
    expect(st.fatal).toBe(0);
    expect(st.errors).toEqual([]);
    expect(st.state).toBe("live");
    expect([st.width, st.height]).toEqual([320, 180]);

    // The screenshot, and proof it is not blank: its pixels vary.
    const shot = await nonBlankScreenshot(page, join(RESULTS, "hls-player.png"));
    console.log(`screenshot hls-player.png: ${JSON.stringify(shot)}`);
    expect(shot.bytes).toBeGreaterThan(5000);
    expect(shot.sd).toBeGreaterThan(10);
    expect(shot.levels).toBeGreaterThan(32);
    expect(consoleErrors).toEqual([]);
    console.log(`HTTP errors the page saw: ${JSON.stringify(failed)}`);
    // Before login the console asks who is logged in (401); nothing else may fail.
    expect(failed.filter((f) => f !== "401 /api/me")).toEqual([]);
    await page.close();
  }, 120_000);

  it("a camera with AAC audio plays with its sound (the session from the login above)", async () => {
    const page = await browser.newPage();
    const errors: string[] = [];
    page.on("pageerror", (e) => errors.push(String(e)));
    await page.goto(`${sys.base}/${sys.id}/av/`, { waitUntil: "load" });
    const st = await watchPlayback(page, { seconds: 3, frames: 50 });
    const audioBytes = await page.$eval("#video", (v: any) => v.webkitAudioDecodedByteCount as number);
    console.log(`player (H.264 + AAC): ${JSON.stringify(st)}, audio bytes decoded ${audioBytes}`);
    expect(audioBytes).toBeGreaterThan(0);
    expect(st.frames).toBeGreaterThanOrEqual(50);
    expect(st.error).toBeNull();
    expect(st.fatal).toBe(0);
    expect(errors).toEqual([]);
    await page.close();
  }, 60_000);

  it("the player's timeline shows the recordings; a click plays the archive from there", async () => {
    const page = await browser.newPage();
    const pageErrors: string[] = [];
    const archiveOk: string[] = [];
    page.on("pageerror", (e) => pageErrors.push(String(e)));
    page.on("response", (r) => /\/archive\/\d+\/\d+\/index\.m3u8/.test(r.url()) && r.status() === 200 && archiveOk.push(r.url()));
    await page.setViewport({ width: 1024, height: 640 });
    await page.goto(`${sys.base}/${sys.id}/long/?token=${sys.token(sys.id)}`, { waitUntil: "load" });
    await page.waitForSelector("#timeline .rec", { timeout: 30_000 });
    // Click 2 s into the first recorded range (at least 8 s of it recorded by now, or wait).
    await page.waitForFunction(() => {
      const r = (window as any).__player.ranges;
      return r?.length && r[0].to - r[0].from >= 8;
    }, { timeout: 30_000, polling: 500 });
    await page.evaluate(() => new Promise((ok) => setTimeout(ok, 0)));
    const at = await page.evaluate(() => {
      const bar = document.getElementById("timeline");
      bar.scrollIntoView({ block: "center" });
      const box = bar.getBoundingClientRect();
      const first = bar.querySelector(".rec").getBoundingClientRect();
      return { x: first.left + Math.min(4, first.width / 3), y: box.top + box.height / 2 };
    });
    await page.mouse.click(at.x, at.y);
    const dump = () => page.evaluate(() => {
      const v = document.getElementById("video") as HTMLVideoElement;
      const p = (window as any).__player;
      return JSON.stringify({ mode: p.mode, errors: p.errors, fatal: p.fatal, t: v.currentTime, state: document.body.dataset.state, status: document.getElementById("status")!.textContent, paused: v.paused, ready: v.readyState });
    });
    const timer = setInterval(() => void dump().then((d) => console.log(`archive player: ${d}`), () => {}), 3000);
    await page.waitForFunction(() => {
      const v = document.getElementById("video") as HTMLVideoElement;
      return (window as any).__player.mode === "archive" && document.body.dataset.state === "archive" && v.currentTime >= 3 && v.getVideoPlaybackQuality().totalVideoFrames >= 50;
    }, { timeout: 30_000, polling: 250 }).finally(() => clearInterval(timer));
    const st = await page.evaluate(() => ({ status: document.getElementById("status")!.textContent, error: (document.getElementById("video") as HTMLVideoElement).error?.code ?? null }));
    console.log(`archive playback: ${JSON.stringify(st)} from ${archiveOk[0]?.replace(sys.base, "").replace(/\?.*/, "")}`);
    expect(archiveOk.length).toBeGreaterThanOrEqual(1);
    expect(st.error).toBeNull();
    expect(st.status).toMatch(/^archive · /);
    expect(pageErrors).toEqual([]);
    await page.screenshot({ path: join(RESULTS, "archive-player.png") });
    await page.close();
  }, 90_000);
});
