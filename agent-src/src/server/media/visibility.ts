/**
 * Per-source visibility: GET /api/devices gets `sources` per device, and /metrics labelled
 * families per (device, path) — viewers, bytes in from the camera (RTSP bytes through the
 * tunnel), bytes out to viewers, GOP cache size, time to start, reconnects. Read from live state
 * at request time; a closed source's series disappear with it.
 */

import type { Registry } from "../link/registry";
import type { Metrics, Sample } from "../metrics";
import type { Source } from "./source";
import type { Sources } from "./sources";

export function sourceVisibility(registry: Registry, metrics: Metrics, sources: Sources): void {
  registry.addDeviceInfo("sources", (id) => sources.entries().filter((e) => e.deviceId === id).map(({ path, source: s }) => ({
    path,
    playing: s.isPlaying,
    viewers: s.viewerCount,
    bytes_in: s.bytesIn,
    bytes_out: s.bytesOut,
    gop_cache_bytes: s.cache.bytes,
    time_to_start_ms: s.startMs,
    reconnects: s.reconnects,
    opened_at: new Date(s.openedAt).toISOString(),
  })));
  const fam = (name: string, help: string, type: "counter" | "gauge", value: (s: Source) => number | null) =>
    metrics.family(name, help, type, ["device", "path"], () => {
      const rows: Sample[] = [];
      for (const e of sources.entries()) {
        const v = value(e.source);
        if (v !== null) rows.push([[e.deviceId, e.path], v]);
      }
      return rows;
    });
  fam("flussonic_source_viewers", "viewers playing from the shared source", "gauge", (s) => s.viewerCount);
  fam("flussonic_source_bytes_in_total", "bytes from the camera for this source (its RTSP session through the tunnel)", "counter", (s) => s.bytesIn);
  fam("flussonic_source_bytes_out_total", "bytes sent to the source's viewers (TCP interleaved frames and UDP payloads)", "counter", (s) => s.bytesOut);
  fam("flussonic_source_gop_cache_bytes", "bytes in the source's GOP cache", "gauge", (s) => s.cache.bytes);
  fam("flussonic_source_time_to_start_seconds", "from opening the source to the camera playing", "gauge", (s) => (s.startMs === null ? null : s.startMs / 1000));
  fam("flussonic_source_reconnects_total", "camera sessions re-established after a loss", "counter", (s) => s.reconnects);
}
