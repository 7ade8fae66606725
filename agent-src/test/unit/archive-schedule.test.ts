// Recording schedules: the windows' syntax, which local times they cover (past midnight, over
// the week's end), and the archive attaching a device's recorder only inside its windows and
// closing the segment under way when a window ends.
import { writeFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import type { Registry } from "../../src/server/link/registry";
import type { Sources } from "../../src/server/media/sources";
import type { SourceViewer } from "../../src/server/media/source";
import { Metrics } from "../../src/server/metrics";
import { Archive } from "../../src/server/record/archive";
import { inSchedule, parseWindow } from "../../src/server/record/schedule";
import { parseStreamerConfig } from "../../src/server/config";
import { tempDir } from "../../../testkit/procs";
import { rtpPacket } from "./rtp-packet";

/** Local time on 2026-12-07 (a Monday) + dayOffset days, at hh:mm. */
const at = (dayOffset: number, hh: number, mm = 0) => new Date(2026, 11, 7 + dayOffset, hh, mm);

describe("schedule windows", () => {
  it("parses days, ranges and times; rejects what is not a window with a clear message", () => {
    expect(parseWindow("mon-fri 08:00-18:00")).toEqual({ days: [1, 2, 3, 4, 5], fromMin: 480, toMin: 1080 });
    expect(parseWindow("sat,sun 10:00-14:30")).toEqual({ days: [0, 6], fromMin: 600, toMin: 870 });
    expect(parseWindow("fri-mon 22:00-06:00").days).toEqual([0, 1, 5, 6]);
    expect(parseWindow("daily 00:00-24:00")).toEqual({ days: [0, 1, 2, 3, 4, 5, 6], fromMin: 0, toMin: 1440 });
    for (const [bad, re] of [["9-17", /DAYS HH:MM-HH:MM/], ["mon 25:00-26:00", /not a time of day/], ["mon 08:60-09:00", /not a time of day/],
      ["mon 08:00-08:00", /empty/], ["monday 08:00-09:00", /not a day/], ["mon 24:00-01:00", /not a time of day/]] as const) {
      expect(() => parseWindow(bad), bad).toThrow(re);
    }
  });

  it("covers its start, not its end; a window past midnight belongs to the day it starts on", () => {
    const office = [parseWindow("mon-fri 08:00-18:00")];
    expect(inSchedule(office, at(0, 7, 59))).toBe(false);
    expect(inSchedule(office, at(0, 8, 0))).toBe(true);
    expect(inSchedule(office, at(0, 17, 59))).toBe(true);
    expect(inSchedule(office, at(0, 18, 0))).toBe(false);
    expect(inSchedule(office, at(5, 12))).toBe(false); // Saturday
    const night = [parseWindow("fri 22:00-06:00")];
    expect(inSchedule(night, at(4, 21, 59))).toBe(false); // Friday evening
    expect(inSchedule(night, at(4, 23))).toBe(true);
    expect(inSchedule(night, at(5, 5, 59))).toBe(true); // Saturday morning: Friday's window
    expect(inSchedule(night, at(5, 6))).toBe(false);
    expect(inSchedule(night, at(0, 3))).toBe(false); // Monday morning: no Sunday window
  });

  it("in the config: a list of windows, a bad one named by its index", () => {
    const parse = (schedule: unknown) => {
      const dir = tempDir("fa-cfg-");
      writeFileSync(`${dir}/c.pem`, "-----BEGIN CERTIFICATE-----\n");
      writeFileSync(`${dir}/k.pem`, "-----BEGIN PRIVATE KEY-----\n");
      writeFileSync(`${dir}/secret`, "x".repeat(40));
      const cfg = { tls: { cert_file: "c.pem", key_file: "k.pem" }, cluster_secret_file: "secret", streamer: { archive: { devices: { a: { schedule } } } } };
      return parseStreamerConfig(JSON.stringify(cfg), dir).streamer!.archive!.devices.a;
    };
    expect(parse(["mon-fri 08:00-18:00", "sat 10:00-12:00"]).schedule).toHaveLength(2);
    expect(() => parse("mon-fri 08:00-18:00")).toThrow(/"streamer\.archive\.devices\.a\.schedule": expected a list/);
    expect(() => parse([])).toThrow(/streamer\.archive\.devices\.a\.schedule/);
    expect(() => parse(["mon-fri 08:00-18:00", "sun 9-17"])).toThrow(/"streamer\.archive\.devices\.a\.schedule\[1\]": "sun 9-17"/);
  });
});

// SPS/PPS of x264 baseline 320x180 (the test camera's clips).
const SPS = Buffer.from("Z0LAHtoFBn58BEAAAAMAQAAADIPFi6g=", "base64");
const PPS = Buffer.from("aM48gA==", "base64");

describe("the archive follows the schedule", () => {
  it("attaches the recorder only inside a window, and at the window's end closes the segment under way and lets go of the source", async () => {
    const dir = tempDir("fa-sched-");
    const attached: SourceViewer[] = [];
    let holds = 0;
    const source = {
      hold: () => (holds++, () => void holds--),
      ready: async () => ({ keyTrack: 0, tracks: [{ index: 0, type: "video", codec: "h264", payloadType: 96, clockRate: 90_000 }], text: "v=0\r\nm=video 0 RTP/AVP 96\r\na=rtpmap:96 H264/90000\r\n" }),
      attach: (sv: SourceViewer) => attached.push(sv),
      detach: (sv: SourceViewer) => attached.splice(attached.indexOf(sv), 1),
    };
    const sources = { get: () => source } as unknown as Sources;
    const registry = { devices: new Map([["cam", {}]]), online: () => ({}), addDeviceInfo: () => {} } as unknown as Registry;
    const archive = new Archive({ dir, segmentMs: 10_000, maxTotalBytes: 0, minFreeBytes: 0, devices: { cam: { record: "continuous", path: "/s", maxAgeMs: 0, maxBytes: 0, schedule: [parseWindow("daily 08:00-18:00")] } } },
      registry, sources, () => {}, new Metrics());
    const tick = () => (archive as unknown as { tick(): void }).tick();
    const settle = () => new Promise((r) => setTimeout(r, 20));
    try {
      let clock = at(0, 7, 59).getTime();
      archive.now = () => clock;
      await settle(); // the constructor's first tick
      tick();
      await settle();
      expect(attached.length).toBe(0);
      expect(archive.stateOf("cam")).toBe("off_schedule");
      clock = at(0, 8, 0).getTime();
      tick();
      await settle();
      expect(attached.length).toBe(1);
      expect(holds).toBe(1);
      // Two seconds of pictures (a keyframe first) arrive: a segment is under way.
      const rec = attached[0].reader as unknown as { push(p: unknown): void; start(c: unknown[]): void; writing: boolean };
      rec.start([]);
      let seq = 0;
      for (let f = 0; f < 50; f++) {
        const ts = f * 3600;
        const pkts = f === 0
          ? [Buffer.concat([Buffer.from([24]), ...[SPS, PPS].flatMap((n) => [Buffer.from([0, n.length]), n])]), Buffer.concat([Buffer.from([0x65]), Buffer.alloc(800, 1)])]
          : [Buffer.concat([Buffer.from([0x41]), Buffer.alloc(100, f)])];
        pkts.forEach((p, i) => rec.push({ track: 0, rtcp: false, key: f === 0, data: rtpPacket(seq++, ts, i === pkts.length - 1, p) }));
      }
      expect(rec.writing).toBe(true);
      // The window ends: the recorder closes its segment (it is in the store) and lets go of the source.
      clock = at(0, 18, 0).getTime();
      tick();
      expect(attached.length).toBe(0);
      for (let i = 0; i < 50 && archive.store("cam")!.segments.length === 0; i++) await settle();
      expect(archive.store("cam")!.segments.length).toBe(1);
      expect(archive.store("cam")!.segments[0].durationMs).toBeGreaterThanOrEqual(1900);
      expect(holds).toBe(0);
      expect(archive.stateOf("cam")).toBe("off_schedule");
      tick();
      await settle();
      expect(attached.length).toBe(0);
    } finally {
      await archive.close();
    }
  });
});
