/**
 * Devices this streamer has seen and the live link of each. One link per device: a new
 * authenticated link replaces the old one (a camera that rebooted, or one moved back here).
 */

import type { Stream } from "../protocol/stream";
import type { AgentLink } from "./link-server";
import { DEFAULT_LIMITS } from "./limits";

export interface DeviceEntry {
  id: string;
  link: AgentLink | null;
  since: number; // Unix ms of the last state change
  bytesIn: number; // totals of finished links; live link counters are added on read
  bytesOut: number;
}

export class DeviceOfflineError extends Error {}
/** The viewer already holds its share of the device's streams. */
export class ViewerLimitError extends Error {}

export class Registry {
  readonly devices = new Map<string, DeviceEntry>();
  /** Streams one viewer may hold on one device: a link carries few streams, and one viewer must not take them all. */
  viewerStreamsPerDevice = DEFAULT_LIMITS.viewerStreamsPerDevice;
  /** device → viewer key → that viewer's streams on it (closed ones are pruned on the next open). */
  private readonly viewerStreams = new Map<string, Map<string, Set<Stream>>>();

  attach(link: AgentLink): void {
    let e = this.devices.get(link.deviceId);
    if (!e) {
      e = { id: link.deviceId, link: null, since: Date.now(), bytesIn: 0, bytesOut: 0 };
      this.devices.set(link.deviceId, e);
    }
    const old = e.link;
    e.link = link;
    e.since = Date.now();
    old?.session.close("replaced by a newer link of the same device");
    link.onClose = () => {
      e.bytesIn += link.session.bytesIn;
      e.bytesOut += link.session.bytesOut;
      if (e.link === link) {
        e.link = null;
        e.since = Date.now();
      }
    };
  }

  online(id: string): DeviceEntry | null {
    const e = this.devices.get(id);
    return e?.link && !e.link.session.isClosed ? e : null;
  }

  /**
   * Ask the device's agent to connect a stream to one of its named targets. With a viewer key
   * (an account, or an address), counts the stream against that viewer's share of the device.
   */
  open(id: string, target: string, viewerKey?: string): { entry: DeviceEntry; stream: Stream } {
    const e = this.online(id);
    if (!e) throw new DeviceOfflineError(`device ${id} is not connected`);
    if (viewerKey === undefined) return { entry: e, stream: e.link!.session.openStream(target) };
    const held = this.heldBy(id, viewerKey);
    if (held.size >= this.viewerStreamsPerDevice) {
      throw new ViewerLimitError(`${viewerKey} already holds ${held.size} streams of ${id} (limit ${this.viewerStreamsPerDevice})`);
    }
    const stream = e.link!.session.openStream(target);
    held.add(stream);
    return { entry: e, stream };
  }

  /** The viewer's open streams on a device; prunes closed streams and empty viewers of that device. */
  private heldBy(id: string, viewerKey: string): Set<Stream> {
    let byViewer = this.viewerStreams.get(id);
    if (!byViewer) this.viewerStreams.set(id, (byViewer = new Map()));
    for (const [k, set] of byViewer) {
      for (const s of set) if (s.isClosed) set.delete(s);
      if (set.size === 0 && k !== viewerKey) byViewer.delete(k);
    }
    let held = byViewer.get(viewerKey);
    if (!held) byViewer.set(viewerKey, (held = new Set()));
    return held;
  }

  list(): object[] {
    return [...this.devices.values()].map((e) => ({
      id: e.id,
      state: e.link ? "online" : "offline",
      since: new Date(e.since).toISOString(),
      bytes: e.bytesIn + e.bytesOut + (e.link ? e.link.session.bytesIn + e.link.session.bytesOut : 0),
      streams: e.link?.session.streams.size ?? 0,
      remote: e.link?.remote ?? null,
      agent: e.link?.hello.agent ?? null,
      arch: e.link?.hello.arch ?? null,
    }));
  }

  get onlineCount(): number {
    let n = 0;
    for (const e of this.devices.values()) if (e.link) n++;
    return n;
  }
}
