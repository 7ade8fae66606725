/**
 * RTCP sender reports (RFC 3550 6.4.1) of a source's video and audio tracks: each maps the track's
 * RTP clock to the camera's one NTP wall clock, so together they say which video RTP time an audio
 * sample was captured at. The HLS muxer and the recorder place audio by them.
 */
import type { MediaPacket } from "./gop-cache";

export class SenderReports {
  /** The latest report per track: NTP wall clock (seconds) ↔ RTP timestamp. */
  private readonly sr = new Map<number, { ntp: number; rtp: number }>();

  constructor(private readonly videoTrack: number, private readonly audioTrack: number | undefined) {}

  /** Keeps an RTCP packet if it is an SR of one of the two tracks; true if it was. */
  take(p: MediaPacket): boolean {
    const d = p.data;
    if (d.length < 20 || d[1] !== 200 || !(p.track === this.videoTrack || p.track === this.audioTrack)) return false;
    this.sr.set(p.track, { ntp: d.readUInt32BE(8) + d.readUInt32BE(12) / 2 ** 32, rtp: d.readUInt32BE(16) });
    return true;
  }

  clear(): void {
    this.sr.clear();
  }

  /**
   * The video RTP time (unwrapped, 90 kHz) at which audio RTP time `audioTs` was captured, or null
   * until both tracks have a report. The reports' 32-bit timestamps are unwrapped next to the
   * latest ones seen (`lastVideoTs`, `lastAudioTs`).
   */
  videoTsOfAudio(audioTs: number, audioRate: number, lastVideoTs: number, lastAudioTs: number): number | null {
    const v = this.sr.get(this.videoTrack), a = this.audioTrack === undefined ? undefined : this.sr.get(this.audioTrack);
    if (!v || !a) return null;
    const vRtp = lastVideoTs + ((v.rtp - lastVideoTs) | 0);
    const aRtp = lastAudioTs + ((a.rtp - lastAudioTs) | 0);
    const captured = a.ntp + (audioTs - aRtp) / audioRate;
    return vRtp + (captured - v.ntp) * 90_000;
  }
}
