/**
 * UDP unicast for RTSP viewers (RFC 2326 §12.39): `SETUP … Transport: RTP/AVP;unicast;client_port=a-b`
 * gets a pair of our sockets (RTP on an even port, RTCP on the next) from the configured range,
 * `server_port=c-d` in the answer, and the shared source's RTP/RTCP sent from them to the viewer.
 *
 * Only ever to the address of the RTSP connection's peer: that address made a TCP handshake with
 * us, so it really asked for the stream. A `destination=` naming any other host is refused (461),
 * or the port would reflect and amplify a camera's stream at whatever host a forged SETUP named.
 *
 * Datagrams coming in: on the RTCP port, receiver reports from the peer's address keep the
 * session alive; anything else (other hosts, NAT punch packets, junk, RTP port traffic) is read
 * and dropped — the kernel's receive buffer bounds it and nothing is parsed beyond the RTCP
 * common header. Sends never block the source: a datagram the kernel cannot take at once waits in
 * libuv's send queue, which the Reader sees through buffered() and bounds like a TCP viewer's
 * (skip to the next keyframe, then disconnect); a failed send is counted and dropped.
 */

import * as dgram from "node:dgram";
import { isIPv4 } from "node:net";

export interface UdpPortRange {
  first: number;
  last: number;
}

/** "::ffff:127.0.0.1" → "127.0.0.1": what dgram and a comparison need. */
export function plainAddress(a: string): string {
  return a.startsWith("::ffff:") && isIPv4(a.slice(7)) ? a.slice(7) : a;
}

/** What a SETUP's Transport header asks for, after our policy; `refuse` is the reason for a 461. */
export type TransportChoice =
  | { kind: "tcp"; spec: string }
  | { kind: "udp"; rtpPort: number; rtcpPort: number }
  | { kind: "refuse"; why: string };

/**
 * Picks the first alternative of a Transport header (RFC 2326 §12.39, client's order of
 * preference) we serve: RTP/AVP/TCP interleaved, or RTP/AVP[/UDP] unicast with client_port to
 * the peer itself (when udp is on). Multicast, other profiles, destination= to another host and
 * client ports out of range are skipped; if nothing is left, the last reason is returned.
 */
export function chooseTransport(header: string | undefined, peer: string, udpOn: boolean): TransportChoice {
  let why = "no transport offered";
  for (const raw of (header ?? "").split(",")) {
    const spec = raw.trim();
    if (!spec) continue;
    const parts = spec.split(";").map((p) => p.trim());
    const proto = parts[0].toUpperCase();
    const params = new Map<string, string>();
    for (const p of parts.slice(1)) {
      const eq = p.indexOf("=");
      params.set((eq < 0 ? p : p.slice(0, eq)).toLowerCase(), eq < 0 ? "" : p.slice(eq + 1));
    }
    if (params.has("multicast")) {
      why = "multicast is not served";
      continue;
    }
    if (proto === "RTP/AVP/TCP") return { kind: "tcp", spec };
    if (proto !== "RTP/AVP" && proto !== "RTP/AVP/UDP") {
      why = `transport ${parts[0].slice(0, 40)} is not served`;
      continue;
    }
    if (!udpOn) {
      why = "UDP transport is off (streamer.media.udp_ports)";
      continue;
    }
    const dest = params.get("destination");
    if (dest !== undefined && dest !== "" && plainAddress(dest.replace(/^\[|\]$/g, "")) !== plainAddress(peer)) {
      why = "destination must be the RTSP connection's own address";
      continue;
    }
    const m = /^(\d{1,5})(?:-(\d{1,5}))?$/.exec(params.get("client_port") ?? "");
    const rtp = m ? Number(m[1]) : 0;
    const rtcp = m?.[2] ? Number(m[2]) : rtp + 1;
    if (!m || rtp < 1 || rtp > 65535 || rtcp < 1 || rtcp > 65535) {
      why = "UDP needs client_port=a-b";
      continue;
    }
    return { kind: "udp", rtpPort: rtp, rtcpPort: rtcp };
  }
  return { kind: "refuse", why };
}

export interface UdpStats {
  /** Datagrams sent, and sends that failed (counted, dropped). */
  sent: number;
  sendErrors: number;
  /** RTCP from the viewer that kept its session alive, and datagrams dropped as junk or from elsewhere. */
  rtcpIn: number;
  junkIn: number;
}

/**
 * The streamer's UDP ports: pairs (even RTP, odd RTCP) taken from the range for one viewer track
 * and given back when its session ends. Bound to the local address the viewer's RTSP connection
 * reached, so the datagrams come from where the viewer sent its SETUP.
 */
export class UdpPorts {
  private readonly used = new Set<number>();
  private cursor: number;
  readonly stats: UdpStats = { sent: 0, sendErrors: 0, rtcpIn: 0, junkIn: 0 };

  constructor(readonly range: UdpPortRange) {
    this.cursor = range.first + (range.first % 2);
  }

  /** Pairs in use now. */
  get pairs(): number {
    return this.used.size;
  }

  get capacity(): number {
    const first = this.range.first + (this.range.first % 2);
    return Math.max(0, Math.floor((this.range.last - first + 1) / 2));
  }

  /** A bound pair for a viewer at `peer` (RTP to peerRtp, RTCP to peerRtcp); null if the range is used up. */
  async open(local: string, peer: string, peerRtp: number, peerRtcp: number, onRtcp: () => void): Promise<UdpPair | null> {
    const cap = this.capacity;
    const type = isIPv4(plainAddress(local)) ? "udp4" : "udp6";
    // Ports held by other programs are skipped; a bounded number of tries, so a full range answers fast.
    for (let tries = 0; tries < Math.min(cap, 64); tries++) {
      const port = this.cursor;
      this.cursor += 2;
      if (this.cursor + 1 > this.range.last) this.cursor = this.range.first + (this.range.first % 2);
      if (this.used.has(port)) continue;
      this.used.add(port);
      const rtp = await bind(type, plainAddress(local), port);
      const rtcp = rtp && (await bind(type, plainAddress(local), port + 1));
      if (rtp && rtcp) return new UdpPair(this, port, rtp, rtcp, plainAddress(peer), peerRtp, peerRtcp, onRtcp);
      rtp?.close();
      this.used.delete(port);
    }
    return null;
  }

  /** @internal */
  release(port: number): void {
    this.used.delete(port);
  }
}

function bind(type: "udp4" | "udp6", address: string, port: number): Promise<dgram.Socket | null> {
  return new Promise((resolve) => {
    const s = dgram.createSocket({ type, reuseAddr: false });
    s.once("error", () => {
      s.close();
      resolve(null);
    });
    s.bind({ address, port, exclusive: true }, () => {
      s.removeAllListeners("error");
      s.on("error", () => {}); // ICMP port unreachable from a viewer gone away: nothing to do
      resolve(s);
    });
  });
}

/** One viewer track's pair of sockets. */
export class UdpPair {
  private closed = false;

  constructor(
    private readonly ports: UdpPorts,
    readonly port: number,
    private readonly rtp: dgram.Socket,
    private readonly rtcp: dgram.Socket,
    private readonly peer: string,
    readonly peerRtp: number,
    readonly peerRtcp: number,
    onRtcp: () => void,
  ) {
    const stats = ports.stats;
    rtcp.on("message", (msg, from) => {
      // RTCP (RFC 3550 §6.4): version 2, packet type SR..APP (200..204). From the peer only.
      if (plainAddress(from.address) === peer && msg.length >= 8 && msg[0] >> 6 === 2 && msg[1] >= 200 && msg[1] <= 204) {
        stats.rtcpIn++;
        onRtcp();
      } else {
        stats.junkIn++;
      }
    });
    rtp.on("message", () => void stats.junkIn++); // NAT punch packets (ffmpeg, live555) and junk
  }

  /** One RTP or RTCP packet to the viewer; never waits. */
  send(data: Buffer, rtcp: boolean): void {
    if (this.closed) return;
    const s = rtcp ? this.rtcp : this.rtp;
    const stats = this.ports.stats;
    s.send(data, rtcp ? this.peerRtcp : this.peerRtp, this.peer, (e) => {
      if (e) stats.sendErrors++;
      else stats.sent++;
    });
  }

  /** Bytes handed to the sockets but not yet to the kernel. */
  queued(): number {
    return this.closed ? 0 : this.rtp.getSendQueueSize() + this.rtcp.getSendQueueSize();
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.rtp.close();
    this.rtcp.close();
    this.ports.release(this.port);
  }
}
