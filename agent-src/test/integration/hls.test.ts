// Issue 14: LL-HLS from the shared source, read by ffmpeg; and who may read it.
// Real processes on 127.0.0.1: GStreamer camera ← agent ← TLS → streamer → HLS over HTTP.
import { execFile } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ADMIN, OTHER, decodedMd5, startHlsSystem, type HlsSystem } from "../../../testkit/hls-system";

const exec = promisify(execFile);
let sys: HlsSystem;
let tmp: string;

beforeAll(async () => {
  sys = await startHlsSystem();
  tmp = mkdtempSync(join(tmpdir(), "fa-hls-"));
}, 90_000);
afterAll(async () => {
  await sys?.stop();
  if (tmp) rmSync(tmp, { recursive: true, force: true });
});

const hlsUrl = (file: string, token = sys.token(sys.id)) => `${sys.base}/${sys.id}/long/${file}?token=${token}`;

async function login(name: string, password: string): Promise<string> {
  const r = await fetch(`${sys.base}/api/login`, { method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify({ name, password }) });
  expect(r.status).toBe(200);
  return r.headers.get("set-cookie")!.split(";")[0];
}

describe("HLS from the shared source", () => {
  it("playlist tags are valid LL-HLS: TARGETDURATION, PART-INF, SERVER-CONTROL, MAP, parts within the part target", async () => {
    const r = await fetch(hlsUrl("index.m3u8"));
    expect(r.status).toBe(200);
    expect(r.headers.get("content-type")).toBe("application/vnd.apple.mpegurl");
    expect(r.headers.get("cache-control")).toMatch(/no-cache/);
    const text = await r.text();
    console.log(text.split("\n").slice(0, 14).join("\n"));
    expect(text.startsWith("#EXTM3U\n")).toBe(true);
    const target = Number(/#EXT-X-TARGETDURATION:(\d+)/.exec(text)?.[1]);
    expect(target).toBeGreaterThanOrEqual(1);
    expect(text).toMatch(/#EXT-X-SERVER-CONTROL:CAN-BLOCK-RELOAD=YES,PART-HOLD-BACK=[\d.]+/);
    const partTarget = Number(/#EXT-X-PART-INF:PART-TARGET=([\d.]+)/.exec(text)?.[1]);
    expect(partTarget).toBeGreaterThan(0);
    expect(Number(/PART-HOLD-BACK=([\d.]+)/.exec(text)![1])).toBeGreaterThanOrEqual(2 * partTarget);
    expect(text).toMatch(/#EXT-X-MAP:URI="init\.mp4\?token=/);
    expect(text).toMatch(/#EXT-X-PRELOAD-HINT:TYPE=PART,URI="part\d+\.\d+\.m4s\?token=/);
    for (const m of text.matchAll(/#EXTINF:([\d.]+),/g)) expect(Number(m[1])).toBeLessThanOrEqual(target + 0.5);
    for (const m of text.matchAll(/#EXT-X-PART:DURATION=([\d.]+)/g)) expect(Number(m[1])).toBeLessThanOrEqual(partTarget + 0.001);
    expect(text.match(/#EXTINF/g)!.length).toBeGreaterThanOrEqual(1);
  }, 60_000);

  it("blocking playlist reload: _HLS_msn/_HLS_part waits for that part, then lists it", async () => {
    const text = await (await fetch(hlsUrl("index.m3u8"))).text();
    const hint = /#EXT-X-PRELOAD-HINT:TYPE=PART,URI="part(\d+)\.(\d+)\.m4s/.exec(text)!;
    const [msn, part] = [Number(hint[1]), Number(hint[2])];
    const t0 = Date.now();
    const r = await fetch(hlsUrl(`index.m3u8`) + `&_HLS_msn=${msn}&_HLS_part=${part}`);
    const waited = Date.now() - t0;
    expect(r.status).toBe(200);
    const next = await r.text();
    expect(next.includes(`part${msn}.${part}.m4s`) || next.includes(`seg${msn}.m4s`)).toBe(true);
    console.log(`blocking reload for part ${msn}.${part} answered after ${waited} ms`);
    expect(waited).toBeLessThan(3000);
    // The part the hint named is served (or, if a keyframe started a new segment instead, 404).
    const p = await fetch(hlsUrl(`part${msn}.${part}.m4s`));
    expect([200, 404]).toContain(p.status);
    // Asking far ahead is a client error, not a hang.
    expect((await fetch(hlsUrl(`index.m3u8`) + `&_HLS_msn=${msn + 100}`)).status).toBe(400);
  }, 60_000);

  it("every segment starts with a keyframe (init + segment decoded by ffprobe)", async () => {
    const text = await (await fetch(hlsUrl("index.m3u8"))).text();
    const init = Buffer.from(await (await fetch(hlsUrl("init.mp4"))).arrayBuffer());
    const segs = [...text.matchAll(/^(seg\d+\.m4s)\?/gm)].map((m) => m[1]);
    expect(segs.length).toBeGreaterThanOrEqual(1);
    for (const s of segs) {
      const r = await fetch(hlsUrl(s));
      expect(r.status).toBe(200);
      expect(r.headers.get("content-type")).toBe("video/mp4");
      const f = join(tmp, s.replace(".m4s", ".mp4"));
      writeFileSync(f, Buffer.concat([init, Buffer.from(await r.arrayBuffer())]));
      const { stdout } = await exec("ffprobe", ["-v", "error", "-select_streams", "v:0", "-show_entries", "frame=key_frame,pict_type", "-of", "csv=p=0", f], { timeout: 20_000 });
      const frames = stdout.trim().split("\n");
      expect(frames.length).toBeGreaterThan(10);
      expect(frames[0]).toMatch(/^1,I/);
    }
  }, 60_000);

  it("ffmpeg reads the playlist: ≥ 100 decoded frames identical to a direct pull's, in order", async () => {
    const [direct, viaHls] = await Promise.all([
      decodedMd5(sys.cam.rtspUrl("long"), 500, 60_000),
      decodedMd5(hlsUrl("index.m3u8"), 150, 60_000),
    ]);
    expect(viaHls.length).toBeGreaterThanOrEqual(100);
    const start = direct.indexOf(viaHls[0]);
    expect(start).toBeGreaterThanOrEqual(0);
    const n = Math.min(viaHls.length, direct.length - start);
    expect(n).toBeGreaterThanOrEqual(100);
    let same = 0;
    for (let i = 0; i < n; i++) if (direct[start + i] === viaHls[i]) same++;
    console.log(`HLS frames ${viaHls.length}, from direct frame #${start}: ${same}/${n} identical`);
    expect(same).toBe(n);
  }, 120_000);
});

describe("who may watch", () => {
  it("without a session or token: player page redirects to the login, playlist/init/segment/part 401 — the same for a device that does not exist", async () => {
    for (const dev of [sys.id, "cam-does-not-exist"]) {
      const page = await fetch(`${sys.base}/${dev}/long/`, { redirect: "manual" });
      expect(page.status).toBe(302);
      expect(page.headers.get("location")).toBe("/");
      for (const f of ["index.m3u8", "init.mp4", "seg1.m4s", "part1.0.m4s"]) {
        const r = await fetch(`${sys.base}/${dev}/long/${f}`);
        expect(r.status).toBe(401);
        expect(await r.text()).toBe("unauthorized\n");
      }
    }
  });

  it("a forged, expired or other device's token is refused", async () => {
    const good = sys.token(sys.id);
    const forged = good.slice(0, -4) + (good.endsWith("0000") ? "1111" : "0000");
    const expired = sys.token(sys.id, -5);
    const other = sys.token("cam-someone-else");
    for (const t of [forged, expired, other, "123.abc"]) {
      expect((await fetch(hlsUrl("index.m3u8", t))).status).toBe(401);
      expect((await fetch(hlsUrl("init.mp4", t))).status).toBe(401);
      expect((await fetch(`${sys.base}/${sys.id}/long/?token=${t}`, { redirect: "manual" })).status).toBe(302);
    }
  });

  it("a second account sees none of the first's devices, and opening one by URL looks like a missing device", async () => {
    const cookie = await login(OTHER.name, OTHER.password);
    const list = (await (await fetch(`${sys.base}/api/devices`, { headers: { cookie } })).json()) as { devices: { id: string }[] };
    expect(list.devices.map((d: { id: string }) => d.id)).not.toContain(sys.id);
    for (const path of ["long/", "long/index.m3u8", "long/init.mp4", "snapshot.jpg"]) {
      const mine = await fetch(`${sys.base}/${sys.id}/${path}`, { headers: { cookie } });
      const none = await fetch(`${sys.base}/cam-nobody/${path}`, { headers: { cookie } });
      expect(mine.status).toBe(404);
      expect(none.status).toBe(404);
      expect(await mine.text()).toBe(await none.text());
    }
    // The admin action of another account's device: also "not found".
    const me = (await (await fetch(`${sys.base}/api/me`, { headers: { cookie } })).json()) as { csrf: string };
    const r = await fetch(`${sys.base}/api/devices/${sys.id}/disconnect`, { method: "POST", headers: { cookie, "Content-Type": "application/json", "X-CSRF-Token": me.csrf }, body: "{}" });
    expect(r.status).toBe(404);
  });

  it("the owner's session plays; a POST without the CSRF token or as a form is refused; logout ends the session", async () => {
    const cookie = await login(ADMIN.name, ADMIN.password);
    expect((await fetch(`${sys.base}/${sys.id}/long/index.m3u8`, { headers: { cookie } })).status).toBe(200);
    const page = await fetch(`${sys.base}/${sys.id}/long/`, { headers: { cookie } });
    expect(page.status).toBe(200);
    expect(page.headers.get("content-security-policy")).toMatch(/script-src 'self'/);
    expect(page.headers.get("content-type")).toBe("text/html; charset=utf-8");
    expect(await page.text()).not.toMatch(/<script>|<script [^>]*>[^<]/); // no inline script
    const noCsrf = await fetch(`${sys.base}/api/devices/${sys.id}/disconnect`, { method: "POST", headers: { cookie, "Content-Type": "application/json" }, body: "{}" });
    expect(noCsrf.status).toBe(403);
    const form = await fetch(`${sys.base}/api/logout`, { method: "POST", headers: { cookie, "Content-Type": "application/x-www-form-urlencoded" }, body: "" });
    expect(form.status).toBe(403);
    const crossSite = await fetch(`${sys.base}/api/login`, { method: "POST", headers: { "Content-Type": "application/json", Origin: "http://evil.example" }, body: JSON.stringify({ name: ADMIN.name, password: ADMIN.password }) });
    expect(crossSite.status).toBe(403);
    const me = (await (await fetch(`${sys.base}/api/me`, { headers: { cookie } })).json()) as { csrf: string };
    const out = await fetch(`${sys.base}/api/logout`, { method: "POST", headers: { cookie, "Content-Type": "application/json", "X-CSRF-Token": me.csrf }, body: "{}" });
    expect(out.status).toBe(200);
    expect(out.headers.get("set-cookie")).toMatch(/Max-Age=0/);
    expect((await fetch(`${sys.base}/${sys.id}/long/index.m3u8`, { headers: { cookie } })).status).toBe(401);
    expect((await fetch(`${sys.base}/api/devices`, { headers: { cookie } })).status).toBe(401);
  });

  it("no directory listing: / is the console, /assets/ and a device's folder list nothing", async () => {
    const cookie = await login(ADMIN.name, ADMIN.password);
    expect((await fetch(`${sys.base}/assets/`, { headers: { cookie } })).status).toBe(404);
    expect((await fetch(`${sys.base}/${sys.id}/`, { headers: { cookie } })).status).toBe(404);
    expect((await fetch(`${sys.base}/${sys.id}/long/../`, { headers: { cookie } })).status).not.toBe(200);
    const css = await fetch(`${sys.base}/assets/app.css`);
    expect(css.headers.get("content-type")).toBe("text/css; charset=utf-8");
  });
});

describe("on demand", () => {
  it("the muxer detaches after HLS_IDLE_MS without a request, and the source then closes after close_after", async () => {
    // One more request now, so the detach and close waited for are the ones after it (earlier
    // tests of this file detached and closed this source before).
    const cookie = await login(ADMIN.name, ADMIN.password);
    const after = sys.server.proc.mark();
    expect((await fetch(`${sys.base}/${sys.id}/long/index.m3u8`, { headers: { cookie } })).status).toBe(200);
    await sys.server.proc.waitForLine(/HLS cam-[0-9a-f]+\/long: no request for 6000 ms, detached/, { timeoutMs: 20_000, after });
    await sys.server.proc.waitForLine(/source cam-[0-9a-f]+\/long: closed \(no viewers for 2000 ms\)/, { timeoutMs: 10_000, after });
    const d = (await sys.server.devices()).find((x) => x.id === sys.id) as unknown as { streams: number; hls: { streams: number; viewers: number } };
    expect(d.hls).toEqual({ streams: 0, viewers: 0 });
  }, 40_000);
});
