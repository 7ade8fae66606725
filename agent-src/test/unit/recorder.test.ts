// The recorder without processes: RTP H.264 in, segment files and their wall-clock times out.
import { afterEach, describe, expect, it, vi } from "vitest";
import type { MediaPacket } from "../../src/server/media/gop-cache";
import { Recorder } from "../../src/server/record/recorder";
import { DeviceStore } from "../../src/server/record/store";
import { scanSegmentFile } from "../../src/server/record/fmp4-file";
import { readFileSync } from "node:fs";
import { aacRtpParams, parseAacConfig } from "../../src/server/gateways/hls/aac";
import { tempDir } from "../../../testkit/procs";
import { aacRtpPacket, rtcpSenderReport, rtpPacket } from "./rtp-packet";

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

  it("audio arriving 300 ms after its pictures: placed by arrival until the RTCP sender reports come, then by them from the next segment", async () => {
    vi.useFakeTimers({ toFake: ["Date"] });
    const t0 = Date.UTC(2026, 11, 2, 12);
    const rate = 48000, lag = 0.3;
    const store = new DeviceStore(tempDir("fa-recorder-"));
    store.open();
    const rec = new Recorder("cam/av", { track: 0, codec: "h264" }, { track: 1, config: parseAacConfig("118856e500"), rtp: aacRtpParams("") }, store, 1000, () => {}, (s) => store.add(s));
    const V0 = 5000, A0 = 777_777; // unrelated RTP origins, as cameras have
    rec.start([]);
    // In real time: pictures as captured, each audio frame `lag` after its capture; both reports 4 s in.
    let aFrame = 0;
    for (let f = 0; f < 4 * GOP + 1; f++) {
      const vt = f / 25;
      vi.setSystemTime(t0 + f * 40);
      while ((aFrame * 1024) / rate + lag <= vt) rec.push({ track: 1, rtcp: false, data: aacRtpPacket(aFrame, A0 + aFrame * 1024), key: false }), aFrame++;
      for (const p of frame(f)) rec.push(p);
      if (f === 100) {
        rec.push({ track: 0, rtcp: true, data: rtcpSenderReport(V0 + 100 * 3600, 5000 + 4), key: false });
        rec.push({ track: 1, rtcp: true, data: rtcpSenderReport(A0 + 4 * rate, 5000 + 4), key: false });
      }
    }
    await rec.stop();
    /** Audio minus video start time of each file's last fragment that has both (seconds), from the trafs' tfdt. */
    const skew = (file: Buffer) => {
      let last = NaN;
      for (let m = file.indexOf("moof"); m > 0; m = file.indexOf("moof", m + 4)) {
        const t: Record<number, number> = {};
        const end = m + file.readUInt32BE(m - 4) - 4;
        for (let i = file.indexOf("traf", m); i > 0 && i < end; i = file.indexOf("traf", i + 4)) {
          const id = file.readUInt32BE(file.indexOf("tfhd", i) + 8);
          t[id] = Number(file.readBigUInt64BE(file.indexOf("tfdt", i) + 8)) / (id === 1 ? 90000 : rate);
        }
        if (t[1] !== undefined && t[2] !== undefined) last = t[2] - t[1];
      }
      return last;
    };
    const skews = store.segments.map((s) => skew(readFileSync(store.path(s)))).filter(Number.isFinite);
    console.log(`audio − video per file: ${skews.map((x) => x.toFixed(3)).join(", ")}`);
    // By arrival the audio sits with the pictures it arrived with (0.3 s late); by the reports, with its own.
    expect(skews.length).toBe(4);
    expect(Math.abs(skews[1])).toBeLessThan(0.06); // the reports came 4 s in, within the second file
    expect(Math.abs(skews[0])).toBeLessThan(0.06);
    expect(Math.abs(skews[skews.length - 1] + lag)).toBeLessThan(0.06);
  });
});
