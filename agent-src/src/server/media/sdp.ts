/**
 * The camera's SDP (RFC 4566/8866) as the media core needs it: its tracks with their codec,
 * clock rate and SETUP URL; and the same session description rewritten for our viewers (our
 * control URLs, no camera SSRCs, a live range). Parsing and writing are sdp-transform's (npm,
 * maintained, used by mediasoup/Jitsi): it keeps attributes it does not know, so codec
 * parameters the camera sends reach viewers unchanged.
 */

import * as sdpTransform from "sdp-transform";

export interface Track {
  index: number;
  /** "video", "audio", "application"… */
  type: string;
  /** The camera's URL to SETUP this track. */
  setupUrl: string;
  /** Encoding name of the first payload type, lower case ("h264", "h265", "mpeg4-generic", "pcma"…). */
  codec: string;
  clockRate: number;
  payloadType: number;
}

export interface CameraSdp {
  text: string;
  tracks: Track[];
  /** The track whose keyframes start viewers and the GOP cache (first H.264/H.265 video), or null. */
  keyTrack: number | null;
}

export class SdpError extends Error {}

/** Joins a control attribute to the base URL the way RTSP clients do (RFC 2326 C.1.1). */
export function resolveControl(base: string, control: string | undefined): string {
  if (!control || control === "*") return base;
  if (/^rtsps?:\/\//i.test(control)) return control;
  return base.endsWith("/") ? base + control : `${base}/${control}`;
}

export function parseCameraSdp(text: string, base: string): CameraSdp {
  let s: sdpTransform.SessionDescription;
  try {
    s = sdpTransform.parse(text);
  } catch (e) {
    throw new SdpError(`unparsable SDP: ${(e as Error).message}`);
  }
  if (!s.media?.length) throw new SdpError("SDP offers no media");
  if (s.media.length > 16) throw new SdpError(`SDP offers ${s.media.length} media, at most 16 are served`);
  const sessionBase = s.control && s.control !== "*" ? resolveControl(base, s.control) : base;
  const tracks = s.media.map((m, index): Track => {
    const pt = Number(String(m.payloads ?? "").split(" ")[0]);
    const rtp = m.rtp?.find((r) => r.payload === pt);
    // Static payload types without rtpmap (RFC 3551): PCMU 0, PCMA 8 at 8 kHz; video at 90 kHz.
    const codec = (rtp?.codec ?? (pt === 0 ? "pcmu" : pt === 8 ? "pcma" : pt === 26 ? "jpeg" : "")).toLowerCase();
    const clockRate = rtp?.rate ?? (m.type === "video" ? 90_000 : 8_000);
    return { index, type: m.type, setupUrl: resolveControl(sessionBase, m.control), codec, clockRate, payloadType: pt };
  });
  const key = tracks.find((t) => t.type === "video" && (t.codec === "h264" || t.codec === "h265"));
  return { text, tracks, keyTrack: key ? key.index : null };
}

/**
 * The SDP our viewers get: the camera's, with absolute control URLs of ours per track, no
 * camera SSRCs (the source re-stamps them so they survive camera reconnects), and an open range.
 */
export function viewerSdp(cam: CameraSdp, controlUrl: (track: number) => string): string {
  const s = sdpTransform.parse(cam.text);
  s.control = "*";
  // A shared live source has no seekable range: whatever the camera said (a clip's length), ours is open.
  const noRange = (inv?: { value: string }[]) => inv?.filter((a) => !/^range:/i.test(a.value));
  s.invalid = [...(noRange(s.invalid) ?? []), { value: "range:npt=0-" }];
  s.media.forEach((m, i) => {
    m.control = controlUrl(i);
    delete m.ssrcs;
    delete m.ssrcGroups;
    m.invalid = noRange(m.invalid);
  });
  return sdpTransform.write(s);
}
