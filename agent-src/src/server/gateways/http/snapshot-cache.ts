/**
 * GET /<id>/snapshot.jpg from a per-device cache, so a dashboard of 50 viewers costs the camera
 * one request per `snapshot_max_age_ms`, not 50.
 *
 * - Fresh: an image fetched less than maxAge ago (age counted from when the camera was asked) is
 *   served from memory.
 * - Single-flight: while a fetch is in flight, every further request waits for that one fetch;
 *   there is never more than one camera request per device at a time, whatever the viewer count.
 *   The fetch belongs to the cache, not to the viewer who caused it: it is not cut short when that
 *   viewer goes away and counts against no viewer's stream share (limits.viewer_streams_per_device),
 *   since it is at most one tunnel stream per device in all.
 * - Errors (a non-200 answer, a malformed, oversized, slow or cut-off one) are remembered for
 *   min(maxAge, 1 s): a broken camera is asked at most once a second however many viewers poll
 *   it, and a recovered one is seen within a second. "Device offline" is never remembered.
 * - Bounded: one image per device, at most camera_response_max_bytes (the exchange enforces it);
 *   the image is dropped from memory when it goes stale (it would never be served again), and the
 *   device's entry (its counters) when the device goes offline. A new link of the device (camera
 *   rebooted, moved back) starts from an empty entry.
 */

import type { Limits } from "../../limits";
import { CameraError, cameraRequest, type CameraResponse } from "./camera-http";
import { DeviceOfflineError, type Registry } from "../../link/registry";

/** The camera answered something other than 200: the viewer gets 502 "camera answered N". */
export class SnapshotStatusError extends Error {
  constructor(readonly status: number) {
    super(`camera answered ${status}`);
  }
}

export interface Snapshot {
  body: Buffer;
  contentType: string;
  /** Unix ms the camera was asked for this image. */
  at: number;
  /** True when this request caused the camera fetch; false when served from the cache or a shared fetch. */
  fetched: boolean;
}

type Outcome = { body: Buffer; contentType: string } | { error: Error };

interface Entry {
  link: unknown;
  /** The last outcome and when its fetch started; the image is dropped once stale. */
  last: (Outcome & { at: number }) | null;
  flight: Promise<Outcome & { at: number }> | null;
  dropTimer: NodeJS.Timeout | null;
  hits: number;
  fetches: number;
  errors: number;
}

/** Errors are remembered at most this long (or maxAge, if shorter). */
export const SNAPSHOT_ERROR_MAX_AGE_MS = 1000;

export type SnapshotFetch = (deviceId: string) => Promise<CameraResponse>;

export class SnapshotCache {
  private readonly entries = new Map<string, Entry>();
  private readonly errorAgeMs: number;
  /** Counters over all devices (entries come and go with their devices). */
  totals = { hits: 0, fetches: 0, errors: 0 };

  /**
   * @param fetch the camera exchange; default: the device's snapshot_path through a tunnel stream
   *   counted against no viewer.
   */
  constructor(
    private readonly registry: Registry, limits: Limits, readonly maxAgeMs: number,
    private readonly fetch: SnapshotFetch = (id) => cameraRequest(registry, id, undefined, limits, {
      method: "GET", path: registry.online(id)?.link!.hello.snapshot_path ?? "/image.jpg",
    }),
  ) {
    this.errorAgeMs = Math.min(maxAgeMs, SNAPSHOT_ERROR_MAX_AGE_MS);
    registry.onOffline((id) => this.drop(id));
  }

  /**
   * The device's snapshot, fresh within maxAge. Throws DeviceOfflineError, CameraError (bad answer)
   * or SnapshotStatusError (a non-200 answer).
   */
  async get(deviceId: string): Promise<Snapshot> {
    const dev = this.registry.online(deviceId);
    if (!dev) throw new DeviceOfflineError(`device ${deviceId} is not connected`);
    let e = this.entries.get(deviceId);
    if (e && e.link !== dev.link) {
      this.drop(deviceId);
      e = undefined;
    }
    if (!e) {
      e = { link: dev.link, last: null, flight: null, dropTimer: null, hits: 0, fetches: 0, errors: 0 };
      this.entries.set(deviceId, e);
    }
    const now = Date.now();
    const last = e.last;
    if (last && now - last.at < ("error" in last ? this.errorAgeMs : this.maxAgeMs)) {
      this.hit(e);
      return result(last, false);
    }
    if (e.flight) {
      this.hit(e);
      return result(await e.flight, false);
    }
    e.fetches++;
    this.totals.fetches++;
    const flight = this.fetchInto(deviceId, e);
    e.flight = flight;
    return result(await flight, true);
  }

  private hit(e: Entry): void {
    e.hits++;
    this.totals.hits++;
  }

  private async fetchInto(deviceId: string, e: Entry): Promise<Outcome & { at: number }> {
    const at = Date.now();
    let out: Outcome & { at: number };
    try {
      const r = await this.fetch(deviceId);
      out = r.status === 200
        ? { body: r.body, contentType: String(r.headers["content-type"] ?? "image/jpeg"), at }
        : { error: new SnapshotStatusError(r.status), at };
    } catch (err) {
      e.flight = null;
      // Offline is the registry's news, not the camera's: never remembered.
      if (err instanceof DeviceOfflineError) throw err;
      out = { error: err instanceof CameraError ? err : new CameraError(String((err as Error).message ?? err)), at };
    }
    e.flight = null;
    if ("error" in out) {
      e.errors++;
      this.totals.errors++;
    }
    if (this.entries.get(deviceId) === e) {
      e.last = out;
      if (e.dropTimer) clearTimeout(e.dropTimer);
      const ttl = "error" in out ? this.errorAgeMs : this.maxAgeMs;
      // Stale is never served again: give the memory back as soon as it is.
      e.dropTimer = setTimeout(() => {
        if (e.last === out) e.last = null;
        e.dropTimer = null;
      }, Math.max(0, at + ttl - Date.now()));
      e.dropTimer.unref();
    }
    return out;
  }

  /** Forgets the device's entry (it went offline, or a new link replaced the old). */
  drop(deviceId: string): void {
    const e = this.entries.get(deviceId);
    if (!e) return;
    if (e.dropTimer) clearTimeout(e.dropTimer);
    this.entries.delete(deviceId);
  }

  /** For the admin API: the device's figures, or null when it has no entry. */
  info(deviceId: string): { hits: number; fetches: number; errors: number; age_ms: number | null; bytes: number; fetching: boolean } | null {
    const e = this.entries.get(deviceId);
    if (!e) return null;
    return {
      hits: e.hits, fetches: e.fetches, errors: e.errors,
      age_ms: e.last && !("error" in e.last) ? Date.now() - e.last.at : null,
      bytes: e.last && !("error" in e.last) ? e.last.body.length : 0,
      fetching: e.flight !== null,
    };
  }

  /** [device id, entry figures] for every device with an entry. */
  *devices(): Generator<[string, NonNullable<ReturnType<SnapshotCache["info"]>>]> {
    for (const id of this.entries.keys()) yield [id, this.info(id)!];
  }

  /** Image bytes held now, over all devices. */
  get bytes(): number {
    let n = 0;
    for (const e of this.entries.values()) if (e.last && !("error" in e.last)) n += e.last.body.length;
    return n;
  }
}

function result(o: Outcome & { at: number }, fetched: boolean): Snapshot {
  if ("error" in o) throw o.error;
  return { body: o.body, contentType: o.contentType, at: o.at, fetched };
}
