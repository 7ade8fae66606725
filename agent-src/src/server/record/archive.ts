/**
 * The streamer's recordings: which devices record (config `streamer.archive`), one Recorder per
 * recording device attached to its shared source — holding the source open while viewers come
 * and go, re-attached when the camera comes back — one DeviceStore per device folder, retention
 * (by age and size per device, by total size across devices), the timeline and the metrics.
 */

import { existsSync, mkdirSync, readdirSync } from "node:fs";
import { statfs } from "node:fs/promises";
import { join } from "node:path";
import type { LogLevel } from "../../platform/platform";
import type { Registry } from "../link/registry";
import type { Sources } from "../media/sources";
import type { Source, SourceViewer } from "../media/source";
import type { Metrics } from "../metrics";
import { mediaInputs } from "../gateways/hls/sdp-inputs";
import { Recorder } from "./recorder";
import { inSchedule, type ScheduleWindow } from "./schedule";
import { DeviceStore, TICKS_PER_MS, type StoredSegment } from "./store";

export interface ArchiveDeviceSettings {
  record: "continuous" | "off";
  /** Camera path (+ query) recorded, e.g. "/stream1". */
  path: string;
  /** Segments older than this go; 0: no age limit. */
  maxAgeMs: number;
  /** The device's oldest segments go while its archive is larger; 0: no size limit. */
  maxBytes: number;
  /** Record only inside these windows (local time); absent: always. */
  schedule?: ScheduleWindow[];
}

export interface ArchiveSettings {
  dir: string;
  /** A segment ends at the first keyframe at least this long after its start. */
  segmentMs: number;
  /** All devices together; the oldest segment of any device goes first. 0: no limit. */
  maxTotalBytes: number;
  /** Free space kept on the archive's file system: below it the oldest segment of any device goes. 0: none. */
  minFreeBytes: number;
  /** Device id (or "*" for every device without its own entry) → settings. */
  devices: Record<string, ArchiveDeviceSettings>;
}

/** Two segments this close count as one recorded range on the timeline. */
export const GAP_TOLERANCE_MS = 1000;
const RETENTION_EVERY_MS = 5000;

interface Attached {
  rec: Recorder;
  src: Source;
  sv: SourceViewer;
  release: () => void;
}

interface DeviceCounters {
  written: number;
  writeErrors: number;
  deleted: number;
}

export class Archive {
  private readonly stores = new Map<string, DeviceStore>();
  private readonly attached = new Map<string, Attached>();
  private readonly attaching = new Set<string>();
  private readonly unsupportedUntil = new Map<string, number>();
  private readonly counters = new Map<string, DeviceCounters>();
  private readonly timers: NodeJS.Timeout[] = [];
  private diskFree = -1;

  constructor(
    readonly settings: ArchiveSettings,
    private readonly registry: Registry,
    private readonly sources: Sources,
    private readonly log: (l: LogLevel, m: string) => void,
    metrics: Metrics,
  ) {
    mkdirSync(settings.dir, { recursive: true });
    // Every device folder is opened (and a crash's partial segment recovered) before recording starts.
    for (const id of readdirSync(settings.dir)) if (validId(id)) this.store(id);
    this.timers.push(setInterval(() => this.tick(), 1000), setInterval(() => this.retention(), RETENTION_EVERY_MS));
    for (const t of this.timers) t.unref();
    this.registerMetrics(metrics);
    registry.addDeviceInfo("archive", (id) => {
      const s = this.stores.get(id);
      const w = this.attached.get(id)?.rec.writtenToTicks;
      return s ? {
        state: this.stateOf(id), segments: s.segments.length, bytes: s.bytes, oldest_ms: s.oldestMs, newest_ms: s.newestMs,
        // The segment under way included: how far behind the camera the disk is while recording.
        written_to_ms: w ? Math.round(w / TICKS_PER_MS) : s.newestMs,
      } : null;
    });
    setImmediate(() => this.tick());
  }

  settingsFor(id: string): ArchiveDeviceSettings | null {
    return this.settings.devices[id] ?? this.settings.devices["*"] ?? null;
  }

  /** The device's store, opened on first use; null for an id that cannot be a folder, or without a folder unless `create`. */
  store(id: string, create = false): DeviceStore | null {
    let s = this.stores.get(id);
    if (s) return s;
    if (!validId(id)) return null;
    const dir = join(this.settings.dir, id);
    if (!existsSync(dir) && !create) return null;
    s = new DeviceStore(dir);
    const r = s.open();
    if (r.recovered || r.dropped || r.rebuilt) {
      this.log("info", `archive ${id}: ${r.recovered} partial segment(s) recovered, ${r.dropped} empty one(s) removed${r.rebuilt ? ", index rebuilt from the files" : ""}; ${s.segments.length} segments`);
    }
    this.stores.set(id, s);
    return s;
  }

  private counter(id: string): DeviceCounters {
    let c = this.counters.get(id);
    if (!c) this.counters.set(id, (c = { written: 0, writeErrors: 0, deleted: 0 }));
    return c;
  }

  stateOf(id: string): string {
    const cfg = this.settingsFor(id);
    if (cfg?.record !== "continuous") return "off";
    const a = this.attached.get(id);
    if (!a && !this.scheduled(cfg)) return "off_schedule";
    if (a) return a.rec.state === "starting" ? "waiting" : a.rec.state;
    return this.unsupportedUntil.has(id) ? "unsupported" : "waiting";
  }

  /** The device's recorder is attached to a source (it counts among that source's readers, not its viewers). */
  isAttached(id: string): boolean {
    return this.attached.has(id);
  }

  private recordingIds(): string[] {
    const ids = new Set<string>();
    for (const [id, s] of Object.entries(this.settings.devices)) if (id !== "*" && s.record === "continuous") ids.add(id);
    if (this.settings.devices["*"]?.record === "continuous") {
      for (const id of this.registry.devices.keys()) if (this.settingsFor(id)?.record === "continuous") ids.add(id);
    }
    return [...ids];
  }

  /** Inside the device's schedule now (always, without one). */
  private scheduled(cfg: ArchiveDeviceSettings): boolean {
    return !cfg.schedule || inSchedule(cfg.schedule, new Date(this.now()));
  }

  /** The clock schedules are checked against (replaceable in tests). */
  now = (): number => Date.now();

  private tick(): void {
    // Out of its schedule (or no longer to be recorded): the recorder closes its segment and lets go of the source.
    for (const [id, a] of this.attached) {
      const cfg = this.settingsFor(id);
      if (cfg?.record === "continuous" && this.scheduled(cfg)) continue;
      this.attached.delete(id);
      a.src.detach(a.sv);
      this.counter(id).writeErrors += a.rec.writeErrors;
      void a.rec.stop().finally(() => a.release());
      this.log("info", `archive ${id}: recording paused until the next window of its schedule`);
    }
    for (const id of this.recordingIds()) {
      if (!this.scheduled(this.settingsFor(id)!)) continue;
      if (this.attached.has(id) || this.attaching.has(id) || !this.registry.online(id) || !validId(id)) continue;
      if ((this.unsupportedUntil.get(id) ?? 0) > Date.now()) continue;
      void this.attach(id, this.settingsFor(id)!);
    }
  }

  private async attach(id: string, cfg: ArchiveDeviceSettings): Promise<void> {
    this.attaching.add(id);
    let release: (() => void) | null = null;
    try {
      const store = this.store(id, true)!;
      const src = this.sources.get(id, cfg.path);
      release = src.hold();
      const sdp = await src.ready();
      if (sdp.keyTrack === null) {
        this.unsupportedUntil.set(id, Date.now() + 60_000);
        this.log("warn", `archive ${id}: cannot record ${cfg.path}: no H.264/H.265 video track (camera offers ${sdp.tracks.map((t) => `${t.type} ${t.codec}`).join(", ")}); retrying in 60 s`);
        release();
        return;
      }
      this.unsupportedUntil.delete(id);
      const { video, audio } = mediaInputs(sdp);
      const c = this.counter(id);
      const rec = new Recorder(`${id}${cfg.path}`, video, audio, store, this.settings.segmentMs, this.log, (s) => this.segmentDone(id, s));
      const baseErrors = rec.writeErrors;
      const rel = release;
      const a: Attached = {
        rec, src, release: rel,
        sv: {
          reader: rec,
          end: (why) => {
            if (this.attached.get(id) !== a) return;
            this.attached.delete(id);
            this.log("info", `archive ${id}: source ended (${why}); recording resumes when the camera is back`);
            c.writeErrors += rec.writeErrors - baseErrors;
            void rec.stop();
            rel();
          },
        },
      };
      this.attached.set(id, a);
      src.attach(a.sv);
      this.log("info", `archive ${id}: recording ${cfg.path} to ${store.dir}`);
      release = null;
    } catch (e) {
      this.log("debug", `archive ${id}: cannot open ${cfg.path}: ${(e as Error).message}`);
    } finally {
      release?.();
      this.attaching.delete(id);
    }
  }

  private segmentDone(id: string, s: StoredSegment): void {
    const store = this.stores.get(id);
    if (!store) return;
    store.add(s);
    this.counter(id).written++;
  }

  /** Oldest first: past the age limit, over the device's size, over the total size. */
  retention(now = Date.now()): void {
    for (const [id, store] of this.stores) {
      const cfg = this.settingsFor(id);
      if (!cfg) continue;
      let bytes = store.bytes;
      const n = store.dropOldest((s) => {
        const old = cfg.maxAgeMs > 0 && s.startMs + s.durationMs < now - cfg.maxAgeMs;
        const big = cfg.maxBytes > 0 && bytes > cfg.maxBytes;
        if (old || big) bytes -= s.bytes;
        return old || big;
      });
      if (n) {
        this.counter(id).deleted += n;
        this.log("debug", `archive ${id}: retention removed ${n} segment(s)`);
      }
    }
    if (this.settings.maxTotalBytes > 0) {
      let total = [...this.stores.values()].reduce((t, s) => t + s.bytes, 0);
      while (total > this.settings.maxTotalBytes) {
        const freed = this.dropGlobalOldest();
        if (!freed) break;
        total -= freed;
      }
    }
    this.diskFreeBytes().then((free) => {
      this.diskFree = free;
      while (this.settings.minFreeBytes > 0 && free < this.settings.minFreeBytes) {
        const freed = this.dropGlobalOldest();
        if (!freed) break;
        free += freed;
      }
    }, () => {});
  }

  /** Free bytes on the archive's file system (replaceable in tests). */
  diskFreeBytes = async (): Promise<number> => {
    const f = await statfs(this.settings.dir);
    return f.bavail * f.bsize;
  };

  /** Removes the oldest segment of any device; the bytes it freed (0: nothing left). */
  private dropGlobalOldest(): number {
    let oldest: [string, DeviceStore] | null = null;
    for (const e of this.stores) if (e[1].segments.length && (!oldest || e[1].oldestMs! < oldest[1].oldestMs!)) oldest = e;
    if (!oldest) return 0;
    const before = oldest[1].bytes;
    let one = 1;
    oldest[1].dropOldest(() => one-- > 0);
    this.counter(oldest[0]).deleted++;
    return before - oldest[1].bytes;
  }

  /** Recorded ranges overlapping [fromMs, toMs): segments closer than GAP_TOLERANCE_MS merged. */
  timeline(id: string, fromMs: number, toMs: number): { from: number; to: number }[] {
    const store = this.store(id);
    if (!store) return [];
    const out: { from: number; to: number }[] = [];
    for (const s of store.overlapping(fromMs, toMs)) {
      const last = out[out.length - 1];
      const end = s.startMs + s.durationMs;
      if (last && s.startMs - last.to <= GAP_TOLERANCE_MS) last.to = Math.max(last.to, end);
      else out.push({ from: s.startMs, to: end });
    }
    return out;
  }

  private registerMetrics(metrics: Metrics): void {
    const per = (f: (id: string, s: DeviceStore) => number) => () => [...this.stores].map(([id, s]) => [[id], f(id, s)] as const);
    metrics.family("flussonic_archive_bytes", "bytes of finished segments on disk", "gauge", ["device"], per((_, s) => s.bytes));
    metrics.family("flussonic_archive_segments", "finished segments on disk", "gauge", ["device"], per((_, s) => s.segments.length));
    metrics.family("flussonic_archive_oldest_seconds", "start of the oldest recorded segment (Unix time)", "gauge", ["device"], per((_, s) => (s.oldestMs ?? 0) / 1000));
    metrics.family("flussonic_archive_newest_seconds", "end of the newest finished segment (Unix time)", "gauge", ["device"], per((_, s) => (s.newestMs ?? 0) / 1000));
    metrics.family("flussonic_archive_segments_written_total", "segments finished since the streamer started", "counter", ["device"], per((id) => this.counter(id).written));
    metrics.family("flussonic_archive_write_errors_total", "failed segment writes (disk full, I/O errors)", "counter", ["device"],
      per((id) => this.counter(id).writeErrors + (this.attached.get(id)?.rec.writeErrors ?? 0)));
    metrics.family("flussonic_archive_deleted_total", "segments removed by retention", "counter", ["device"], per((id) => this.counter(id).deleted));
    metrics.family("flussonic_archive_state", "recording state: waiting (device offline), recording, disk_full, write_error, unsupported, off_schedule, off", "gauge",
      ["device", "state"], () => [...new Set([...this.stores.keys(), ...this.recordingIds()])].map((id) => [[id, this.stateOf(id)], 1] as const));
    metrics.gauge("flussonic_archive_disk_free_bytes", "free bytes on the archive's file system (checked every 5 s)", () => this.diskFree);
  }

  async close(): Promise<void> {
    for (const t of this.timers) clearInterval(t);
    const all = [...this.attached.values()];
    this.attached.clear();
    for (const a of all) a.src.detach(a.sv);
    const segs = all.filter((a) => a.rec.writing).length;
    await Promise.all(all.map((a) => a.rec.stop()));
    for (const a of all) a.release();
    if (all.length) this.log("info", `archive: recording stopped, ${segs} segment(s) under way closed`);
  }
}

function validId(id: string): boolean {
  return /^[A-Za-z0-9._-]{1,64}$/.test(id) && id !== "." && id !== "..";
}
