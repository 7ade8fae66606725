// HLS muxer pieces without processes: RTP H.264 back to access units (FU-A, STAP-A, loss), the
// segmenter's part/segment cuts, and the playlist it renders.
import { describe, expect, it } from "vitest";
import { H264Depacketizer, parseSps, type AccessUnit } from "../../src/server/gateways/hls/h264";
import { HlsSegmenter, MIN_SEGMENT_S, PART_TARGET_S } from "../../src/server/gateways/hls/segmenter";
import { mediaPlaylist } from "../../src/server/gateways/hls/playlist";
import { aacRtpParams, parseAacConfig } from "../../src/server/gateways/hls/aac";
import { aacRtpPacket, rtcpSenderReport, rtpPacket } from "./rtp-packet";

// SPS/PPS of x264 baseline 320x180 (what the test camera's "long" clip has).
const SPS = Buffer.from("Z0LAHtoFBn58BEAAAAMAQAAADIPFi6g=", "base64");
const PPS = Buffer.from("aM48gA==", "base64");
// The 640x360 clip's SPS (same PPS).
const SPS_640 = Buffer.from("Z0LAHtoCgL/lwEQAAAMABAAAAwDIPFi6gA==", "base64");

const rtp = (seq: number, ts: number, marker: boolean, payload: Buffer) => rtpPacket(seq, ts, marker, payload);

function stapA(...nals: Buffer[]): Buffer {
  return Buffer.concat([Buffer.from([24]), ...nals.flatMap((n) => [Buffer.from([n.length >> 8, n.length & 0xff]), n])]);
}

function fuA(nal: Buffer, size: number): Buffer[] {
  const out: Buffer[] = [];
  const body = nal.subarray(1);
  for (let i = 0; i < body.length; i += size) {
    const s = i === 0 ? 0x80 : 0, e = i + size >= body.length ? 0x40 : 0;
    out.push(Buffer.concat([Buffer.from([(nal[0] & 0xe0) | 28, s | e | (nal[0] & 0x1f)]), body.subarray(i, i + size)]));
  }
  return out;
}

const idr = Buffer.concat([Buffer.from([0x65]), Buffer.alloc(3000, 7)]);
const pframe = (n: number) => Buffer.concat([Buffer.from([0x41]), Buffer.alloc(200, n & 0xff)]);

/** 25 fps frames; a keyframe every `gop` frames, sent as STAP-A(SPS, PPS) + FU-A IDR. */
function stream(frames: number, gop = 25, seq0 = 1, sps = SPS, f0 = 0): Buffer[] {
  const pkts: Buffer[] = [];
  let seq = seq0;
  for (let f = f0; f < f0 + frames; f++) {
    const ts = 1000 + f * 3600;
    if (f % gop === 0) {
      pkts.push(rtp(seq++, ts, false, stapA(sps, PPS)));
      const frags = fuA(idr, 1000);
      frags.forEach((p, i) => pkts.push(rtp(seq++, ts, i === frags.length - 1, p)));
    } else {
      pkts.push(rtp(seq++, ts, true, pframe(f)));
    }
  }
  return pkts;
}

describe("H.264 depacketizer", () => {
  it("reassembles FU-A and STAP-A into whole access units with their timestamps", () => {
    const d = new H264Depacketizer();
    const units: AccessUnit[] = [];
    d.onUnit = (u) => units.push(u);
    for (const p of stream(30)) d.push(p);
    expect(units.length).toBe(30);
    expect(units[0].key).toBe(true);
    expect(units[0].nals.map((n) => n[0] & 0x1f)).toEqual([7, 8, 5]);
    expect(units[0].nals[2].equals(idr)).toBe(true);
    expect(units[1].key).toBe(false);
    expect(units[1].ts - units[0].ts).toBe(3600);
    expect(units[25].key).toBe(true);
    expect(d.sps!.equals(SPS)).toBe(true);
  });

  it("a lost packet drops the damaged picture and what follows, up to the next IDR", () => {
    const d = new H264Depacketizer();
    const units: AccessUnit[] = [];
    d.onUnit = (u) => units.push(u);
    const pkts = stream(50);
    pkts.splice(10, 1); // a P frame of the first GOP
    for (const p of pkts) d.push(p);
    // The first GOP up to the loss survives, then nothing until the second IDR, then all of it.
    const keys = units.filter((u) => u.key).length;
    expect(keys).toBe(2);
    expect(units.length).toBeLessThan(50);
    expect(units[units.findIndex((u, i) => i > 0 && u.key) - 1].ts).toBeLessThan(1000 + 25 * 3600);
  });

  it("reads the picture size and codec string from the SPS", () => {
    expect(parseSps(SPS)).toEqual({ width: 320, height: 180, codec: "avc1.42c01e" });
  });
});

describe("segmenter and playlist", () => {
  it("parts of at most PART-TARGET, segments from keyframes and at least MIN_SEGMENT_S, bounded", () => {
    const s = new HlsSegmenter({ track: 0, codec: "h264" }, null, 1 << 20);
    let seq = 1;
    for (const p of stream(25 * 30, 25)) s.push({ track: 0, rtcp: false, data: p, key: false }), seq++;
    expect(s.init).not.toBeNull();
    expect(s.codec).toBe("avc1.42c01e");
    const done = s.segments.filter((x) => x.complete);
    expect(done.length).toBeGreaterThanOrEqual(3);
    expect(s.segments.length).toBeLessThanOrEqual(7);
    for (const seg of done) {
      expect(seg.duration).toBeGreaterThanOrEqual(MIN_SEGMENT_S - 1e-9);
      expect(seg.parts[0].independent).toBe(true);
      for (const p of seg.parts) expect(p.duration).toBeLessThanOrEqual(PART_TARGET_S + 1e-9);
    }
    const text = mediaPlaylist(s, "?token=x");
    expect(text).toMatch(/#EXT-X-TARGETDURATION:2\n/);
    expect(text).toMatch(/#EXT-X-PART-INF:PART-TARGET=0.500\n/);
    expect(text).toMatch(/#EXT-X-SERVER-CONTROL:CAN-BLOCK-RELOAD=YES,PART-HOLD-BACK=1.500\n/);
    expect(text).toMatch(/#EXT-X-MAP:URI="init.mp4\?token=x"/);
    expect(text).toMatch(/seg\d+\.m4s\?token=x\n/);
    expect(text).toMatch(/#EXT-X-PRELOAD-HINT:TYPE=PART,URI="part\d+\.\d+\.m4s\?token=x"\n$/);
    expect(seq).toBeGreaterThan(0);
  });

  it("new parameter sets at a keyframe (a new resolution): the segment ends, the next has a new init behind EXT-X-DISCONTINUITY", () => {
    const s = new HlsSegmenter({ track: 0, codec: "h264" }, null, 1 << 20);
    let seq = 1;
    const push = (p: Buffer) => (s.push({ track: 0, rtcp: false, data: p, key: false }), (seq = p.readUInt16BE(2) + 1));
    stream(25 * 6, 25, 1).forEach(push);
    expect(s.width).toBe(320);
    const before = s.init!;
    stream(25 * 6, 25, seq, SPS_640, 25 * 6).forEach(push);
    expect(s.width).toBe(640);
    expect(s.inits.size).toBe(2);
    expect(s.init!.equals(before)).toBe(false);
    const changed = s.segments.findIndex((x) => x.init === 1);
    expect(changed).toBeGreaterThan(0);
    expect(s.segments[changed].discontinuity).toBe(1);
    expect(s.segments[changed - 1].init).toBe(0);
    expect(s.segments[changed - 1].complete).toBe(true);
    // The first picture at the new size opens the new segment: 6 s of 320x180 are in whole segments before it.
    expect(s.segments.slice(0, changed).reduce((t, x) => t + x.duration, 0)).toBeCloseTo(6, 5);
    const text = mediaPlaylist(s, "");
    expect(text).toMatch(/#EXT-X-MAP:URI="init.mp4"\n/);
    expect(text).toMatch(/#EXT-X-DISCONTINUITY\n#EXT-X-MAP:URI="init1.mp4"\n/);
    // Once the old segments are gone, the playlist starts at the new map and counts the discontinuity.
    stream(25 * 20, 25, seq, SPS_640, 25 * 12).forEach(push);
    expect(s.inits.has(0)).toBe(false);
    const later = mediaPlaylist(s, "");
    expect(later).toMatch(/#EXT-X-DISCONTINUITY-SEQUENCE:1\n#EXT-X-MAP:URI="init1.mp4"\n/);
    expect(later).not.toMatch(/#EXT-X-DISCONTINUITY\n/);
  });

  it("audio arriving 300 ms after its pictures: first placed by arrival, then re-placed by the RTCP sender reports at a segment start", () => {
    const rate = 48000, lag = 0.3;
    const s = new HlsSegmenter({ track: 0, codec: "h264" }, { track: 1, config: parseAacConfig("118856e500"), rtp: aacRtpParams("") }, 1 << 22);
    const V0 = 1000, A0 = 777_777; // unrelated RTP origins, as cameras have
    const video = stream(25 * 12);
    // Arrival order: video packets by capture time; each audio frame pushed `lag` after its capture time.
    let aSeq = 1, aFrame = 0;
    for (const v of video) {
      const vt = (v.readUInt32BE(4) - V0) / 90000;
      while ((aFrame * 1024) / rate + lag <= vt) s.push({ track: 1, rtcp: false, data: aacRtpPacket(aSeq++, A0 + aFrame++ * 1024), key: false });
      s.push({ track: 0, rtcp: false, data: v, key: false });
      if (Math.abs(vt - 3) < 1e-9) {
        // Both tracks' sender reports, on the camera's one clock, 3 s in.
        s.push({ track: 0, rtcp: true, data: rtcpSenderReport(V0 + 3 * 90000, 5000 + 3), key: false });
        s.push({ track: 1, rtcp: true, data: rtcpSenderReport(A0 + 3 * rate, 5000 + 3), key: false });
      }
    }
    /** Audio minus video start time of a part (seconds), from its trafs' tfdt. */
    const skew = (part: Buffer) => {
      const t: Record<number, number> = {};
      for (let i = part.indexOf("traf"); i > 0; i = part.indexOf("traf", i + 4)) {
        const id = part.readUInt32BE(part.indexOf("tfhd", i) + 8);
        t[id] = Number(part.readBigUInt64BE(part.indexOf("tfdt", i) + 8)) / (id === 1 ? 90000 : rate);
      }
      return t[2] - t[1];
    };
    const done = s.segments.filter((x) => x.complete);
    const first = skew(done[0].parts[1].data), last = skew(done[done.length - 1].parts[1].data);
    // By arrival the audio sits with the pictures it arrived with (0.3 s late); by the reports, with its own.
    expect(Math.abs(first)).toBeLessThan(0.06);
    expect(Math.abs(last + lag)).toBeLessThan(0.06);
    s.close();
  });

  it("a blocking wait resolves when the part appears, or false at its timeout", async () => {
    const s = new HlsSegmenter({ track: 0, codec: "h264" }, null, 1 << 20);
    const pkts = stream(100, 25);
    const waited = s.when(() => (s.segments[0]?.parts.length ?? 0) >= 2, 1000);
    for (const p of pkts) s.push({ track: 0, rtcp: false, data: p, key: false });
    expect(await waited).toBe(true);
    expect(await s.when(() => false, 20)).toBe(false);
    s.close();
  });
});
