/**
 * Which tracks of a camera's SDP the fMP4 writers can take, and how to read them: the key video
 * track (H.264 or H.265, with the SDP's parameter sets) and the first AAC audio track we can
 * depacketize. Shared by the HLS muxer and the recorder, so both carry the same media.
 */

import * as sdpTransform from "sdp-transform";
import type { CameraSdp } from "../../media/sdp";
import { aacRtpParams, parseAacConfig, type AacConfig, type AacRtpParams } from "./aac";
import { h265Sprop } from "./h265";

export interface VideoInput {
  track: number;
  codec: "h264" | "h265";
  /** The SDP's parameter sets, base64, comma-separated (H.264 sprop-parameter-sets; H.265 vps,sps,pps). */
  sprop?: string;
}

export interface AudioInput {
  track: number;
  config: AacConfig;
  rtp: AacRtpParams;
}

export interface MediaInputs {
  video: VideoInput;
  audio: AudioInput | null;
}

/** The inputs of a camera's SDP; throws with what the camera offers when it has no H.264/H.265 video. */
export function mediaInputs(sdp: CameraSdp): MediaInputs {
  const track = sdp.keyTrack;
  if (track === null) throw new Error(`no H.264/H.265 video track (camera offers ${sdp.tracks.map((t) => `${t.type} ${t.codec}`).join(", ")})`);
  const parsed = sdpTransform.parse(sdp.text);
  const fmtp = (i: number) => parsed.media[i]?.fmtp?.find((f) => f.payload === sdp.tracks[i].payloadType)?.config ?? "";
  const codec = sdp.tracks[track].codec as "h264" | "h265";
  const sprop = codec === "h264" ? /sprop-parameter-sets=([^;\s]+)/.exec(fmtp(track))?.[1] : h265Sprop(fmtp(track));
  return { video: { track, codec, sprop }, audio: audioInput(sdp, fmtp) };
}

/** The first AAC (mpeg4-generic) audio track we can read; other audio (G.711, LATM) is left out, the video still served. */
function audioInput(sdp: CameraSdp, fmtp: (i: number) => string): AudioInput | null {
  for (const t of sdp.tracks) {
    if (t.type !== "audio" || t.codec !== "mpeg4-generic") continue;
    const f = fmtp(t.index);
    const config = /(?:^|;)\s*config=([0-9a-f]+)/i.exec(f)?.[1];
    if (!config || !/mode=aac-(hbr|lbr)/i.test(f)) continue;
    try {
      const cfg = parseAacConfig(config);
      if (cfg.sampleRate !== t.clockRate) continue;
      return { track: t.index, config: cfg, rtp: aacRtpParams(f) };
    } catch {
      continue;
    }
  }
  return null;
}
