// Debian's headless Chromium (scripts/install-browser.sh) driven by puppeteer-core, which never
// downloads a browser: what the host and QEMU browser tests share — launch, the console's login
// → device card → player flow, watching the <video> play, and a screenshot proved non-blank.
//
//   if (!haveChromium()) skip;
//   const b = await launchChromium();
//   const page = await b.newPage();
//   const thumb = await loginAndOpenPlayer(page, base, account, deviceId);
//   const st = await watchPlayback(page, { seconds: 3, frames: 50 });
//   await nonBlankScreenshot(page, join(RESULTS, "x.png"));
import { execFile } from "node:child_process";
import { existsSync, mkdirSync, statSync } from "node:fs";
import { dirname, join } from "node:path";
import { promisify } from "node:util";
import puppeteer, { type Browser, type Page } from "puppeteer-core";
import { REPO_ROOT } from "./paths";
import { tempDir } from "./procs";

// Page-side code below runs in the browser; the test kit is typed for Node (no DOM lib).
/* eslint-disable @typescript-eslint/no-explicit-any */
declare const document: any, window: any;

export const CHROMIUM = "/usr/bin/chromium";
export const RESULTS = join(REPO_ROOT, "build/test-results");
const exec = promisify(execFile);

export function haveChromium(): boolean {
  return existsSync(CHROMIUM);
}

/** A headless Chromium with a throw-away profile (removed by the test kit's cleanup). */
export async function launchChromium(): Promise<Browser> {
  if (!haveChromium()) throw new Error(`${CHROMIUM} missing: run scripts/install-browser.sh (make deps)`);
  mkdirSync(RESULTS, { recursive: true });
  return puppeteer.launch({
    executablePath: CHROMIUM, headless: true, userDataDir: tempDir("fa-chromium-"),
    args: ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
      "--disable-component-update", "--disable-sync", "--autoplay-policy=no-user-gesture-required"],
  });
}

/**
 * The console at `base`/: logs in with the form, waits for the device's card and its thumbnail
 * (decoded by the browser), returns the thumbnail's bytes and size and the card's text; then
 * clicks the card's play link and waits for the player page.
 */
export async function loginAndOpenPlayer(page: Page, base: string, account: { name: string; password: string }, deviceId: string,
  beforePlay?: () => Promise<void>): Promise<{ jpeg: Buffer; width: number; height: number; meta: string }> {
  await page.goto(`${base}/`, { waitUntil: "load" });
  await page.waitForSelector("#login #name", { timeout: 10_000 });
  await page.type("#name", account.name);
  await page.type("#password", account.password);
  await page.click("#login button[type=submit]");
  const thumb = `#dev-${deviceId} img.thumb`;
  await page.waitForSelector(thumb, { timeout: 10_000 });
  await page.waitForFunction((sel: string) => {
    const img = document.querySelector(sel);
    return !!img && img.complete && img.naturalWidth > 0;
  }, { timeout: 30_000 }, thumb);
  const got = await page.$eval(thumb, async (img: any) => {
    const bytes = new Uint8Array(await (await fetch(img.src)).arrayBuffer());
    return { w: img.naturalWidth, h: img.naturalHeight, bytes: Array.from(bytes) };
  });
  const meta = (await page.$eval(`#dev-${deviceId} .meta`, (e: any) => e.textContent)) ?? "";
  await beforePlay?.();
  await Promise.all([page.waitForNavigation({ waitUntil: "load" }), page.click(`#dev-${deviceId} a.play`)]);
  return { jpeg: Buffer.from(got.bytes), width: got.w, height: got.h, meta };
}

export interface PlaybackStats {
  /** ms from the call until currentTime first advanced. */
  firstFrameMs: number;
  /** Seconds of video played while watched. */
  played: number;
  frames: number;
  dropped: number;
  error: number | null;
  width: number;
  height: number;
  state: string;
  status: string;
  errors: string[];
  fatal: number;
  /** Seconds between the newest buffered media and the playhead. */
  buffered: number | null;
}

/** Waits until the player's <video> has played `seconds` and decoded `frames` pictures, then reads its state. */
export async function watchPlayback(page: Page, want: { seconds: number; frames: number; timeoutMs?: number }): Promise<PlaybackStats> {
  const timeout = want.timeoutMs ?? 20_000;
  const t0 = Date.now();
  await page.waitForFunction(() => document.getElementById("video").currentTime > 0, { timeout });
  const firstFrameMs = Date.now() - t0;
  const start = await page.$eval("#video", (v: any) => v.currentTime as number);
  await page.waitForFunction((s: number, n: number, f: number) => {
    const v = document.getElementById("video");
    return v.currentTime - s >= n && v.getVideoPlaybackQuality().totalVideoFrames >= f;
  }, { timeout, polling: 200 }, start, want.seconds, want.frames);
  const st = await page.evaluate(() => {
    const v = document.getElementById("video");
    const q = v.getVideoPlaybackQuality();
    const p = window.__player;
    return {
      t: v.currentTime as number, frames: q.totalVideoFrames as number, dropped: q.droppedVideoFrames as number, error: (v.error?.code ?? null) as number | null,
      width: v.videoWidth as number, height: v.videoHeight as number, state: document.body.dataset.state as string,
      status: document.getElementById("status").textContent as string, errors: p.errors as string[], fatal: p.fatal as number,
      buffered: (v.buffered.length ? v.buffered.end(v.buffered.length - 1) - v.currentTime : null) as number | null,
    };
  });
  const { t, ...rest } = st;
  return { firstFrameMs, played: t - start, ...rest };
}

/** Saves a screenshot and returns how much its pixels vary (ffmpeg decodes the PNG to gray). */
export async function nonBlankScreenshot(page: Page, file: string): Promise<{ bytes: number; sd: number; levels: number }> {
  mkdirSync(dirname(file), { recursive: true });
  await page.screenshot({ path: file });
  const { stdout } = await exec("ffmpeg", ["-v", "error", "-i", file, "-f", "rawvideo", "-pix_fmt", "gray", "-"], { encoding: "buffer", maxBuffer: 64 << 20 });
  const px = stdout as unknown as Buffer;
  const mean = px.reduce((n, v) => n + v, 0) / px.length;
  const sd = Math.sqrt(px.reduce((n, v) => n + (v - mean) ** 2, 0) / px.length);
  return { bytes: statSync(file).size, sd, levels: new Set(px).size };
}
