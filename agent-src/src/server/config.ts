/**
 * flussonic-streamer configuration. A section per role: `endpoint`, `streamer` or both.
 * Validation names the bad field; the CLI exits 2 on any error.
 */

import { readFileSync } from "node:fs";
import { dirname, resolve } from "node:path";
import { ConfigError, formatHostPort, parseHostPort, type HostPort } from "../common/config-fields";
import type { LogLevel } from "../platform/platform";
import { DEFAULT_LIMITS, LIMIT_KEYS, type Limits } from "./limits";
import { DEFAULT_MEDIA, type MediaSettings } from "../server/media/sources";
import type { ArchiveDeviceSettings, ArchiveSettings } from "./record/archive";
import { parseWindow, type ScheduleWindow } from "./record/schedule";

export { ConfigError };

export interface Admission {
  /** New agent links admitted per second (token bucket refill). */
  rate: number;
  burst: number;
  /** Agents turned away are told to come back after this, ±50 % jitter. */
  retryMs: number;
}

export interface Viewer {
  name: string;
  password: string;
  /** Device ids this viewer may watch; "*" for all. */
  devices: string[];
  /** Web console: may disconnect and move the devices it sees (the admin API's actions). */
  admin?: boolean;
}

export interface StreamerConfig {
  certPem: string;
  keyPem: string;
  /** Derives every device's key: key = HMAC-SHA256(secret, "device-key\n" + id). */
  clusterSecret: Buffer;
  stateDir: string;
  logLevel: LogLevel;
  keepalive: { pingIntervalMs: number; idleTimeoutMs: number };
  /** Limits and timeouts of every listener (limits.ts; docs/server.md has the table). */
  limits: Limits;
  admin: HostPort | null;
  endpoint: null | {
    listen: HostPort;
    tokensFile: string;
    streamers: string[];
    endpoints: string[];
    admission: Admission;
  };
  streamer: null | {
    listen: HostPort;
    /** How agents reach this streamer (what endpoints REDIRECT to, and MOVE targets). */
    advertise: string;
    rtspListen: HostPort;
    httpListen: HostPort;
    admission: Admission;
    viewers: Viewer[];
    /** Signs per-device viewer URL tokens (?token=EXPIRY.MAC). */
    viewerTokenSecret: Buffer;
    /** GET snapshot.jpg is served from a per-device cache at most this old; 0 turns the cache off. */
    snapshotMaxAgeMs: number;
    /** Shared sources: on-demand life, GOP cache, per-viewer queue (docs/server.md "Media"). */
    media: MediaSettings;
    /** Camera path the web console's device list opens in the player. */
    webDefaultPath: string;
    /** Recording (docs/server.md "Recording"); null: nothing is recorded and no archive is served. */
    archive: ArchiveSettings | null;
  };
}

const TOP = new Set(["tls", "cluster_secret_file", "state_dir", "log_level", "keepalive", "limits", "admin_listen", "endpoint", "streamer"]);

export function loadStreamerConfig(path: string): StreamerConfig {
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (e) {
    throw new ConfigError("(file)", `cannot read ${path}: ${(e as Error).message}`);
  }
  return parseStreamerConfig(text, dirname(resolve(path)));
}

export function parseStreamerConfig(text: string, baseDir: string): StreamerConfig {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (e) {
    throw new ConfigError("(file)", `not valid JSON: ${(e as Error).message}`);
  }
  const c = obj(raw, "(file)");
  for (const k of Object.keys(c)) if (!TOP.has(k)) throw new ConfigError(k, "unknown field");
  const file = (v: unknown, field: string): string => resolve(baseDir, str(v, field));
  const read = (v: unknown, field: string): string => {
    const f = file(v, field);
    try {
      return readFileSync(f, "utf8");
    } catch (e) {
      throw new ConfigError(field, `cannot read ${f}: ${(e as Error).message}`);
    }
  };

  const tls = obj(c.tls, "tls");
  const certPem = read(tls.cert_file, "tls.cert_file");
  const keyPem = read(tls.key_file, "tls.key_file");
  if (!certPem.includes("BEGIN CERTIFICATE")) throw new ConfigError("tls.cert_file", "holds no PEM certificate");
  if (!keyPem.includes("PRIVATE KEY")) throw new ConfigError("tls.key_file", "holds no PEM private key");
  const secretText = read(c.cluster_secret_file, "cluster_secret_file").trim();
  if (secretText.length < 32) throw new ConfigError("cluster_secret_file", "secret must be at least 32 characters");

  const level = c.log_level ?? "info";
  if (level !== "debug" && level !== "info" && level !== "warn" && level !== "error") throw new ConfigError("log_level", "one of debug, info, warn, error");
  const ka = c.keepalive === undefined ? {} : obj(c.keepalive, "keepalive");
  const keepalive = {
    pingIntervalMs: int(ka.ping_interval_ms ?? 15_000, "keepalive.ping_interval_ms", 50, 600_000),
    idleTimeoutMs: int(ka.idle_timeout_ms ?? 35_000, "keepalive.idle_timeout_ms", 100, 3_600_000),
  };

  let endpoint: StreamerConfig["endpoint"] = null;
  if (c.endpoint !== undefined) {
    const e = obj(c.endpoint, "endpoint");
    const streamers = list(e.streamers, "endpoint.streamers");
    streamers.forEach((s, i) => parseHostPort(s, `endpoint.streamers[${i}]`));
    if (!streamers.length) throw new ConfigError("endpoint.streamers", "at least one streamer");
    const listen = parseHostPort(e.listen ?? "0.0.0.0:7443", "endpoint.listen");
    const endpoints = e.endpoints === undefined ? [formatHostPort(listen)] : list(e.endpoints, "endpoint.endpoints");
    endpoints.forEach((s, i) => parseHostPort(s, `endpoint.endpoints[${i}]`));
    endpoint = {
      listen,
      tokensFile: file(e.tokens_file, "endpoint.tokens_file"),
      streamers,
      endpoints,
      admission: admission(e.admission, "endpoint.admission"),
    };
  }

  let streamer: StreamerConfig["streamer"] = null;
  if (c.streamer !== undefined) {
    const s = obj(c.streamer, "streamer");
    const listen = parseHostPort(s.listen ?? "0.0.0.0:7444", "streamer.listen");
    const advertise = str(s.advertise ?? formatHostPort(listen), "streamer.advertise");
    parseHostPort(advertise, "streamer.advertise");
    const viewers = (s.viewers === undefined ? [] : arr(s.viewers, "streamer.viewers")).map((v, i) => {
      const o = obj(v, `streamer.viewers[${i}]`);
      return {
        name: str(o.name, `streamer.viewers[${i}].name`),
        password: str(o.password, `streamer.viewers[${i}].password`),
        devices: o.devices === undefined ? ["*"] : list(o.devices, `streamer.viewers[${i}].devices`),
        admin: o.admin === undefined ? false : bool(o.admin, `streamer.viewers[${i}].admin`),
      };
    });
    const vts = s.viewer_token_secret_file === undefined ? secretText + "\nviewer-token" : read(s.viewer_token_secret_file, "streamer.viewer_token_secret_file").trim();
    streamer = {
      listen,
      advertise,
      rtspListen: parseHostPort(s.rtsp_listen ?? "0.0.0.0:8554", "streamer.rtsp_listen"),
      httpListen: parseHostPort(s.http_listen ?? "0.0.0.0:8080", "streamer.http_listen"),
      admission: admission(s.admission, "streamer.admission"),
      viewers,
      viewerTokenSecret: Buffer.from(vts),
      snapshotMaxAgeMs: int(s.snapshot_max_age_ms ?? 2000, "streamer.snapshot_max_age_ms", 0, 3_600_000),
      media: media(s.media),
      webDefaultPath: str(s.web_default_path ?? "/stream1", "streamer.web_default_path"),
      archive: null,
    };
    if (!/^(\/[A-Za-z0-9._~-]+)+$/.test(streamer.webDefaultPath) || streamer.webDefaultPath.includes("/..")) {
      throw new ConfigError("streamer.web_default_path", "a camera path like /stream1 (letters, digits, . _ ~ -)");
    }
  }
  if (streamer && c.streamer && (c.streamer as Record<string, unknown>).archive !== undefined) {
    streamer.archive = archive((c.streamer as Record<string, unknown>).archive, baseDir, streamer.webDefaultPath);
  }
  if (!endpoint && !streamer) throw new ConfigError("endpoint", "configure an endpoint section, a streamer section, or both");

  return {
    certPem, keyPem,
    clusterSecret: Buffer.from(secretText),
    stateDir: file(c.state_dir ?? ".", "state_dir"),
    logLevel: level,
    keepalive,
    limits: limits(c.limits),
    // Admin API and metrics stay on loopback unless the operator says otherwise.
    admin: c.admin_listen === null ? null : parseHostPort(c.admin_listen ?? "127.0.0.1:8081", "admin_listen"),
    endpoint,
    streamer,
  };
}

function limits(v: unknown): Limits {
  const l = v === undefined ? {} : obj(v, "limits");
  const out: Limits = { ...DEFAULT_LIMITS };
  for (const [k, val] of Object.entries(l)) {
    const spec = LIMIT_KEYS[k];
    if (!spec) throw new ConfigError(`limits.${k}`, "unknown field");
    out[spec[0]] = int(val, `limits.${k}`, spec[1], spec[2]);
  }
  return out;
}

function media(v: unknown): MediaSettings {
  const m = v === undefined ? {} : obj(v, "streamer.media");
  const known = ["close_after_ms", "source_timeout_ms", "gop_cache_bytes", "viewer_queue_bytes", "viewer_max_skips", "always_on", "udp_ports"];
  for (const k of Object.keys(m)) if (!known.includes(k)) throw new ConfigError(`streamer.media.${k}`, "unknown field");
  const d = DEFAULT_MEDIA;
  const alwaysOn: Record<string, string[]> = {};
  const ao = m.always_on === undefined ? {} : obj(m.always_on, "streamer.media.always_on");
  for (const [id, paths] of Object.entries(ao)) {
    const field = `streamer.media.always_on.${id}`;
    if (!/^[A-Za-z0-9._-]{1,64}$/.test(id)) throw new ConfigError(field, "not a device id");
    alwaysOn[id] = list(paths, field);
    for (const p of alwaysOn[id]) if (!p.startsWith("/")) throw new ConfigError(field, `camera path "${p}" must start with /`);
  }
  return {
    closeAfterMs: int(m.close_after_ms ?? d.closeAfterMs, "streamer.media.close_after_ms", 0, 3_600_000),
    sourceTimeoutMs: int(m.source_timeout_ms ?? d.sourceTimeoutMs, "streamer.media.source_timeout_ms", 100, 3_600_000),
    gopCacheBytes: int(m.gop_cache_bytes ?? d.gopCacheBytes, "streamer.media.gop_cache_bytes", 0, 256 * 1024 * 1024),
    viewerQueueBytes: int(m.viewer_queue_bytes ?? d.viewerQueueBytes, "streamer.media.viewer_queue_bytes", 64 * 1024, 256 * 1024 * 1024),
    viewerMaxSkips: int(m.viewer_max_skips ?? d.viewerMaxSkips, "streamer.media.viewer_max_skips", 1, 1000),
    alwaysOn,
    udpPorts: m.udp_ports === undefined ? d.udpPorts : udpPorts(m.udp_ports, "streamer.media.udp_ports"),
  };
}

function archive(v: unknown, baseDir: string, defaultPath: string): ArchiveSettings {
  const a = obj(v, "streamer.archive");
  for (const k of Object.keys(a)) if (!["dir", "segment_s", "max_total_bytes", "min_free_bytes", "devices"].includes(k)) throw new ConfigError(`streamer.archive.${k}`, "unknown field");
  const devices: Record<string, ArchiveDeviceSettings> = {};
  for (const [id, d] of Object.entries(a.devices === undefined ? {} : obj(a.devices, "streamer.archive.devices"))) {
    const field = `streamer.archive.devices.${id}`;
    if (id !== "*" && (!/^[A-Za-z0-9._-]{1,64}$/.test(id) || id === "." || id === "..")) throw new ConfigError(field, "not a device id (or \"*\" for every device)");
    const o = obj(d, field);
    for (const k of Object.keys(o)) if (!["record", "path", "max_age_days", "max_bytes", "schedule"].includes(k)) throw new ConfigError(`${field}.${k}`, "unknown field");
    const record = o.record ?? "continuous";
    if (record !== "continuous" && record !== "off") throw new ConfigError(`${field}.record`, "one of continuous, off");
    const path = str(o.path ?? defaultPath, `${field}.path`);
    if (!path.startsWith("/")) throw new ConfigError(`${field}.path`, "a camera path starting with /");
    devices[id] = {
      record, path,
      maxAgeMs: Math.round(num(o.max_age_days ?? 0, `${field}.max_age_days`, 0, 36_500) * 86_400_000),
      maxBytes: num(o.max_bytes ?? 0, `${field}.max_bytes`, 0, 2 ** 53),
      ...(o.schedule === undefined ? {} : { schedule: schedule(o.schedule, `${field}.schedule`) }),
    };
  }
  return {
    dir: resolve(baseDir, str(a.dir ?? "archive", "streamer.archive.dir")),
    segmentMs: Math.round(num(a.segment_s ?? 10, "streamer.archive.segment_s", 1, 600) * 1000),
    maxTotalBytes: num(a.max_total_bytes ?? 0, "streamer.archive.max_total_bytes", 0, 2 ** 53),
    minFreeBytes: num(a.min_free_bytes ?? 0, "streamer.archive.min_free_bytes", 0, 2 ** 53),
    devices,
  };
}

function schedule(v: unknown, field: string): ScheduleWindow[] {
  if (!Array.isArray(v) || !v.length || v.length > 64) throw new ConfigError(field, 'expected a list of 1–64 windows, e.g. ["mon-fri 08:00-18:00"]');
  return v.map((w, i) => {
    if (typeof w !== "string") throw new ConfigError(`${field}[${i}]`, 'expected a string like "mon-fri 08:00-18:00"');
    try {
      return parseWindow(w);
    } catch (e) {
      throw new ConfigError(`${field}[${i}]`, (e as Error).message);
    }
  });
}

/** "30000-39999" (at least one even/odd pair inside), or null for no UDP. */
export function udpPorts(v: unknown, field: string): { first: number; last: number } | null {
  if (v === null) return null;
  const m = typeof v === "string" ? /^(\d{1,5})-(\d{1,5})$/.exec(v.trim()) : null;
  if (!m) throw new ConfigError(field, 'expected "FIRST-LAST" (e.g. "30000-39999") or null');
  const first = Number(m[1]), last = Number(m[2]);
  if (first < 1024 || last > 65535 || last < first) throw new ConfigError(field, "expected ports in [1024, 65535], first ≤ last");
  if (Math.floor((last - (first + (first % 2)) + 1) / 2) < 1) throw new ConfigError(field, "the range must hold an even port and the next one");
  return { first, last };
}

function admission(v: unknown, field: string): Admission {
  const a = v === undefined ? {} : obj(v, field);
  return {
    rate: num(a.rate ?? 200, `${field}.rate`, 0.01, 1e6),
    burst: int(a.burst ?? 400, `${field}.burst`, 1, 1e7),
    retryMs: int(a.retry_ms ?? 5000, `${field}.retry_ms`, 10, 3_600_000),
  };
}

function obj(v: unknown, field: string): Record<string, unknown> {
  if (typeof v !== "object" || v === null || Array.isArray(v)) throw new ConfigError(field, "expected an object");
  return v as Record<string, unknown>;
}
function arr(v: unknown, field: string): unknown[] {
  if (!Array.isArray(v)) throw new ConfigError(field, "expected a list");
  return v;
}
function list(v: unknown, field: string): string[] {
  const a = arr(v, field);
  if (!a.every((x) => typeof x === "string" && x.length > 0)) throw new ConfigError(field, "expected a list of strings");
  return a as string[];
}
function bool(v: unknown, field: string): boolean {
  if (typeof v !== "boolean") throw new ConfigError(field, "expected true or false");
  return v;
}
function str(v: unknown, field: string): string {
  if (typeof v !== "string" || !v) throw new ConfigError(field, "expected a non-empty string");
  return v;
}
function num(v: unknown, field: string, min: number, max: number): number {
  if (typeof v !== "number" || !(v >= min && v <= max)) throw new ConfigError(field, `expected a number in [${min}, ${max}]`);
  return v;
}
function int(v: unknown, field: string, min: number, max: number): number {
  if (!Number.isInteger(v)) throw new ConfigError(field, `expected an integer in [${min}, ${max}]`);
  return num(v, field, min, max);
}
