// An ONVIF audio-backchannel client (RTSP over TCP, interleaved): DESCRIBE with
// "Require: www.onvif.org/ver20/backchannel", SETUP of every track (the sendonly one included), PLAY, then
// PCMU RTP packets sent to the camera's speaker. What a talking NVR or intercom app does.
//
//   const r = await openBackchannel("rtsp://user:pw@127.0.0.1:8554/dev/backchannel", { timeoutMs: 5000 });
//   if (!r.ok) r.status, r.reason          // e.g. 453 when another talker holds the device
//   else { r.talk.send(50); await r.talk.teardown(); r.talk.close(); }
import { connect, type Socket } from "node:net";
import { authorizer, takeRtspMessage, type RtspResponse } from "./rtsp-client";

export const BACKCHANNEL_REQUIRE = "www.onvif.org/ver20/backchannel";

export interface Backchannel {
  /** The SDP DESCRIBE returned (with the sendonly track). */
  sdp: string;
  /** Sends `n` PCMU RTP packets (20 ms of silence each) on the backchannel's interleaved channel. */
  send(n: number): void;
  /** TEARDOWN and its answer's status. */
  teardown(timeoutMs?: number): Promise<number>;
  /** Resolves when the connection has closed (by either side). */
  closed: Promise<void>;
  close(): void;
}

export type BackchannelResult = { ok: true; talk: Backchannel } | { ok: false; status: number; reason: string; method: string };

export async function openBackchannel(url: string, opts: { timeoutMs: number; require?: string; transport?: string }): Promise<BackchannelResult> {
  const u = new URL(url);
  const user = decodeURIComponent(u.username);
  const pass = decodeURIComponent(u.password);
  u.username = u.password = "";
  const requestUrl = u.toString();
  const require = opts.require ?? BACKCHANNEL_REQUIRE;

  const sock: Socket = connect({ host: u.hostname, port: Number(u.port || 554) });
  sock.on("error", () => {});
  const closed = new Promise<void>((resolve) => sock.on("close", () => resolve()));
  await new Promise<void>((resolve, reject) => {
    sock.once("connect", resolve);
    sock.once("close", () => reject(new Error(`RTSP: cannot connect to ${requestUrl}`)));
  });
  const deadline = setTimeout(() => sock.destroy(), opts.timeoutMs);

  let buf: Buffer = Buffer.alloc(0);
  let pending: ((r: RtspResponse | null) => void) | null = null;
  sock.on("data", (chunk: Buffer) => {
    buf = buf.length ? Buffer.concat([buf, chunk]) : chunk;
    for (;;) {
      if (buf.length && buf[0] === 0x24) { // the camera's RTCP reports: not needed here
        if (buf.length < 4 || buf.length < 4 + buf.readUInt16BE(2)) return;
        buf = buf.subarray(4 + buf.readUInt16BE(2));
        continue;
      }
      const msg = takeRtspMessage(buf);
      if (!msg) return;
      buf = msg.rest;
      if (!msg.response) continue;
      const p = pending;
      pending = null;
      p?.(msg.response);
    }
  });
  sock.on("close", () => pending?.(null));

  let cseq = 0;
  let session = "";
  let auth: ((method: string, uri: string) => string) | null = null;
  const request = async (method: string, uri: string, extra: Record<string, string> = {}): Promise<RtspResponse> => {
    for (let attempt = 0; ; attempt++) {
      const lines = [`${method} ${uri} RTSP/1.0`, `CSeq: ${++cseq}`, "User-Agent: flussonic-agent-tests"];
      if (session) lines.push(`Session: ${session}`);
      if (auth) lines.push(`Authorization: ${auth(method, uri)}`);
      for (const [k, v] of Object.entries(extra)) lines.push(`${k}: ${v}`);
      const reply = new Promise<RtspResponse | null>((resolve) => (pending = resolve));
      sock.write(lines.join("\r\n") + "\r\n\r\n");
      const r = await reply;
      if (!r) throw new Error(`RTSP ${method} ${uri}: connection closed`);
      if (r.status === 401 && attempt === 0 && (user || pass)) {
        auth = authorizer(r.headers["www-authenticate"] ?? [], user, pass);
        if (auth) continue;
      }
      return r;
    }
  };
  const refused = (method: string, r: RtspResponse): BackchannelResult => {
    clearTimeout(deadline);
    sock.destroy();
    return { ok: false, status: r.status, reason: r.reason, method };
  };

  try {
    const d = await request("DESCRIBE", requestUrl, { Accept: "application/sdp", Require: require });
    if (d.status !== 200) return refused("DESCRIBE", d);
    const base = d.headers["content-base"]?.[0] ?? requestUrl;
    // Every track, as ONVIF clients (GStreamer's rtspsrc backchannel=onvif) do: the camera's media
    // and the sendonly backchannel; what the camera sends is read and dropped.
    const sections = d.body.split(/\r?\n(?=m=)/).slice(1);
    if (!sections.some((x) => /^a=sendonly/m.test(x))) throw new Error(`RTSP: no sendonly (backchannel) track in the SDP of ${requestUrl}:\n${d.body}`);
    let channel = -1;
    for (const [i, section] of sections.entries()) {
      const control = /^a=control:(.+)$/m.exec(section)?.[1].trim() ?? "*";
      const trackUrl = control === "*" ? base : /^rtsp:\/\//i.test(control) ? control : base.replace(/\/?$/, "/") + control;
      const s = await request("SETUP", trackUrl, { Transport: opts.transport ?? `RTP/AVP/TCP;unicast;interleaved=${2 * i}-${2 * i + 1}`, Require: require });
      if (s.status !== 200) return refused("SETUP", s);
      session ||= (s.headers["session"]?.[0] ?? "").split(";")[0];
      if (/^a=sendonly/m.test(section)) channel = Number(/interleaved=(\d+)/.exec(s.headers["transport"]?.[0] ?? "")?.[1] ?? 2 * i);
    }
    const p = await request("PLAY", base, { Range: "npt=0.000-", Require: require });
    if (p.status !== 200) return refused("PLAY", p);
    clearTimeout(deadline);

    let seq = 0;
    const ssrc = 0x0ba0ba0b;
    return {
      ok: true,
      talk: {
        sdp: d.body,
        send: (n) => {
          for (let i = 0; i < n; i++, seq++) {
            const pkt = Buffer.alloc(4 + 12 + 160, 0xff); // PCMU silence
            pkt[0] = 0x24;
            pkt[1] = channel;
            pkt.writeUInt16BE(12 + 160, 2);
            pkt[4] = 0x80;
            pkt[5] = 0; // PT 0: PCMU
            pkt.writeUInt16BE(seq & 0xffff, 6);
            pkt.writeUInt32BE((seq * 160) >>> 0, 8);
            pkt.writeUInt32BE(ssrc, 12);
            sock.write(pkt);
          }
        },
        teardown: async (timeoutMs = 5000) => {
          const t = setTimeout(() => sock.destroy(), timeoutMs);
          try {
            return (await request("TEARDOWN", base)).status;
          } finally {
            clearTimeout(t);
          }
        },
        closed,
        close: () => sock.destroy(),
      },
    };
  } catch (e) {
    clearTimeout(deadline);
    sock.destroy();
    throw e;
  }
}
