// The source's camera session against a scripted camera (no sockets): what the camera sends in the
// same read as its PLAY answer is media like any other.
import { describe, expect, it } from "vitest";
import { Source, type Upstream } from "../../src/server/media/source";
import { rtpPacket } from "./rtp-packet";

const SDP = ["v=0", "o=- 1 1 IN IP4 127.0.0.1", "s=cam", "t=0 0", "m=video 0 RTP/AVP 96", "a=rtpmap:96 H264/90000", "a=control:track0", ""].join("\r\n");

const rtp = (payload: number[], ts: number, marker: boolean, seq: number) => rtpPacket(seq, ts, marker, payload, 0x1234);
const interleaved = (p: Buffer) => Buffer.concat([Buffer.from([0x24, 0, p.length >> 8, p.length & 0xff]), p]);

/** A camera that answers each request; `afterPlay` rides in the same chunk as the PLAY answer. */
function scriptedCamera(afterPlay: Buffer): Upstream {
  const up: Upstream = {
    onData: null,
    onClose: null,
    close: () => {},
    write: (b) => {
      const req = Buffer.from(b).toString("latin1");
      const method = req.split(" ")[0];
      const cseq = /CSeq: (\S+)/i.exec(req)![1];
      const head = (extra: string[], body = "") => Buffer.from([`RTSP/1.0 200 OK`, `CSeq: ${cseq}`, ...extra, `Content-Length: ${body.length}`, "", body].join("\r\n"));
      let out: Buffer;
      if (method === "DESCRIBE") out = head(["Content-Type: application/sdp", "Content-Base: rtsp://cam/s/"], SDP);
      else if (method === "SETUP") out = head(["Transport: RTP/AVP/TCP;unicast;interleaved=0-1", "Session: 42;timeout=60"]);
      else if (method === "PLAY") out = Buffer.concat([head(["Session: 42"]), afterPlay]);
      else out = head([]);
      setImmediate(() => up.onData?.(out));
    },
  };
  return up;
}

describe("Source", () => {
  it("keeps the keyframe the camera sends in the same read as its PLAY answer (a first viewer starts at once)", async () => {
    const sps = rtp([0x67, 0x42, 0xc0, 0x1e], 1000, false, 1);
    const pps = rtp([0x68, 0xce, 0x3c, 0x80], 1000, false, 2);
    const idr = rtp([0x65, 0x88, 0x84, 0x00], 1000, true, 3);
    const next = rtp([0x41, 0x9a, 0x02], 4600, true, 4);
    const burst = Buffer.concat([sps, pps, idr, next].map(interleaved));
    const src = new Source("dev/s", "/s", () => ({ up: scriptedCamera(burst), base: "rtsp://cam" }),
      { closeAfterMs: 60_000, sourceTimeoutMs: 1000, gopCacheBytes: 1 << 20, requestTimeoutMs: 1000, mediaTimeoutMs: 60_000, alwaysOn: false }, () => {});
    const release = src.hold();
    await src.ready();
    await new Promise((r) => setImmediate(r));
    const cached = src.cache.snapshot();
    release();
    src.close("test done");
    expect(cached.map((p) => p.key)).toEqual([true, false, false, false]);
    expect(cached.map((p) => p.data[12])).toEqual([0x67, 0x68, 0x65, 0x41]);
  });
});
