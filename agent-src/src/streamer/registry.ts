/**
 * Devices this streamer has seen and the live link of each. One link per device: a new
 * authenticated link replaces the old one (a camera that rebooted, or one moved back here).
 */

import type { Stream } from "../protocol/stream";
import type { AgentLink } from "./link-server";

export interface DeviceEntry {
  id: string;
  link: AgentLink | null;
  since: number; // Unix ms of the last state change
  bytesIn: number; // totals of finished links; live link counters are added on read
  bytesOut: number;
}

export class DeviceOfflineError extends Error {}

export class Registry {
  readonly devices = new Map<string, DeviceEntry>();

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

  /** Ask the device's agent to connect a stream to one of its named targets. */
  open(id: string, target: string): { entry: DeviceEntry; stream: Stream } {
    const e = this.online(id);
    if (!e) throw new DeviceOfflineError(`device ${id} is not connected`);
    return { entry: e, stream: e.link!.session.openStream(target) };
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
