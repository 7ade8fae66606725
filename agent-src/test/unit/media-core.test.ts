// The media core's pure parts: RTP parsing, keyframe tagging on real captured packets (H.264 from the
// test camera) and on hand-made H.265 ones, the GOP cache's bound, the viewer reader's skip rules, SDP.
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { FIXTURES_DIR } from "../../../testkit/camera";
import { GopCache, type MediaPacket } from "../../src/server/media/gop-cache";
import { Reader } from "../../src/server/media/reader";
import { h264Summary } from "../../src/server/media/rtp/h264";
import { h265Summary } from "../../src/server/media/rtp/h265";
import { KeyframeTagger, MAX_HELD_PACKETS } from "../../src/server/media/rtp/keyframes";
import { parseRtp } from "../../src/server/media/rtp/packet";
import { parseCameraSdp, viewerSdp } from "../../src/server/media/sdp";
import { rtpPacket } from "./rtp-packet";

function captured(): Buffer[] {
  const b = readFileSync(join(FIXTURES_DIR, "rtp/long-h264.interleaved"));
  const out: Buffer[] = [];
  for (let i = 0; i < b.length; ) {
    const n = b.readUInt16BE(i + 2);
    out.push(b.subarray(i + 4, i + 4 + n));
    i += 4 + n;
  }
  return out;
}

const rtp = (payload: number[], ts: number, marker = true, seq = 1) => rtpPacket(seq, ts, marker, payload, 0x1234);

describe("RTP keyframes", () => {
  it("tags exactly the first packet of each IDR access unit of the captured camera stream (GOP 25)", () => {
    const pkts = captured();
    expect(pkts.length).toBeGreaterThan(60);
    const tagger = new KeyframeTagger("h264");
    const tagged = pkts.flatMap((p) => tagger.push(p));
    expect(tagged.length).toBe(pkts.length); // nothing lost or held at the end (last packet has the marker)
    expect(tagged.map((t) => t.pkt)).toEqual(pkts); // order kept
    // Access-unit ordinal of each packet: a new unit per timestamp.
    const tsList: number[] = [];
    for (const p of pkts) {
      const ts = parseRtp(p)!.timestamp;
      if (tsList[tsList.length - 1] !== ts) tsList.push(ts);
    }
    const keyUnits = tagged.filter((t) => t.key).map((t) => tsList.indexOf(parseRtp(t.pkt)!.timestamp));
    const expected = [];
    for (let u = 0; u < tsList.length; u += 25) expected.push(u);
    expect(keyUnits).toEqual(expected);
    // Each key packet is its unit's first (here an SEI), and its unit carries the in-band SPS/PPS.
    for (const t of tagged.filter((x) => x.key)) {
      const ts = parseRtp(t.pkt)!.timestamp;
      const unit = pkts.filter((p) => parseRtp(p)!.timestamp === ts);
      expect(unit[0]).toBe(t.pkt);
      expect(unit.some((p) => { const h = parseRtp(p)!; return h264Summary(p.subarray(h.payloadStart, h.payloadEnd)).params; })).toBe(true);
    }
  });

  it("H.264: SPS, PPS then an FU-A IDR — the unit is key from the SPS; non-start fragments are not", () => {
    const tg = new KeyframeTagger("h264");
    const out = [
      ...tg.push(rtp([0x67, 1, 2], 1000, false)),
      ...tg.push(rtp([0x68, 3], 1000, false)),
      ...tg.push(rtp([0x7c, 0x85, 9, 9], 1000, false)), // FU-A start, IDR
      ...tg.push(rtp([0x7c, 0x45, 9], 1000, true)), // FU-A end
      ...tg.push(rtp([0x7c, 0x81, 9], 4600, false)), // FU-A start, non-IDR
      ...tg.push(rtp([0x7c, 0x41, 9], 4600, true)),
    ];
    expect(out.map((t) => t.key)).toEqual([true, false, false, false, false, false]);
    expect(h264Summary(Buffer.from([0x78, 0, 2, 0x67, 1, 0, 2, 0x65, 1])).irap).toBe(true); // STAP-A with SPS + IDR
  });

  it("H.265: AP with VPS/SPS/PPS, FU IDR, CRA single, TRAIL_R not key", () => {
    const nal = (t: number) => [(t << 1) & 0x7e, 1];
    const ap = [96, 1, 0, 3, ...nal(32), 0, 0, 3, ...nal(33), 0, 0, 3, ...nal(34), 0];
    expect(h265Summary(Buffer.from(ap)).params).toBe(true);
    expect(h265Summary(Buffer.from(ap)).vclStart).toBe(false);
    const fuStart = [49 << 1, 1, 0x80 | 19, 5];
    const fuMid = [49 << 1, 1, 19, 5];
    expect(h265Summary(Buffer.from(fuStart)).irap).toBe(true);
    expect(h265Summary(Buffer.from(fuMid)).vclStart).toBe(false);
    expect(h265Summary(Buffer.from([...nal(21), 7])).irap).toBe(true);
    expect(h265Summary(Buffer.from([...nal(1), 7])).irap).toBe(false);
    const tg = new KeyframeTagger("h265");
    const out = [...tg.push(rtp(ap, 10, false)), ...tg.push(rtp(fuStart, 10, false)), ...tg.push(rtp([...nal(1), 7], 20))];
    expect(out.map((t) => t.key)).toEqual([true, false, false]);
  });

  it("holds back at most MAX_HELD_PACKETS leading non-picture packets: endless SEI in one unit is passed on", () => {
    const tg = new KeyframeTagger("h264");
    let out = 0;
    for (let i = 0; i < 10 * MAX_HELD_PACKETS; i++) out += tg.push(rtp([0x06, 1, 2], 1000, false, i)).length;
    expect(out).toBeGreaterThanOrEqual(10 * MAX_HELD_PACKETS - MAX_HELD_PACKETS - 1);
    // A picture after that still starts a keyframe unit.
    const idr = tg.push(rtp([0x65, 0x88, 1], 1000, true, 9999));
    expect(idr.some((t) => t.key)).toBe(true);
  });

  it("refuses what is not RTP v2 and honours CSRC, extension and padding", () => {
    expect(parseRtp(Buffer.from([0x40, 0, 0, 0]))).toBeNull();
    const p = rtp([1, 2, 3, 4], 5);
    p[0] = 0xa1; // padding + 1 CSRC
    const withCsrc = Buffer.concat([p.subarray(0, 12), Buffer.alloc(4), Buffer.from([7, 7, 2, 2])]);
    const h = parseRtp(withCsrc)!;
    expect([h.payloadStart, h.payloadEnd]).toEqual([16, 18]);
  });
});

/** A packet in memory of its own (not a slice of Node's shared pool, which the cache would count whole). */
const own = (b: Buffer) => {
  const o = Buffer.allocUnsafeSlow(b.length);
  b.copy(o);
  return o;
};
const pkt = (key: boolean, size = 100, track = 0): MediaPacket => ({ track, rtcp: false, key, data: own(rtp(new Array(size - 12).fill(0), 1)) });

describe("GOP cache", () => {
  it("holds everything since the last keyframe, within its byte bound; 0 turns it off", () => {
    const c = new GopCache(1000);
    c.push(pkt(false));
    expect(c.length).toBe(0); // nothing before the first keyframe
    c.push(pkt(true));
    for (let i = 0; i < 5; i++) c.push(pkt(false, 100, i % 2));
    expect(c.length).toBe(6);
    expect(c.snapshot()[0].key).toBe(true);
    c.push(pkt(true));
    expect(c.length).toBe(1);
    for (let i = 0; i < 10; i++) c.push(pkt(false));
    expect(c.length).toBe(0); // over 1000 bytes: a partial GOP is useless, dropped whole
    expect(c.bytes).toBe(0);
    c.push(pkt(false));
    expect(c.length).toBe(0); // until the next keyframe
    c.push(pkt(true));
    expect(c.length).toBe(1);
    const off = new GopCache(0);
    off.push(pkt(true));
    expect(off.length).toBe(0);
  });

  it("counts the memory cached packets hold on to (their chunks, each once), not their length", () => {
    // Packets are views into the chunks they arrived in. 100-byte packets, each at the front of a
    // 16 KiB chunk padded with bytes the cache does not keep: the bound counts the chunks.
    const chunkPkt = (key: boolean, chunk = Buffer.allocUnsafeSlow(16384)) => {
      own(rtp(new Array(88).fill(0), 1)).copy(chunk);
      return { track: 0, rtcp: false, key, data: chunk.subarray(0, 100) } satisfies MediaPacket;
    };
    const c = new GopCache(64 * 1024);
    c.push(chunkPkt(true));
    for (let i = 0; i < 3; i++) c.push(chunkPkt(false));
    expect(c.length).toBe(4);
    expect(c.bytes).toBe(4 * 16384);
    c.push(chunkPkt(false)); // a fifth chunk: 80 KiB held for 500 bytes of packets, over the bound
    expect(c.length).toBe(0);
    // Many packets of one chunk count it once.
    const shared = Buffer.allocUnsafeSlow(16384);
    c.push(chunkPkt(true, shared));
    for (let i = 0; i < 20; i++) c.push({ track: 0, rtcp: false, key: false, data: shared.subarray(100 * i, 100 * i + 100) });
    expect(c.length).toBe(21);
    expect(c.bytes).toBe(16384);
  });
});

describe("Reader", () => {
  function setup(queueBytes = 1000) {
    const sent: Buffer[] = [];
    let buffered = 0;
    let now = 0;
    const r = new Reader({ write: (b) => sent.push(b), buffered: () => buffered }, { queueBytes, maxSkips: 3, skipWindowMs: 10_000, keyTrack: 0, now: () => now });
    r.addTrack(0, 4);
    return { r, sent, setBuffered: (n: number) => (buffered = n), tick: (ms: number) => (now += ms) };
  }

  it("starts at a keyframe with its own continuous sequence numbers on its channel", () => {
    const { r, sent } = setup();
    r.start([]);
    r.push(pkt(false));
    expect(sent).toHaveLength(0);
    r.push(pkt(true));
    r.push(pkt(false));
    r.push(pkt(false, 100, 1)); // a track it did not set up
    expect(sent).toHaveLength(2);
    expect(sent[0][1]).toBe(4);
    expect(sent[1].readUInt16BE(6)).toBe((sent[0].readUInt16BE(6) + 1) & 0xffff);
  });

  it("skips a slow viewer to the next keyframe, keeps its sequence continuous, disconnects after repeated skips", () => {
    const { r, sent, setBuffered, tick } = setup();
    let why = "";
    r.onTooSlow = (w) => (why = w);
    r.start([pkt(true), pkt(false)]);
    expect(sent).toHaveLength(2);
    setBuffered(5000);
    r.push(pkt(false)); // behind: skipped
    r.push(pkt(false));
    expect(sent).toHaveLength(2);
    expect(r.skips).toBe(1);
    setBuffered(100);
    r.push(pkt(false)); // caught up, but only a keyframe resumes it
    expect(sent).toHaveLength(2);
    r.push(pkt(true));
    expect(sent).toHaveLength(3);
    expect(sent[2].readUInt16BE(6)).toBe((sent[1].readUInt16BE(6) + 1) & 0xffff);
    setBuffered(5000);
    r.push(pkt(false)); // skip 2
    tick(1000);
    r.push(pkt(true)); // a whole GOP passes while still behind: skip 3
    expect(why).toMatch(/3 times/);
    r.push(pkt(true));
    expect(sent).toHaveLength(3); // closed: nothing more
  });

  it("a GOP cache burst at start does not count as falling behind; once drained the bound is plain again", () => {
    let buffered = 0;
    const r = new Reader({ write: (b) => void (buffered += b.length), buffered: () => buffered }, { queueBytes: 1000, maxSkips: 3, skipWindowMs: 10_000, keyTrack: 0 });
    r.addTrack(0, 0);
    r.start(Array.from({ length: 30 }, (_, i) => pkt(i === 0)));
    expect(buffered).toBeGreaterThan(3000);
    r.push(pkt(false));
    expect(r.skips).toBe(0);
    buffered = 500; // drained below the bound: the allowance is gone
    r.push(pkt(false));
    buffered = 1500;
    r.push(pkt(false));
    expect(r.skips).toBe(1);
  });
});

describe("SDP", () => {
  const text = readFileSync(join(FIXTURES_DIR, "rtp/long-h264.sdp"), "latin1");
  it("finds the camera's tracks and their SETUP URLs; rewrites controls for viewers", () => {
    const s = parseCameraSdp(text, "rtsp://127.0.0.1:36933/long/");
    expect(s.tracks).toEqual([expect.objectContaining({ index: 0, type: "video", codec: "h264", clockRate: 90000, payloadType: 96, setupUrl: "rtsp://127.0.0.1:36933/long/stream=0" })]);
    expect(s.keyTrack).toBe(0);
    const v = viewerSdp(s, (i) => `rtsp://gw:8554/cam-1/long/trackID=${i}`);
    expect(v).toContain("a=control:rtsp://gw:8554/cam-1/long/trackID=0");
    expect(v).toContain("sprop-parameter-sets=Z0LAHtoFBn58BEAAAAMAQAAADIPFi6g=,aM48gA==");
    expect(v).not.toMatch(/a=ssrc|36933|npt=0-120/);
    expect(parseCameraSdp(v, "rtsp://gw/x").tracks[0].setupUrl).toBe("rtsp://gw:8554/cam-1/long/trackID=0");
  });
  it("rejects an SDP without media", () => {
    expect(() => parseCameraSdp("v=0\r\ns=x\r\n", "rtsp://c/")).toThrow(/no media/);
  });
});
