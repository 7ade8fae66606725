// A camera-shaped RTSP server that sends interleaved RTP as fast as the client reads (or at a set
// bit rate): the load source for the throughput and CPU-per-bit rows, where GStreamer's real-time
// clip would cap the rate. Real RTSP on the wire (OPTIONS/DESCRIBE/SETUP/PLAY/TEARDOWN), so the
// streamer's RTSP gateway and every peer tunnel carry exactly what a camera would send.
//   node build/bench/flood-camera.mjs '{"port":0,"host":"127.0.0.1","bitsPerSec":0}'
// Prints "READY rtsp port=N". Exits after maxMs (default 30 min) or on SIGTERM.
import { createServer, type Socket } from "node:net";

const a = JSON.parse(process.argv[2] ?? "{}") as { port?: number; host?: string; bitsPerSec?: number; maxMs?: number };
const RTP_PAYLOAD = 1388; // RTP header 12 + 1388 = 1400: one camera-sized packet
const PER_BATCH = 46; // ~64 KiB per write
const frame = Buffer.alloc(4 + 12 + RTP_PAYLOAD);
frame[0] = 0x24;
frame[1] = 0;
frame.writeUInt16BE(12 + RTP_PAYLOAD, 2);
frame[4] = 0x80;
// MPEG-TS over RTP: a payload the streamer passes through without waiting for a keyframe, so the
// filler bytes below are as good as video for timing the byte path.
frame[5] = 33;
for (let i = 16; i < frame.length; i++) frame[i] = (i * 7) & 0xff; // not all zeros
const batch = Buffer.concat(Array.from({ length: PER_BATCH }, () => frame));

function sdp(host: string): string {
  return ["v=0", `o=- 1 1 IN IP4 ${host}`, "s=flood", "c=IN IP4 0.0.0.0", "t=0 0",
    "m=video 0 RTP/AVP 33", "a=rtpmap:33 MP2T/90000", "a=control:trackID=0", ""].join("\r\n");
}

function serve(sock: Socket): void {
  sock.setNoDelay(true);
  let buf = Buffer.alloc(0);
  let playing = false;
  let timer: NodeJS.Timeout | null = null;
  const stop = () => {
    playing = false;
    if (timer) clearInterval(timer);
  };
  const pump = () => {
    while (playing && sock.writable) if (!sock.write(batch)) return void sock.once("drain", pump);
  };
  const paced = (bps: number) => {
    // 10 ms ticks; carry the remainder so the long-run rate is exact.
    let credit = 0;
    let last = performance.now();
    timer = setInterval(() => {
      const now = performance.now();
      credit += ((now - last) / 1000) * (bps / 8);
      last = now;
      const n = Math.floor(credit / frame.length);
      if (n > 0 && sock.writable && sock.writableLength < 1 << 20) {
        sock.write(n === 1 ? frame : Buffer.concat(Array.from({ length: n }, () => frame)));
        credit -= n * frame.length;
      } else if (n > 0) credit = 0; // reader stalled: drop, as a live camera would
    }, 10);
  };
  const reply = (cseq: string, extra: string[], body = "") =>
    sock.write([`RTSP/1.0 200 OK`, `CSeq: ${cseq}`, ...extra, ...(body ? [`Content-Length: ${Buffer.byteLength(body)}`] : []), "", body].join("\r\n"));
  sock.on("data", (d) => {
    buf = buf.length ? Buffer.concat([buf, d]) : d;
    for (;;) {
      if (buf.length && buf[0] === 0x24) { // RTCP from the viewer
        if (buf.length < 4 || buf.length < 4 + buf.readUInt16BE(2)) return;
        buf = buf.subarray(4 + buf.readUInt16BE(2));
        continue;
      }
      const end = buf.indexOf("\r\n\r\n");
      if (end < 0) return;
      const head = buf.subarray(0, end).toString("latin1").split("\r\n");
      buf = buf.subarray(end + 4);
      const [method, uri] = head[0].split(" ");
      const cseq = /^cseq:\s*(\S+)/im.exec(head.join("\n"))?.[1] ?? "0";
      const base = uri.endsWith("/") ? uri : uri + "/";
      if (method === "OPTIONS") reply(cseq, ["Public: OPTIONS, DESCRIBE, SETUP, PLAY, TEARDOWN"]);
      else if (method === "DESCRIBE") reply(cseq, [`Content-Base: ${base}`, "Content-Type: application/sdp"], sdp("127.0.0.1"));
      else if (method === "SETUP") reply(cseq, ["Transport: RTP/AVP/TCP;unicast;interleaved=0-1", "Session: 12345678;timeout=60"]);
      else if (method === "PLAY") {
        reply(cseq, ["Session: 12345678", `RTP-Info: url=${uri.replace(/\/$/, "")}/trackID=0;seq=0;rtptime=0`]);
        playing = true;
        if (a.bitsPerSec) paced(a.bitsPerSec);
        else setImmediate(pump);
      } else if (method === "TEARDOWN") {
        stop();
        reply(cseq, ["Session: 12345678"]);
      } else sock.write(`RTSP/1.0 405 Method Not Allowed\r\nCSeq: ${cseq}\r\n\r\n`);
    }
  });
  sock.on("error", stop);
  sock.on("close", stop);
}

const server = createServer(serve);
server.listen(a.port ?? 0, a.host ?? "127.0.0.1", () => {
  const addr = server.address();
  process.stdout.write(`READY rtsp port=${typeof addr === "object" && addr ? addr.port : 0}\n`);
});
setTimeout(() => process.exit(0), a.maxMs ?? 30 * 60_000).unref();
process.on("SIGTERM", () => process.exit(0));
