/**
 * The fake camera's services, written against the agent's Platform Socket so the same code runs on
 * the static QuickJS runtime inside the guest and on Node in the host test:
 *   RTSP (OPTIONS/DESCRIBE/SETUP/PLAY/TEARDOWN/GET_PARAMETER), RTP over TCP interleaved, H.264
 *   per RFC 6184, looping the clip in real time;  HTTP GET /image.jpg and POST /play_audio.
 */
import type { Socket } from "../../../agent-src/src/platform/platform.js";
import { ascii, base64, hex } from "./bytes.js";
import { accessUnits, interleaved, nalType, NAL_PPS, NAL_SPS, packetizeNal, rtpPacket, splitAnnexB } from "./h264.js";
import { Request, RequestReader } from "./requests.js";

export interface CameraEnv {
  setTimer(ms: number, fn: () => void): number;
  clearTimer(id: number): void;
  now(): number;
  log(msg: string): void;
  /** Where POST /play_audio bodies go (the test reads them back); null = count only. */
  saveAudio: ((data: Uint8Array) => void) | null;
}

export interface CameraMedia {
  clip: Uint8Array; // Annex-B H.264 with one AUD per frame
  jpeg: Uint8Array;
  fps: number;
}

const MAX_PAYLOAD = 1400;
const PT = 96;

export class FakeCamera {
  readonly aus: Uint8Array[][];
  readonly sdpFmtp: string;
  private sessionSeq = 0;
  stats = { rtspSessions: 0, framesSent: 0, snapshots: 0, audioBytes: 0 };

  constructor(private media: CameraMedia, private env: CameraEnv) {
    this.aus = accessUnits(splitAnnexB(media.clip));
    const all = this.aus.flat();
    const sps = all.find((n) => nalType(n) === NAL_SPS);
    const pps = all.find((n) => nalType(n) === NAL_PPS);
    if (!sps || !pps || this.aus.length === 0) throw new Error("clip has no SPS/PPS/frames");
    this.sdpFmtp = `packetization-mode=1;profile-level-id=${hex(sps.subarray(1, 4))};sprop-parameter-sets=${base64(sps)},${base64(pps)}`;
  }

  sdp(): string {
    return [
      "v=0",
      "o=- 1 1 IN IP4 127.0.0.1",
      "s=fake-camera",
      "c=IN IP4 0.0.0.0",
      "t=0 0",
      "a=control:*",
      "m=video 0 RTP/AVP 96",
      "a=rtpmap:96 H264/90000",
      `a=framerate:${this.media.fps}`,
      `a=fmtp:96 ${this.sdpFmtp}`,
      "a=control:track1",
      "",
    ].join("\r\n");
  }

  /** Serve one RTSP connection. */
  rtsp(sock: Socket): void {
    let playing = false;
    let blocked = false;
    let timer: number | null = null;
    let frame = 0;
    let seq = 0;
    let startedAt = 0;
    let channel = 0;
    const ssrc = 0x5eed0000 + (++this.sessionSeq & 0xffff);
    const session = String(10000000 + this.sessionSeq);
    let closed = false;

    const stop = () => {
      playing = false;
      if (timer !== null) this.env.clearTimer(timer);
      timer = null;
    };
    const reply = (req: Request, status: string, headers: Record<string, string>, body = "") => {
      let h = `RTSP/1.0 ${status}\r\nCSeq: ${req.headers["cseq"] ?? "0"}\r\nServer: fake-camera\r\n`;
      for (const [k, v] of Object.entries(headers)) h += `${k}: ${v}\r\n`;
      if (body) h += `Content-Length: ${body.length}\r\n`;
      sock.write(ascii(h + "\r\n" + body));
    };
    const schedule = () => {
      if (!playing || blocked || closed) return;
      const due = startedAt + (frame * 1000) / this.media.fps;
      timer = this.env.setTimer(Math.max(0, due - this.env.now()), sendFrame);
    };
    const sendFrame = () => {
      timer = null;
      if (!playing || closed) return;
      const au = this.aus[frame % this.aus.length];
      const ts = (frame * Math.round(90000 / this.media.fps)) >>> 0;
      let ok = true;
      au.forEach((nal, ni) => {
        const payloads = packetizeNal(nal, MAX_PAYLOAD);
        payloads.forEach((p, pi) => {
          const last = ni === au.length - 1 && pi === payloads.length - 1;
          ok = sock.write(interleaved(channel, rtpPacket(PT, seq, ts, ssrc, last, p))) && ok;
          seq = (seq + 1) & 0xffff;
        });
      });
      frame++;
      this.stats.framesSent++;
      // Back-pressure: a slow tunnel delays frames instead of dropping them (keeps framemd5 exact).
      if (!ok) blocked = true;
      else schedule();
    };
    sock.onDrain = () => {
      if (!blocked) return;
      blocked = false;
      startedAt = this.env.now() - (frame * 1000) / this.media.fps;
      schedule();
    };

    const reader = new RequestReader(
      (req) => {
        const m = req.method;
        if (m === "OPTIONS") {
          reply(req, "200 OK", { Public: "OPTIONS, DESCRIBE, SETUP, PLAY, TEARDOWN, GET_PARAMETER" });
        } else if (m === "DESCRIBE") {
          const base = req.url.endsWith("/") ? req.url : req.url + "/";
          reply(req, "200 OK", { "Content-Type": "application/sdp", "Content-Base": base }, this.sdp());
        } else if (m === "SETUP") {
          const t = req.headers["transport"] ?? "";
          const il = /interleaved=(\d+)(?:-(\d+))?/.exec(t);
          if (!/TCP/i.test(t)) {
            reply(req, "461 Unsupported Transport", {});
            return;
          }
          channel = il ? Number(il[1]) : 0;
          reply(req, "200 OK", {
            Transport: `RTP/AVP/TCP;unicast;interleaved=${channel}-${channel + 1};ssrc=${ssrc.toString(16).toUpperCase()}`,
            Session: `${session};timeout=60`,
          });
        } else if (m === "PLAY") {
          reply(req, "200 OK", { Session: session, Range: "npt=0.000-", "RTP-Info": `url=${req.url};seq=${seq};rtptime=0` });
          if (!playing) {
            playing = true;
            this.stats.rtspSessions++;
            startedAt = this.env.now();
            schedule();
          }
        } else if (m === "TEARDOWN") {
          stop();
          reply(req, "200 OK", { Session: session });
          sock.end();
        } else if (m === "GET_PARAMETER" || m === "SET_PARAMETER") {
          reply(req, "200 OK", { Session: session });
        } else {
          reply(req, "405 Method Not Allowed", {});
        }
      },
      (msg) => {
        this.env.log(`rtsp: ${msg}`);
        sock.destroy();
      },
    );
    sock.onData = (d) => reader.push(d);
    sock.onEnd = () => {
      stop();
      sock.end();
    };
    sock.onClose = () => {
      closed = true;
      stop();
    };
  }

  /** Serve one HTTP connection (one request, then close: what a camera's CGI does). */
  http(sock: Socket): void {
    const respond = (status: string, type: string, body: Uint8Array) => {
      const h = `HTTP/1.1 ${status}\r\nContent-Type: ${type}\r\nContent-Length: ${body.length}\r\nConnection: close\r\n\r\n`;
      sock.write(ascii(h));
      if (body.length) sock.write(body);
      sock.end();
    };
    let done = false;
    const reader = new RequestReader(
      (req) => {
        if (done) return;
        done = true;
        const path = req.url.split("?")[0];
        if (req.method === "GET" && path === "/image.jpg") {
          this.stats.snapshots++;
          respond("200 OK", "image/jpeg", this.media.jpeg);
        } else if (req.method === "POST" && path === "/play_audio") {
          this.stats.audioBytes += req.body.length;
          this.env.saveAudio?.(req.body);
          respond("200 OK", "application/json", ascii(`{"ok":true,"bytes":${req.body.length}}`));
        } else if (req.method === "GET" && path === "/") {
          respond("200 OK", "text/plain", ascii("fake-camera\n"));
        } else {
          respond("404 Not Found", "text/plain", ascii("not found\n"));
        }
      },
      (msg) => {
        this.env.log(`http: ${msg}`);
        respond("400 Bad Request", "text/plain", ascii(msg + "\n"));
      },
    );
    sock.onData = (d) => reader.push(d);
    sock.onEnd = () => {
      if (!done) sock.end();
    };
    sock.onClose = () => {};
  }
}
