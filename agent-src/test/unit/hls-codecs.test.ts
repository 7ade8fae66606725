// The HLS muxer's H.265 and AAC pieces without processes: RTP back to access units / frames,
// the parameter sets the sample entries need, and the boxes the fMP4 writer makes of them.
import { execFileSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { AacDepacketizer, aacRtpParams, parseAacConfig, type AudioFrame } from "../../src/server/gateways/hls/aac";
import { H265Depacketizer, h265Sprop, hvcC, parseH265Sps } from "../../src/server/gateways/hls/h265";
import { Fmp4Writer } from "../../src/server/gateways/hls/fmp4-writer";
import type { AccessUnit } from "../../src/server/gateways/hls/nal-depacketizer";
import { rtpPacket } from "./rtp-packet";

// What GStreamer's RTSP server (x265 320x180 main) puts in its SDP.
const FMTP = "sprop-vps=QAEMAf//AWAAAAMAkAAAAwAAAwA8ugJA;sprop-sps=QgEBAWAAAAMAkAAAAwAAAwA8oAoIDB8+W6SkwvAWgIAAAAMAgAAADIQ=;sprop-pps=RAHAc8GJ";
const [VPS, SPS, PPS] = h265Sprop(FMTP).split(",").map((b) => Buffer.from(b, "base64"));

const rtp = (seq: number, ts: number, marker: boolean, payload: Buffer) => rtpPacket(seq, ts, marker, payload);

const nal265 = (type: number, size: number, fill: number) => Buffer.concat([Buffer.from([type << 1, 1]), Buffer.alloc(size, fill)]);

/** RFC 7798 FU packets of one NAL unit. */
function fu(nal: Buffer, size: number): Buffer[] {
  const out: Buffer[] = [];
  const body = nal.subarray(2), type = (nal[0] >> 1) & 0x3f;
  for (let i = 0; i < body.length; i += size) {
    const s = i === 0 ? 0x80 : 0, e = i + size >= body.length ? 0x40 : 0;
    out.push(Buffer.concat([Buffer.from([(nal[0] & 0x81) | (49 << 1), nal[1], s | e | type]), body.subarray(i, i + size)]));
  }
  return out;
}

/** RFC 7798 aggregation packet. */
const ap = (...nals: Buffer[]) => Buffer.concat([Buffer.from([48 << 1, 1]), ...nals.flatMap((n) => [Buffer.from([n.length >> 8, n.length & 0xff]), n])]);

describe("H.265", () => {
  it("reads the picture size and the RFC 6381 codec string from the SPS; hvcC carries VPS, SPS, PPS", () => {
    const i = parseH265Sps(SPS);
    expect([i.width, i.height]).toEqual([320, 180]);
    expect(i.codec).toBe("hvc1.1.6.L60.90");
    const c = hvcC(VPS, SPS, PPS);
    expect(c[0]).toBe(1);
    expect(c.subarray(1, 13).equals(i.ptl)).toBe(true);
    expect(c[21] & 3).toBe(3); // 4-byte NAL lengths
    expect(c[22]).toBe(3); // three arrays
    expect(c.includes(SPS)).toBe(true);
  });

  it("reassembles FU and AP packets into access units; IRAP pictures are keyframes; in-band parameter sets kept", () => {
    const d = new H265Depacketizer();
    const units: AccessUnit[] = [];
    d.onUnit = (u) => units.push(u);
    const idr = nal265(19, 3000, 5), trail = nal265(1, 300, 6);
    let seq = 1;
    const pkts = [rtp(seq++, 9000, false, ap(VPS, SPS, PPS)), ...fu(idr, 1000).map((p, i, a) => rtp(seq++, 9000, i === a.length - 1, p)), rtp(seq++, 12600, true, trail)];
    for (const p of pkts) d.push(p);
    expect(units.length).toBe(2);
    expect(units[0].key).toBe(true);
    expect(units[0].nals.map((n) => (n[0] >> 1) & 0x3f)).toEqual([32, 33, 34, 19]);
    expect(units[0].nals[3].equals(idr)).toBe(true);
    expect(units[1].key).toBe(false);
    expect(units[1].ts - units[0].ts).toBe(3600);
    expect(d.sps!.equals(SPS) && d.vps!.equals(VPS) && d.pps!.equals(PPS)).toBe(true);
  });
});

describe("AAC (RFC 3640 AAC-hbr)", () => {
  const fmtp = "streamtype=5;profile-level-id=2;mode=AAC-hbr;config=118856e500;sizelength=13;indexlength=3;indexdeltalength=3";

  it("reads the AudioSpecificConfig and the AU header layout from the fmtp", () => {
    const c = parseAacConfig("118856e500");
    expect([c.objectType, c.sampleRate, c.channels, c.codec, c.frameSamples]).toEqual([2, 48000, 1, "mp4a.40.2", 1024]);
    expect(aacRtpParams(fmtp)).toEqual({ sizeLength: 13, indexLength: 3, indexDeltaLength: 3 });
    expect(() => parseAacConfig("zz")).toThrow(/bad AAC config/);
  });

  /** AU-headers-length, 16-bit AU headers (13-bit size, 3-bit index 0), the frames. */
  const hbr = (...frames: Buffer[]) => {
    const h = Buffer.alloc(2 + 2 * frames.length);
    h.writeUInt16BE(16 * frames.length, 0);
    frames.forEach((f, i) => h.writeUInt16BE(f.length << 3, 2 + 2 * i));
    return Buffer.concat([h, ...frames]);
  };

  it("several frames in one packet get consecutive timestamps; a frame split over packets is joined; a lost fragment drops its frame", () => {
    const d = new AacDepacketizer(aacRtpParams(fmtp), 1024);
    const got: AudioFrame[] = [];
    d.onFrame = (f) => got.push(f);
    const a = Buffer.alloc(200, 1), b = Buffer.alloc(180, 2), big = Buffer.alloc(3000, 3);
    d.push(rtp(1, 48000, true, hbr(a, b)));
    // RFC 3640 3.2.3: the first packet has the header with the whole size, the rest continue it.
    const first = hbr(big).subarray(0, 4 + 1400), rest = big.subarray(1400);
    d.push(rtp(2, 50048, false, first));
    d.push(rtp(3, 50048, true, Buffer.concat([hbr(big).subarray(0, 4), rest])));
    // The same split again, with the second packet lost.
    d.push(rtp(4, 51072, false, first));
    d.push(rtp(6, 52096, true, hbr(a)));
    expect(got.map((f) => [f.ts, f.data.length])).toEqual([[48000, 200], [49024, 180], [50048, 3000], [52096, 200]]);
    expect(got[2].data.equals(big)).toBe(true);
  });
});

describe("fMP4 writer", () => {
  it("an init segment with hvc1 video and mp4a audio, and fragments of both, are read back by ffprobe", () => {
    const w = new Fmp4Writer([
      { kind: "video", id: 1, timescale: 90000, width: 320, height: 180, entry: "hvc1", config: hvcC(VPS, SPS, PPS) },
      { kind: "audio", id: 2, timescale: 48000, channels: 1, config: parseAacConfig("118856e500").asc },
    ]);
    expect(w.flush()).toBeNull();
    w.add(1, { time: 0, duration: 3600, data: Buffer.alloc(100, 1), key: true });
    w.add(2, { time: 0, duration: 1024, data: Buffer.alloc(50, 2), key: true });
    w.add(2, { time: 1024, duration: 1024, data: Buffer.alloc(50, 3), key: true });
    const frag = w.flush()!;
    expect(w.pending).toBe(false);
    const dir = mkdtempSync(join(tmpdir(), "fa-fmp4-"));
    try {
      const f = join(dir, "x.mp4");
      writeFileSync(f, Buffer.concat([w.init, frag]));
      const out = execFileSync("ffprobe", ["-v", "error", "-show_entries", "stream=codec_tag_string,width,height,sample_rate,channels", "-of", "csv=p=0", f]).toString();
      expect(out.trim().split("\n")).toEqual(["hvc1,320,180", "mp4a,48000,1"]);
      const pkts = execFileSync("ffprobe", ["-v", "error", "-show_entries", "packet=stream_index,pts,size", "-of", "csv=p=0", f]).toString().trim().split("\n").sort();
      expect(pkts).toEqual(["0,0,100", "1,0,50", "1,1024,50"]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe("hostile camera input", () => {
  it("random and truncated RTP payloads never throw, and the muxer's memory stays bounded", async () => {
    const { HlsSegmenter } = await import("../../src/server/gateways/hls/segmenter");
    let seed = 12345;
    const rnd = () => ((seed = (seed * 1103515245 + 12345) >>> 0) / 2 ** 32);
    const bytes = (n: number) => Buffer.from(Array.from({ length: n }, () => Math.floor(rnd() * 256)));
    const h265 = new H265Depacketizer(h265Sprop(FMTP));
    const aac = new AacDepacketizer(aacRtpParams("sizelength=13;indexlength=3;indexdeltalength=3"), 1024);
    const seg = new HlsSegmenter({ track: 0, codec: "h265", sprop: h265Sprop(FMTP) },
      { track: 1, config: parseAacConfig("118856e500"), rtp: aacRtpParams("") }, 1 << 20);
    for (let i = 0; i < 5000; i++) {
      // Mostly well-formed headers with random payloads (types 0–63, FU/AP included), some pure noise.
      const payload = rnd() < 0.5 ? Buffer.concat([Buffer.from([Math.floor(rnd() * 64) << 1, 1]), bytes(Math.floor(rnd() * 40))]) : bytes(Math.floor(rnd() * 60));
      const pkt = rnd() < 0.1 ? bytes(Math.floor(rnd() * 14)) : rtp(i, Math.floor(i / 3) * 3600, rnd() < 0.3, payload);
      expect(() => h265.push(pkt)).not.toThrow();
      expect(() => aac.push(pkt)).not.toThrow();
      expect(() => seg.push({ track: i % 2, rtcp: false, data: pkt, key: false })).not.toThrow();
    }
    expect(seg.totalBytes).toBeLessThanOrEqual(1 << 20);
    // A truncated SPS is an error the muxer catches (it then waits for the next one), not a crash.
    expect(() => parseH265Sps(SPS.subarray(0, 12))).toThrow(/truncated/);
    seg.close();
  });
});

describe("AAC fmtp we cannot read", () => {
  it("an AU header layout beyond 16-bit sizes is refused when the track is chosen (the video is served without it)", () => {
    expect(() => aacRtpParams("mode=AAC-hbr;sizelength=20;indexlength=3")).toThrow(/unsupported AAC AU header layout/);
    expect(() => aacRtpParams("mode=AAC-hbr;sizelength=0")).toThrow(/unsupported/);
  });
});
