// The snapshot cache (snapshot-cache.ts) and labelled metrics (metrics.ts) and the talker lock
// (talker.ts), against a fake registry and a scripted camera fetch.
import { describe, expect, it, vi } from "vitest";
import type { CameraResponse } from "../../src/server/gateways/http/camera-http";
import { CameraError } from "../../src/server/gateways/http/camera-http";
import { DEFAULT_LIMITS } from "../../src/server/limits";
import { Metrics } from "../../src/server/metrics";
import { DeviceOfflineError, type Registry } from "../../src/server/link/registry";
import { SnapshotCache, SnapshotStatusError } from "../../src/server/gateways/http/snapshot-cache";
import { TalkerBusyError, Talkers } from "../../src/server/link/talker";

function fakeRegistry() {
  const links = new Map<string, object>([["d1", {}]]);
  const offline: ((id: string) => void)[] = [];
  const reg = {
    online: (id: string) => (links.has(id) ? { id, link: links.get(id) } : null),
    onOffline: (fn: (id: string) => void) => offline.push(fn),
  };
  return {
    registry: reg as unknown as Registry,
    goOffline(id: string) {
      links.delete(id);
      for (const fn of offline) fn(id);
    },
    relink(id: string) {
      links.set(id, {});
    },
  };
}

const jpeg = (n: number): CameraResponse => ({ status: 200, headers: { "content-type": "image/jpeg" }, body: Buffer.from(`img${n}`) });

describe("SnapshotCache", () => {
  it("single-flight, fresh within maxAge, refetched after; counters", async () => {
    vi.useFakeTimers({ now: 1_000_000 });
    try {
      const f = fakeRegistry();
      let n = 0;
      let answer!: () => void;
      const fetch = vi.fn(() => new Promise<CameraResponse>((r) => (answer = () => r(jpeg(++n)))));
      const c = new SnapshotCache(f.registry, DEFAULT_LIMITS, 2000, fetch);
      const waiting = Array.from({ length: 10 }, () => c.get("d1"));
      answer();
      const got = await Promise.all(waiting);
      expect(fetch).toHaveBeenCalledTimes(1);
      expect(got.map((s) => s.body.toString())).toEqual(Array(10).fill("img1"));
      expect(got.filter((s) => s.fetched)).toHaveLength(1);
      vi.advanceTimersByTime(1999);
      expect((await c.get("d1")).body.toString()).toBe("img1");
      expect(c.info("d1")).toMatchObject({ hits: 10, fetches: 1, bytes: 4, age_ms: 1999 });
      vi.advanceTimersByTime(1); // stale: the image is dropped from memory at once
      expect(c.bytes).toBe(0);
      const next = c.get("d1");
      answer();
      expect((await next).body.toString()).toBe("img2");
      expect(fetch).toHaveBeenCalledTimes(2);
    } finally {
      vi.useRealTimers();
    }
  });

  it("errors are shared by the waiting requests and remembered for min(maxAge, 1 s)", async () => {
    vi.useFakeTimers({ now: 1_000_000 });
    try {
      const f = fakeRegistry();
      const answers: (() => Promise<CameraResponse>)[] = [
        () => Promise.reject(new CameraError("cut off")),
        () => Promise.resolve({ status: 404, headers: {}, body: Buffer.from("no") }),
        () => Promise.resolve(jpeg(3)),
      ];
      const fetch = vi.fn(() => answers.shift()!());
      const c = new SnapshotCache(f.registry, DEFAULT_LIMITS, 5000, fetch);
      const r = await Promise.allSettled([c.get("d1"), c.get("d1")]);
      expect(r.map((x) => x.status === "rejected" && x.reason instanceof CameraError)).toEqual([true, true]);
      vi.advanceTimersByTime(999);
      await expect(c.get("d1")).rejects.toBeInstanceOf(CameraError); // remembered
      expect(fetch).toHaveBeenCalledTimes(1);
      vi.advanceTimersByTime(1);
      await expect(c.get("d1")).rejects.toEqual(new SnapshotStatusError(404));
      vi.advanceTimersByTime(1000);
      expect((await c.get("d1")).body.toString()).toBe("img3");
      expect(c.info("d1")).toMatchObject({ fetches: 3, errors: 2 });
    } finally {
      vi.useRealTimers();
    }
  });

  it("offline: DeviceOfflineError, never remembered; the entry is dropped; a new link starts empty", async () => {
    const f = fakeRegistry();
    let n = 0;
    const c = new SnapshotCache(f.registry, DEFAULT_LIMITS, 60_000, async () => jpeg(++n));
    expect((await c.get("d1")).body.toString()).toBe("img1");
    f.goOffline("d1");
    expect(c.info("d1")).toBeNull();
    await expect(c.get("d1")).rejects.toBeInstanceOf(DeviceOfflineError);
    f.relink("d1");
    expect((await c.get("d1")).body.toString()).toBe("img2");
    f.relink("d1"); // replaced by a newer link without going offline (camera rebooted)
    expect((await c.get("d1")).body.toString()).toBe("img3");
  });
});

describe("Talkers", () => {
  it("one talker per device; release is idempotent and only frees its own hold", () => {
    const t = new Talkers();
    const r1 = t.acquire("d1", "http account a");
    expect(() => t.acquire("d1", "rtsp address b")).toThrow(TalkerBusyError);
    const other = t.acquire("d2", "x"); // other devices are independent
    r1();
    const r2 = t.acquire("d1", "rtsp address b");
    r1(); // a late second release must not free the new talker's hold
    expect(t.current("d1")?.holder).toBe("rtsp address b");
    expect(t.conflicts).toBe(1);
    r2();
    other();
    expect(t.size).toBe(0);
  });
});

describe("Metrics.family", () => {
  it("renders one HELP/TYPE per family, escaped label values, no braces without labels", () => {
    const m = new Metrics();
    m.family("flussonic_x_total", "x", "counter", ["device", "path"], () => [[["d1", "a\"b\\c\nd"], 3], [["d2", "/s"], 0]]);
    m.family("flussonic_y", "y", "gauge", [], () => [[[], 1.5]]);
    expect(m.render()).toBe([
      "# HELP flussonic_x_total x", "# TYPE flussonic_x_total counter",
      'flussonic_x_total{device="d1",path="a\\"b\\\\c\\nd"} 3', 'flussonic_x_total{device="d2",path="/s"} 0',
      "# HELP flussonic_y y", "# TYPE flussonic_y gauge", "flussonic_y 1.5", "",
    ].join("\n"));
    expect(() => m.family("z", "z", "gauge", ["bad-name"], () => [])).toThrow();
  });
});
