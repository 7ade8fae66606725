// The recorder without processes: RTP H.264 in, segment files and their wall-clock times out.
import { afterEach, describe, expect, it, vi } from "vitest";
import type { MediaPacket } from "../../src/server/media/gop-cache";
import { Recorder } from "../../src/server/record/recorder";
import { DeviceStore } from "../../src/server/record/store";
import { scanSegmentFile } from "../../src/server/record/fmp4-file";
import { tempDir } from "../../../testkit/procs";
import { rtpPacket } from "./rtp-packet";

// SPS/PPS of x264 baseline 320x180 (the test camera's clips).
const SPS = Buffer.from("Z0LAHtoFBn58BEAAAAMAQAAADIPFi6g=", "base64");
const PPS = Buffer.from("aM48gA==", "base64");
const GOP = 75; // 3 s at 25 fps

const rtp = (seq: number, ts: number, marker: boolean, payload: Buffer) => rtpPacket(seq, ts, marker, payload);

let seq = 0;
/** Frame f as packets (call in order): a keyframe (STAP-A SPS+PPS, then the IDR) every GOP frames. */
function frame(f: number): MediaPacket[] {
  const ts = 5000 + f * 3600;
  if (f % GOP === 0) {
    const stap = Buffer.concat([Buffer.from([24]), ...[SPS, PPS].flatMap((n) => [Buffer.from([0, n.length]), n])]);
    return [
      { track: 0, rtcp: false, data: rtp(seq++, ts, false, stap), key: true },
      { track: 0, rtcp: false, data: rtp(seq++, ts, true, Buffer.concat([Buffer.from([0x65]), Buffer.alloc(800, f & 0xff)])), key: false },
    ];
  }
  return [{ track: 0, rtcp: false, data: rtp(seq++, ts, true, Buffer.concat([Buffer.from([0x41]), Buffer.alloc(100, f & 0xff)])), key: false }];
}

afterEach(() => vi.useRealTimers());

describe("recorder", () => {
  it("joining a source that has a GOP cache dates the cached pictures in the past, and live ones at their arrival", async () => {
    vi.useFakeTimers({ toFake: ["Date"] });
    const t0 = Date.UTC(2026, 11, 2, 12);
    vi.setSystemTime(t0);
    const store = new DeviceStore(tempDir("fa-recorder-"));
    store.open();
    const rec = new Recorder("cam/x", { track: 0, codec: "h264" }, null, store, 1000, () => {}, (s) => store.add(s));
    // The cache holds one whole GOP that arrived over the last 3 s: frames 0…74; now is frame 75's arrival time.
    vi.setSystemTime(t0 + 3000);
    rec.start(Array.from({ length: GOP }, (_, f) => frame(f)).flat());
    // Live: three more GOPs and a keyframe, in real time.
    for (let f = GOP; f < 3 * GOP + 1; f++) {
      vi.setSystemTime(t0 + 3000 + (f - GOP) * 40);
      for (const p of frame(f)) rec.push(p);
    }
    await rec.stop();
    expect(rec.writeErrors).toBe(0);
    const segs = store.segments.map((s) => [s.startMs - t0, s.durationMs]);
    // The last cached picture is "now" at start: the cache's keyframe was 74 frames before it.
    const c = 3000 - 74 * 40;
    expect(segs).toEqual([[c, 3000], [c + 3000, 3000], [c + 6000, 3000], [c + 9000, 40]]);
    // Each file says the same by itself (decode times in 90 kHz since the epoch).
    const scan = scanSegmentFile(store.path(store.segments[1]));
    expect(scan.fragments[0].baseTime).toBe((t0 + 3000 - 74 * 40 + 3000) * 90);
    expect(scan.fragments.reduce((n, f) => n + f.duration, 0)).toBe(3000 * 90);
    expect(scan.fragments.length).toBe(3); // ≤ 1 s fragments
  });
});
