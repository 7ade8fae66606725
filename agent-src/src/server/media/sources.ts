/**
 * Every shared source of this streamer, keyed by (device, camera path + query): the first viewer
 * of a key opens it, later viewers join it. always_on entries are kept open while their device
 * is online (checked every second, so a device coming back gets its source again).
 */

import type { LogLevel } from "../../platform/platform";
import type { Stream } from "../../protocol/stream";
import type { Registry } from "../link/registry";
import { Source, type Upstream } from "./source";

export interface MediaSettings {
  closeAfterMs: number;
  sourceTimeoutMs: number;
  gopCacheBytes: number;
  viewerQueueBytes: number;
  viewerMaxSkips: number;
  /** Device id → camera paths (with query) kept open without viewers. */
  alwaysOn: Record<string, string[]>;
  /** Server ports for RTSP viewers over UDP (a pair per viewer track); null: UDP refused with 461. */
  udpPorts: { first: number; last: number } | null;
}

export const DEFAULT_MEDIA: MediaSettings = {
  closeAfterMs: 10_000,
  sourceTimeoutMs: 10_000,
  gopCacheBytes: 4 * 1024 * 1024,
  viewerQueueBytes: 2 * 1024 * 1024,
  viewerMaxSkips: 3,
  alwaysOn: {},
  udpPorts: { first: 30000, last: 39999 },
};

/** The window in which viewerMaxSkips skips disconnect a viewer, and the longest a viewer may stay behind. */
export const SKIP_WINDOW_MS = 10_000;

/** A tunnel stream to the device's "rtsp" target as the source's byte pipe. */
function tunnelUpstream(stream: Stream): Upstream {
  const up: Upstream = {
    onData: null,
    onClose: null,
    write: (b) => void stream.write(b),
    close: () => {
      stream.end();
      // The camera may keep its side open after TEARDOWN; do not wait for it.
      setTimeout(() => stream.isClosed || stream.reset("source_closed"), 1000).unref();
    },
  };
  stream.onData = (d) => up.onData?.(d);
  stream.onEnd = () => stream.end();
  stream.onClose = (reason) => up.onClose?.(reason ?? "camera closed the connection");
  return up;
}

export class Sources {
  private readonly map = new Map<string, Source>();
  private readonly alwaysOnTimer: NodeJS.Timeout;
  /** How long a camera's RTSP answer may take. */
  requestTimeoutMs = 10_000;

  constructor(
    private readonly registry: Registry,
    readonly settings: MediaSettings,
    private readonly log: (l: LogLevel, m: string) => void,
  ) {
    this.alwaysOnTimer = setInterval(() => this.keepAlwaysOn(), 1000);
    this.alwaysOnTimer.unref();
  }

  /** The source for a device's camera path, opened if needed. Throws DeviceOfflineError. */
  get(deviceId: string, rest: string): Source {
    const key = `${deviceId}\n${rest}`;
    const s = this.map.get(key);
    if (s && !s.isClosed) return s;
    if (!this.registry.online(deviceId)) this.registry.open(deviceId, "rtsp"); // throws the offline error
    const always = this.settings.alwaysOn[deviceId]?.includes(rest) ?? false;
    const src = new Source(`${deviceId}${rest}`, rest, () => {
      const { entry, stream } = this.registry.open(deviceId, "rtsp");
      return { up: tunnelUpstream(stream), base: `rtsp://${entry.link!.hello.targets?.rtsp ?? "127.0.0.1:554"}` };
    }, {
      closeAfterMs: this.settings.closeAfterMs,
      sourceTimeoutMs: this.settings.sourceTimeoutMs,
      gopCacheBytes: this.settings.gopCacheBytes,
      requestTimeoutMs: this.requestTimeoutMs,
      mediaTimeoutMs: Math.min(5000, this.settings.sourceTimeoutMs),
      alwaysOn: always,
    }, this.log);
    src.onClosed = () => {
      if (this.map.get(key) === src) this.map.delete(key);
    };
    this.map.set(key, src);
    return src;
  }

  list(): Source[] {
    return [...this.map.values()];
  }

  /** Open sources with their device and camera path (+ query), for the admin API and metrics. */
  entries(): { deviceId: string; path: string; source: Source }[] {
    return [...this.map].map(([key, source]) => {
      const nl = key.indexOf("\n");
      return { deviceId: key.slice(0, nl), path: key.slice(nl + 1), source };
    });
  }

  private keepAlwaysOn(): void {
    for (const [id, paths] of Object.entries(this.settings.alwaysOn)) {
      if (!this.registry.online(id)) continue;
      for (const p of paths) {
        if (!this.map.get(`${id}\n${p}`)) {
          try {
            this.get(id, p);
          } catch (e) {
            this.log("debug", `always_on ${id}${p}: ${(e as Error).message}`);
          }
        }
      }
    }
  }

  close(): void {
    clearInterval(this.alwaysOnTimer);
    for (const s of this.list()) s.close("streamer stopping");
  }
}
