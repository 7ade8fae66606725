// The shared source and the camera's first packets: RTP that arrives in the same chunk as the
// camera's PLAY answer (the usual case through the tunnel) is that session's first keyframe.
import { expect, it } from "vitest";
import type { MediaPacket } from "../../src/server/media/gop-cache";
import { Source, type Upstream } from "../../src/server/media/source";

const SDP = "v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=x\r\nt=0 0\r\nm=video 0 RTP/AVP 96\r\na=rtpmap:96 H264/90000\r\na=control:track1\r\n";

function rtpOnChannel0(seq: number): Buffer {
  const rtp = Buffer.alloc(14);
  rtp[0] = 0x80;
  rtp[1] = 0x80 | 96;
  rtp.writeUInt16BE(seq, 2);
  rtp.writeUInt32BE(1000 + seq, 4);
  rtp[12] = 0x65; // an IDR slice
  rtp[13] = seq;
  const il = Buffer.from([0x24, 0, 0, rtp.length]);
  return Buffer.concat([il, rtp]);
}

it("media right behind the PLAY answer, in the same chunk, reaches the viewers", async () => {
  const up: Upstream = { onData: null, onClose: null, write: (b) => setImmediate(() => answer(Buffer.from(b).toString("latin1"))), close: () => {} };
  function answer(req: string): void {
    const cseq = /CSeq: (\d+)/.exec(req)![1];
    const method = req.split(" ")[0];
    let head = `RTSP/1.0 200 OK\r\nCSeq: ${cseq}\r\n`;
    if (method === "DESCRIBE") head += `Content-Base: rtsp://cam/x/\r\nContent-Type: application/sdp\r\nContent-Length: ${SDP.length}\r\n\r\n${SDP}`;
    else if (method === "SETUP") head += "Session: 1234\r\nTransport: RTP/AVP/TCP;unicast;interleaved=0-1\r\n\r\n";
    else head += "\r\n";
    const chunk = method === "PLAY" ? Buffer.concat([Buffer.from(head), rtpOnChannel0(1), rtpOnChannel0(2)]) : Buffer.from(head);
    up.onData?.(chunk);
  }
  const got: MediaPacket[] = [];
  const src = new Source("d/x", "/x", () => ({ up, base: "rtsp://cam" }), {
    closeAfterMs: 1000, sourceTimeoutMs: 1000, gopCacheBytes: 0, requestTimeoutMs: 1000, mediaTimeoutMs: 5000, alwaysOn: false,
  }, () => {});
  src.attach({ reader: { start: () => {}, restart: () => {}, push: (p) => got.push(p), bytesOut: 0 }, end: () => {} });
  await src.ready();
  await new Promise((r) => setTimeout(r, 20));
  src.close("test done");
  expect(got.map((p) => p.data[13])).toEqual([1, 2]);
  expect(got[0].key).toBe(true);
});
