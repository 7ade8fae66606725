// Issue 14 in a real browser: Debian's headless Chromium (scripts/install-browser.sh), driven by
// puppeteer-core (never downloads a browser), logs in to the console, sees the device with a live
// thumbnail that is the camera's snapshot, opens the player, and the <video> plays over LL-HLS.
// Against the host camera: GStreamer test camera ← agent ← TLS → streamer.
import { execFile } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import puppeteer, { type Browser } from "puppeteer-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { REPO_ROOT } from "../../../testkit/paths";
import { ADMIN, startHlsSystem, type HlsSystem } from "../../../testkit/hls-system";
import { tempDir } from "../../../testkit/procs";

// Page-side code below runs in the browser; the test program is typed for Node (no DOM lib).
/* eslint-disable @typescript-eslint/no-explicit-any */
declare const document: any, window: any;
type HTMLImageElement = any;
type HTMLVideoElement = any;

const CHROMIUM = "/usr/bin/chromium";
const RESULTS = join(REPO_ROOT, "build/test-results");
const exec = promisify(execFile);
let sys: HlsSystem;
let browser: Browser;
let profile: string;

beforeAll(async () => {
  if (!existsSync(CHROMIUM)) throw new Error(`${CHROMIUM} missing: run scripts/install-browser.sh (make deps)`);
  // Recording the player's camera path too: the timeline test plays it back.
  sys = await startHlsSystem(undefined, { archive: { dir: tempDir("fa-archive-"), segment_s: 2, devices: { "*": { record: "continuous", path: "/long" } } } });
  profile = mkdtempSync(join(tmpdir(), "fa-chromium-"));
  browser = await puppeteer.launch({
    executablePath: CHROMIUM, headless: true, userDataDir: profile,
    args: ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
      "--disable-component-update", "--disable-sync", "--autoplay-policy=no-user-gesture-required"],
  });
}, 120_000);
afterAll(async () => {
  await browser?.close();
  await sys?.stop();
  if (profile) rmSync(profile, { recursive: true, force: true });
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
    await page.goto(`${sys.base}/`, { waitUntil: "load" });
    await page.waitForSelector("#login #name", { timeout: 10_000 });
    await page.type("#name", ADMIN.name);
    await page.type("#password", ADMIN.password);
    await page.click("#login button[type=submit]");

    // The device card, with a thumbnail the browser decoded, byte for byte the camera's snapshot.
    const thumb = `#dev-${sys.id} img.thumb`;
    await page.waitForSelector(thumb, { timeout: 10_000 });
    await page.waitForFunction((sel: string) => {
      const img = document.querySelector(sel) as HTMLImageElement | null;
      return !!img && img.complete && img.naturalWidth > 0;
    }, { timeout: 15_000 }, thumb);
    const got = await page.$eval(thumb, async (img) => {
      const i = img as HTMLImageElement;
      const bytes = new Uint8Array(await (await fetch(i.src)).arrayBuffer());
      return { w: i.naturalWidth, h: i.naturalHeight, bytes: Array.from(bytes) };
    });
    expect(Buffer.from(got.bytes).equals(sys.cam.jpeg)).toBe(true);
    expect({ width: got.w, height: got.h }).toEqual(jpegSize(sys.cam.jpeg));
    const meta = await page.$eval(`#dev-${sys.id} .meta`, (e) => e.textContent);
    expect(meta).toMatch(/online/);
    // A refresh a few seconds later shows it still (the snapshot cache answers).
    await page.screenshot({ path: join(RESULTS, "hls-console.png") });

    // Click → player.
    await Promise.all([page.waitForNavigation({ waitUntil: "load" }), page.click(`#dev-${sys.id} a.play`)]);
    expect(page.url()).toBe(`${sys.base}/${sys.id}/long/`);
    const t0 = Date.now();
    await page.waitForFunction(() => (document.getElementById("video") as HTMLVideoElement).currentTime > 0, { timeout: 20_000 });
    const firstFrameMs = Date.now() - t0;
    const start = await page.$eval("#video", (v) => (v as HTMLVideoElement).currentTime);
    await page.waitForFunction((s: number) => {
      const v = document.getElementById("video") as HTMLVideoElement;
      return v.currentTime - s >= 3 && v.getVideoPlaybackQuality().totalVideoFrames >= 50;
    }, { timeout: 20_000, polling: 200 }, start);
    const st = await page.evaluate(() => {
      const v = document.getElementById("video") as HTMLVideoElement;
      const q = v.getVideoPlaybackQuality();
      const p = (window as unknown as { __player: { errors: string[]; fatal: number } }).__player;
      return {
        t: v.currentTime, frames: q.totalVideoFrames, dropped: q.droppedVideoFrames, error: v.error?.code ?? null,
        w: v.videoWidth, h: v.videoHeight, state: document.body.dataset.state, status: document.getElementById("status")!.textContent,
        errors: p.errors, fatal: p.fatal,
        latency: v.buffered.length ? v.buffered.end(v.buffered.length - 1) - v.currentTime : null,
      };
    });
    console.log(`player: first frame after ${firstFrameMs} ms; ${JSON.stringify(st)}`);
    expect(st.t - start).toBeGreaterThanOrEqual(3);
    expect(st.frames).toBeGreaterThanOrEqual(50);
    expect(st.error).toBeNull();
    expect(st.fatal).toBe(0);
    expect(st.errors).toEqual([]);
    expect(st.state).toBe("live");
    expect([st.w, st.h]).toEqual([320, 180]);

    // The screenshot, and proof it is not blank: its pixels vary (ffmpeg decodes the PNG to gray).
    mkdirSync(RESULTS, { recursive: true });
    const shot = join(RESULTS, "hls-player.png");
    await page.screenshot({ path: shot });
    expect(statSync(shot).size).toBeGreaterThan(5000);
    const { stdout } = await exec("ffmpeg", ["-v", "error", "-i", shot, "-f", "rawvideo", "-pix_fmt", "gray", "-"], { encoding: "buffer", maxBuffer: 64 << 20 });
    const px = stdout as unknown as Buffer;
    const mean = px.reduce((n, v) => n + v, 0) / px.length;
    const sd = Math.sqrt(px.reduce((n, v) => n + (v - mean) ** 2, 0) / px.length);
    const distinct = new Set(px).size;
    console.log(`screenshot ${shot}: mean ${mean.toFixed(1)}, sd ${sd.toFixed(1)}, ${distinct} gray levels`);
    expect(sd).toBeGreaterThan(10);
    expect(distinct).toBeGreaterThan(32);
    expect(consoleErrors).toEqual([]);
    console.log(`HTTP errors the page saw: ${JSON.stringify(failed)}`);
    // Before login the console asks who is logged in (401); nothing else may fail.
    expect(failed.filter((f) => f !== "401 /api/me")).toEqual([]);
    await page.close();
  }, 120_000);

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
    mkdirSync(RESULTS, { recursive: true });
    await page.screenshot({ path: join(RESULTS, "archive-player.png") });
    await page.close();
  }, 90_000);
});
