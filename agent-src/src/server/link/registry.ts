/**
 * Devices this streamer has seen and the live link of each. One link per device: a new
 * authenticated link replaces the old one (a camera that rebooted, or one moved back here).
 */

import type { Stream } from "../../protocol/stream";
import type { AgentLink } from "./server";
import { DEFAULT_LIMITS } from "../limits";
import { Talkers } from "./talker";

export interface DeviceEntry {
  id: string;
  link: AgentLink | null;
  since: number; // Unix ms of the last state change
  bytesIn: number; // totals of finished links; live link counters are added on read
  bytesOut: number;
}

/** One device as the admin API lists it (GET /api/devices). */
export interface DeviceSummary {
  id: string;
  state: "online" | "offline";
  /** ISO time of the last state change. */
  since: string;
  /** Bytes on its links, both directions, finished links and the live one. */
  bytes: number;
  /** Tunnel streams open on the live link. */
  streams: number;
  remote: string | null;
  agent: string | null;
  arch: string | null;
}

export class DeviceOfflineError extends Error {}

/** The viewer already holds its share of the device's streams: HTTP 429, RTSP 453. */
export class ViewerLimitError extends Error {}

export class Registry {
  readonly devices = new Map<string, DeviceEntry>();
  /** Open streams per (device, viewer); a stream counts until it is closed. */
  private readonly viewerStreams = new Map<string, Set<Stream>>();
  private sweepAt = 1024;
  /** Two-way audio: one talker per device, HTTP upload or RTSP backchannel (talker.ts). */
  readonly talkers = new Talkers();
  private readonly offlineListeners: ((id: string) => void)[] = [];
  private readonly infos: [string, (id: string) => unknown][] = [];
  /** Shared-source viewer sessions per (device, viewer): they use no tunnel stream of their own but count against the same share. */
  private readonly viewerSessions = new Map<string, number>();

  /** @param viewerStreamsPerDevice streams one viewer may hold on one device (limits.viewerStreamsPerDevice). */
  constructor(private readonly viewerStreamsPerDevice = DEFAULT_LIMITS.viewerStreamsPerDevice) {}

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
    link.whenClosed(() => {
      e.bytesIn += link.session.bytesIn;
      e.bytesOut += link.session.bytesOut;
      if (e.link === link) {
        e.link = null;
        e.since = Date.now();
        for (const fn of this.offlineListeners) fn(e.id);
      }
    });
  }

  /** Called when a device's live link closes and no newer one replaced it (per-device caches drop their state). */
  onOffline(fn: (id: string) => void): void {
    this.offlineListeners.push(fn);
  }

  /** Adds `key: fn(id)` to every device in list() (GET /api/devices), e.g. "snapshot", "sources". */
  addDeviceInfo(key: string, fn: (id: string) => unknown): void {
    this.infos.push([key, fn]);
  }

  online(id: string): DeviceEntry | null {
    const e = this.devices.get(id);
    return e?.link && !e.link.session.isClosed ? e : null;
  }

  /**
   * Ask the device's agent to connect a stream to one of its named targets. With a viewerKey
   * (account name, or remote address for token viewers) the stream counts against that viewer's
   * share of the device until it closes, so one viewer cannot take every stream slot; over the
   * share this throws ViewerLimitError and opens nothing. Nothing to release: a closed stream
   * stops counting by itself.
   */
  open(id: string, target: string, viewerKey?: string): { entry: DeviceEntry; stream: Stream } {
    const e = this.online(id);
    if (!e) throw new DeviceOfflineError(`device ${id} is not connected`);
    if (viewerKey === undefined) return { entry: e, stream: e.link!.session.openStream(target) };
    const key = `${id}\n${viewerKey}`;
    const mine = this.liveStreams(key);
    const held = mine.size + (this.viewerSessions.get(key) ?? 0);
    if (held >= this.viewerStreamsPerDevice) {
      throw new ViewerLimitError(`viewer ${viewerKey} already holds ${held} streams of device ${id}`);
    }
    const stream = e.link!.session.openStream(target);
    mine.add(stream);
    this.viewerStreams.set(key, mine);
    if (this.viewerStreams.size > this.sweepAt) {
      // Viewers that never came back: drop their closed streams, amortised over many opens.
      for (const k of [...this.viewerStreams.keys()]) this.liveStreams(k);
      this.sweepAt = Math.max(1024, 2 * this.viewerStreams.size);
    }
    return { entry: e, stream };
  }

  /**
   * A viewer session of a shared source (RTSP): counts against the viewer's share of the device
   * like a tunnel stream until the returned function is called. Throws ViewerLimitError over the share.
   */
  claimViewerSession(id: string, viewerKey: string): () => void {
    const key = `${id}\n${viewerKey}`;
    const held = this.liveStreams(key).size + (this.viewerSessions.get(key) ?? 0);
    if (held >= this.viewerStreamsPerDevice) {
      throw new ViewerLimitError(`viewer ${viewerKey} already holds ${held} streams of device ${id}`);
    }
    this.viewerSessions.set(key, (this.viewerSessions.get(key) ?? 0) + 1);
    let released = false;
    return () => {
      if (released) return;
      released = true;
      const n = (this.viewerSessions.get(key) ?? 1) - 1;
      if (n > 0) this.viewerSessions.set(key, n);
      else this.viewerSessions.delete(key);
    };
  }

  /** Streams this viewer holds open on this device now (what open() counts). */
  viewerStreamCount(id: string, viewerKey: string): number {
    const key = `${id}\n${viewerKey}`;
    return this.liveStreams(key).size + (this.viewerSessions.get(key) ?? 0);
  }

  private liveStreams(key: string): Set<Stream> {
    const set = this.viewerStreams.get(key) ?? new Set<Stream>();
    for (const s of set) if (s.isClosed) set.delete(s);
    if (!set.size) this.viewerStreams.delete(key);
    return set;
  }

  list(): DeviceSummary[] {
    return [...this.devices.values()].map((e) => ({
      id: e.id,
      state: e.link ? "online" : "offline",
      since: new Date(e.since).toISOString(),
      bytes: e.bytesIn + e.bytesOut + (e.link ? e.link.session.bytesIn + e.link.session.bytesOut : 0),
      streams: e.link?.session.streams.size ?? 0,
      remote: e.link?.remote ?? null,
      agent: e.link?.hello.agent ?? null,
      arch: e.link?.hello.arch ?? null,
      ...Object.fromEntries(this.infos.map(([k, fn]) => [k, fn(e.id)])),
    }));
  }

  get onlineCount(): number {
    let n = 0;
    for (const e of this.devices.values()) if (e.link) n++;
    return n;
  }
}
