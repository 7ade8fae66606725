// Recording through the tunnel, at the length the acceptance asks for, in one streamer run:
// a camera (GStreamer) → agent → TLS → streamer recording the shared source for 60 s; then the
// camera goes offline for 20 s and comes back. The export of the minute is checked against the
// clip the camera serves (every picture, in order, timestamps continuous) while the camera is
// away, so the file costs ~90 s of wall time rather than 60 s + 20 s + two setups.
import { execFile } from "node:child_process";
import { join } from "node:path";
import { promisify } from "node:util";
import { describe, expect, it } from "vitest";
import { ensureMedia } from "../../../testkit/camera";
import { VIEWER, cameraTargets, startAgent } from "../../../testkit/system";
import { decodeErrors, exportRange, frames, sleep, startSystem, timeline, token, url, waitRecorded } from "./record-kit";

const exec = promisify(execFile);
const FPS = 25;
const RECORD_S = 60;
const OFFLINE_S = 20;

/** Packets ffprobe counts in the file's video stream (its demuxer, not our index). */
async function probePackets(file: string): Promise<number> {
  const { stdout } = await exec("ffprobe", ["-v", "error", "-select_streams", "v:0", "-count_packets", "-show_entries", "stream=nb_read_packets,codec_name", "-of", "json", file], { timeout: 60_000 });
  const s = (JSON.parse(stdout) as { streams: { nb_read_packets: string; codec_name: string }[] }).streams[0];
  expect(s.codec_name).toBe("h264");
  return Number(s.nb_read_packets);
}

describe("a minute recorded through the tunnel, then the camera offline for 20 s", () => {
  it("the export of the minute is every picture the camera sent, in order, timestamps continuous; the 20 s offline are a gap on the timeline that HLS VOD and the export play across", async () => {
    // The camera's /long: 120 s, 25 fps, a keyframe every second; every session starts the clip at its first picture.
    const ref = (await frames(join(await ensureMedia(), "long.mp4"))).map((f) => f[2]);
    const sys = await startSystem({ segment_s: 2, devices: { "*": { record: "continuous", path: "/long" } } });
    await waitRecorded(sys, (x) => x.ranges.length > 0 && x.ranges[0].to - x.ranges[0].from >= RECORD_S, (RECORD_S + 40) * 1000);

    // The console counts people: the recorder is a reader of the source, not a viewer.
    const base = `http://127.0.0.1:${sys.server.ports.http}`;
    const login = await fetch(`${base}/api/login`, { method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(VIEWER) });
    const cookie = login.headers.get("set-cookie")!.split(";")[0];
    const listed = (await (await fetch(`${base}/api/devices`, { headers: { cookie } })).json()) as { devices: { id: string; viewers: number }[] };
    expect(listed.devices.find((d) => d.id === sys.id)?.viewers).toBe(0);

    // The camera goes offline (its agent with it) for OFFLINE_S.
    await sys.agent.stop();
    const downAt = Date.now();
    const back = sleep(OFFLINE_S * 1000);

    // Meanwhile: the recorder closes the segment under way; the first range is final.
    await waitRecorded(sys, (x) => x.state === "waiting", 10_000);
    await sleep(1500);
    const done = await timeline(sys);
    expect(done.ranges.length).toBe(1);
    const r = done.ranges[0];
    const from = Math.floor(r.from), dur = Math.ceil(r.to) - from;
    const out = await exportRange(sys, from, dur, "minute.mp4");
    const got = await frames(out);
    const i0 = ref.indexOf(got[0][2]);
    console.log(`recorded ${got.length} frames (${(r.to - r.from).toFixed(2)} s on the timeline, ${done.segments} segments), first = camera frame ${i0}`);
    // From the camera's first picture on, every one it sent is there, in order: nothing missing, nothing doubled.
    expect(i0).toBe(0);
    expect(got.length).toBeGreaterThanOrEqual(RECORD_S * FPS);
    expect(got.map((f) => f[2])).toEqual(ref.slice(0, got.length));
    expect(await probePackets(out)).toBe(got.length);
    expect(await decodeErrors(out)).toBe("");
    // Timestamps continuous: each picture starts where the one before ended, 40 ms apart.
    for (let i = 1; i < got.length; i++) {
      expect(got[i][0] - got[i - 1][0]).toBeCloseTo(got[i - 1][1], 6);
      expect(got[i][0] - got[i - 1][0]).toBeCloseTo(1 / FPS, 6);
    }
    // The HLS VOD of the same range: the same pictures.
    const pl = await (await fetch(url(sys, `${from}/${dur}/index.m3u8`))).text();
    expect(pl).toMatch(/#EXT-X-PLAYLIST-TYPE:VOD/);
    expect(pl).toMatch(/#EXT-X-ENDLIST/);
    const hls = await frames(url(sys, `${from}/${dur}/index.m3u8`));
    expect(hls.length).toBeGreaterThanOrEqual(got.length - 1);
    expect(hls.map((f) => f[2])).toEqual(got.slice(0, hls.length).map((f) => f[2]));
    // Same authorization as live: no credentials, or another device's token, no archive.
    expect((await fetch(`${base}/${sys.id}/archive/timeline.json`)).status).toBe(401);
    expect((await fetch(`${base}/${sys.id}/archive/${from}/${dur}/archive.mp4?token=${token("someone-else")}`)).status).toBe(401);

    // The camera comes back.
    await back;
    sys.agent = await startAgent({ pki: sys.pki, endpoints: [`127.0.0.1:${sys.server.ports.endpoint}`], targets: cameraTargets(sys.cam), dir: sys.agent.dir });
    const offline = (Date.now() - downAt) / 1000;
    const t = await waitRecorded(sys, (x) => x.ranges.length > 1 && x.ranges[1].to - x.ranges[1].from >= 4, 40_000);
    expect(t.ranges.length).toBe(2);
    const gap = t.ranges[1].from - t.ranges[0].to;
    console.log(`camera away ${offline.toFixed(2)} s; timeline gap ${gap.toFixed(2)} s; ranges ${JSON.stringify(t.ranges.map((x) => [x.from, x.to]))}`);
    // The gap is the time away, plus the agent's reconnect and the camera's new session.
    expect(gap).toBeGreaterThanOrEqual(offline - 1.2);
    expect(gap).toBeLessThanOrEqual(offline + 10);
    expect(t.state).toBe("recording");

    // One range across the gap: the minute's last pictures, then the new session's first ones.
    const xFrom = Math.floor(t.ranges[0].to - 4), xDur = Math.ceil(t.ranges[1].to) - xFrom;
    const xpl = await (await fetch(url(sys, `${xFrom}/${xDur}/index.m3u8`))).text();
    expect(xpl).toMatch(/#EXT-X-DISCONTINUITY/);
    const [xhls, xout] = await Promise.all([frames(url(sys, `${xFrom}/${xDur}/index.m3u8`)), exportRange(sys, xFrom, xDur, "gap.mp4")]);
    expect(await decodeErrors(xout)).toBe("");
    const exp = await frames(xout);
    // The export keeps wall-clock time: the pictures after the gap start `gap` later.
    const steps = exp.slice(1).map((f, i) => f[0] - exp[i][0]);
    const cut = steps.findIndex((s) => s > 1);
    expect(cut).toBeGreaterThan(0);
    expect(steps.filter((s) => s > 1).length).toBe(1);
    expect(steps[cut]).toBeCloseTo(gap, 0);
    const before = exp.slice(0, cut + 1).map((f) => f[2]), after = exp.slice(cut + 1).map((f) => f[2]);
    console.log(`across the gap: export ${before.length} + ${after.length} frames, HLS ${xhls.length} frames`);
    // Before: the tail of the minute, picture for picture; after: the camera's new session from its first picture.
    expect(before).toEqual(got.slice(got.length - before.length).map((f) => f[2]));
    expect(after.length).toBeGreaterThanOrEqual(4 * FPS);
    expect(after).toEqual(ref.slice(0, after.length));
    expect(xhls.length).toBeGreaterThanOrEqual(exp.length - 2);
    expect(xhls.map((f) => f[2])).toEqual([...before, ...after].slice(0, xhls.length));
    expect((await timeline(sys)).ranges.length).toBe(2);
  }, (RECORD_S + OFFLINE_S + 80) * 1000);
});
