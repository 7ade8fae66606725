// The archive's files on disk without a camera: retention order (age, device size, total size
// across devices), crash recovery of a .part file cut in the middle of a fragment, index rebuild.
import { appendFileSync, existsSync, mkdirSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { fragment, initSegment } from "../../src/server/gateways/hls/fmp4";
import type { Registry } from "../../src/server/link/registry";
import type { Sources } from "../../src/server/media/sources";
import { Metrics } from "../../src/server/metrics";
import { Archive, type ArchiveSettings } from "../../src/server/record/archive";
import { DeviceStore, dayFolder } from "../../src/server/record/store";
import { tempDir } from "../../../testkit/procs";

const INIT = initSegment([{ kind: "video", id: 1, timescale: 90_000, width: 320, height: 180, entry: "avc1", config: Buffer.from([1, 0x42, 0xc0, 0x1e, 0xff, 0xe1, 0, 0, 1, 0]) }]);
/** One second of 25 fake frames, starting at ms. */
const frag = (ms: number, seq: number) => fragment(seq, [{ trackId: 1, baseTime: ms * 90, samples: Array.from({ length: 25 }, (_, i) => ({ duration: 3600, data: Buffer.alloc(500, i), key: i === 0 })) }]);

function writeSegment(devDir: string, startMs: number, seconds: number, suffix = ""): string {
  const day = join(devDir, dayFolder(startMs));
  mkdirSync(day, { recursive: true });
  const f = join(day, `${startMs}.mp4${suffix}`);
  writeFileSync(f, Buffer.concat([INIT, ...Array.from({ length: seconds }, (_, i) => frag(startMs + 1000 * i, i + 1))]));
  return f;
}

const registry = { devices: new Map(), online: () => null, addDeviceInfo: () => {} } as unknown as Registry;
const archives: Archive[] = [];
afterEach(async () => {
  for (const a of archives.splice(0)) await a.close();
});

function archive(dir: string, devices: ArchiveSettings["devices"], maxTotalBytes = 0, minFreeBytes = 0): Archive {
  const a = new Archive({ dir, segmentMs: 10_000, maxTotalBytes, minFreeBytes, devices }, registry, {} as Sources, () => {}, new Metrics());
  archives.push(a);
  return a;
}

/** What a later start finds: the index log replayed and checked against the files (nothing rebuilt if it is right). */
function remaining(dir: string, id: string): number[] {
  const s = new DeviceStore(join(dir, id));
  expect(s.open()).toEqual({ recovered: 0, dropped: 0, rebuilt: false });
  return s.segments.map((x) => x.startMs);
}

describe("archive retention", () => {
  const now = Date.UTC(2026, 11, 2, 0, 0, 30); // just after midnight: segments span two day folders
  const starts = Array.from({ length: 10 }, (_, i) => now - 100_000 + 10_000 * i);

  it("by age: segments that ended before now - max_age go, oldest first, empty day folders with them", () => {
    const dir = tempDir("fa-ret-");
    for (const s of starts) writeSegment(join(dir, "cam"), s, 10);
    const a = archive(dir, { cam: { record: "off", path: "/x", maxAgeMs: 25_000, maxBytes: 0 } });
    expect(a.store("cam")!.segments.length).toBe(10);
    a.retention(now);
    expect(readFileSync(join(dir, "cam", "index.tsv"), "utf8")).toMatch(/^-\t2026-12-01\/\d{13}\.mp4$/m); // removals are appended, not a rewrite
    expect(remaining(dir, "cam")).toEqual(starts.slice(7));
    expect(readdirSync(join(dir, "cam")).filter((d) => d.startsWith("2026"))).toEqual([dayFolder(now)]);
    expect(a.timeline("cam", 0, now + 1)).toEqual([{ from: starts[7], to: now }]);
    const st = a.store("cam")!;
    expect(st.overlapping(starts[8] + 5000, starts[8] + 6000).map((x) => x.startMs)).toEqual([starts[8]]);
    expect(st.overlapping(starts[8], starts[9]).map((x) => x.startMs)).toEqual([starts[8]]);
    expect(st.overlapping(starts[7] - 1, starts[9] + 1).map((x) => x.startMs)).toEqual(starts.slice(7));
    expect(st.overlapping(now, now + 1000)).toEqual([]);
  });

  it("by size per device, and by total size across devices: the oldest go first", () => {
    const dir = tempDir("fa-ret-");
    for (const s of starts) writeSegment(join(dir, "cam"), s, 10);
    for (const s of starts) writeSegment(join(dir, "cam2"), s + 5000, 10);
    const size = statSync(join(dir, "cam", dayFolder(starts[9]), `${starts[9]}.mp4`)).size;
    const a = archive(dir, { cam: { record: "off", path: "/x", maxAgeMs: 0, maxBytes: Math.floor(3.5 * size) }, "*": { record: "off", path: "/x", maxAgeMs: 0, maxBytes: 0 } }, 8 * size);
    a.store("cam2");
    a.retention(now);
    expect(remaining(dir, "cam")).toEqual(starts.slice(7));
    // 3 + 10 over 8 in total: cam2's five oldest go (cam's are now younger than those).
    expect(remaining(dir, "cam2")).toEqual(starts.slice(5).map((s) => s + 5000));
    for (const s of starts.slice(0, 7)) expect(existsSync(join(dir, "cam", dayFolder(s), `${s}.mp4`))).toBe(false);
  });
});

describe("archive free-space floor", () => {
  it("below min_free_bytes the oldest segments of any device go until the floor is met", async () => {
    const dir = tempDir("fa-ret-");
    const t0 = Date.UTC(2026, 11, 2, 10);
    for (let i = 0; i < 6; i++) {
      writeSegment(join(dir, "a"), t0 + 20_000 * i, 10);
      writeSegment(join(dir, "b"), t0 + 20_000 * i + 10_000, 10);
    }
    const size = statSync(join(dir, "a", dayFolder(t0), `${t0}.mp4`)).size;
    const a = archive(dir, { "*": { record: "off", path: "/x", maxAgeMs: 0, maxBytes: 0 } }, 0, 10 * size);
    a.store("a");
    a.store("b");
    a.diskFreeBytes = async () => Math.floor(6.5 * size);
    a.retention(t0 + 200_000);
    await new Promise((r) => setTimeout(r, 50));
    // 3.5 segments short: the four oldest across both devices (a0, b0, a1, b1) go.
    expect(remaining(dir, "a")).toEqual([2, 3, 4, 5].map((i) => t0 + 20_000 * i));
    expect(remaining(dir, "b")).toEqual([2, 3, 4, 5].map((i) => t0 + 20_000 * i + 10_000));
  });
});

describe("archive crash recovery", () => {
  it("a .part cut inside a fragment is truncated to its whole fragments and kept; a lost index is rebuilt from the files", () => {
    const dir = tempDir("fa-rec-");
    const dev = join(dir, "cam");
    const t0 = Date.UTC(2026, 11, 2, 10);
    writeSegment(dev, t0, 4);
    const part = writeSegment(dev, t0 + 4000, 3, ".part");
    const whole = statSync(part).size;
    appendFileSync(part, frag(t0 + 7000, 4).subarray(0, 700)); // killed in the middle of the 4th fragment
    const empty = join(dev, dayFolder(t0), `${t0 + 9000}.mp4.part`);
    writeFileSync(empty, INIT.subarray(0, 20)); // killed while writing the init segment
    const s = new DeviceStore(dev);
    expect(s.open()).toEqual({ recovered: 1, dropped: 1, rebuilt: true });
    expect(existsSync(part)).toBe(false);
    expect(existsSync(empty)).toBe(false);
    expect(statSync(part.slice(0, -5)).size).toBe(whole);
    expect(s.segments.map((x) => [x.startMs, x.durationMs])).toEqual([[t0, 4000], [t0 + 4000, 3000]]);
    // The index is now there and right: a second open uses it as is.
    const again = new DeviceStore(dev);
    expect(again.open()).toEqual({ recovered: 0, dropped: 0, rebuilt: false });
    expect(again.segments).toEqual(s.segments);
    // An index that names a file no longer there is not trusted.
    rmSync(part.slice(0, -5));
    const third = new DeviceStore(dev);
    expect(third.open().rebuilt).toBe(true);
    expect(third.segments.map((x) => x.startMs)).toEqual([t0]);
  });
});
