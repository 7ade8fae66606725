/**
 * Agent configuration: parsed and validated once at start. Any problem is reported as one
 * ConfigError naming the field, and the CLI exits with code 2.
 */

import { ConfigError, parseHostPort, type HostPort } from "../common/config-fields";
import type { LogLevel } from "../platform/platform";

export interface AgentConfig {
  endpoints: HostPort[];
  caPem?: string;
  spkiPins: string[];
  serverName?: string;
  activationTokenFile?: string;
  stateFile: string;
  /** The ONLY places the server can make the agent connect to. */
  targets: Map<string, HostPort>;
  snapshotPath: string;
  audioPath: string;
  logLevel: LogLevel;
  reconnect: { baseMs: number; capMs: number; stableMs: number };
  keepalive: { pingIntervalMs: number; idleTimeoutMs: number };
  /** Consecutive failures at the cached streamer before going back to the endpoints. */
  streamerFailures: number;
  connectTimeoutMs: number;
}

export const DEFAULTS = {
  stateFile: "/var/lib/flussonic-agent/state.json",
  targets: { rtsp: "127.0.0.1:554", http: "127.0.0.1:80" },
  snapshotPath: "/image.jpg",
  audioPath: "/play_audio",
  reconnect: { base_ms: 1000, cap_ms: 15_000, stable_ms: 60_000 },
  keepalive: { ping_interval_ms: 15_000, idle_timeout_ms: 35_000 },
  streamerFailures: 3,
  connectTimeoutMs: 10_000,
};

const KNOWN = new Set([
  "endpoints", "ca_file", "spki_pins", "server_name", "activation_token_file", "state_file", "targets",
  "snapshot_path", "audio_path", "log_level", "reconnect", "keepalive", "streamer_failures", "connect_timeout_ms",
]);

/**
 * @param json the config file's text
 * @param readText reads a file referenced by the config (CA), or throws
 */
export function parseAgentConfig(json: string, readText: (path: string) => string): AgentConfig {
  let raw: unknown;
  try {
    raw = JSON.parse(json);
  } catch (e) {
    throw new ConfigError("(file)", `not valid JSON: ${(e as Error).message}`);
  }
  if (typeof raw !== "object" || raw === null || Array.isArray(raw)) throw new ConfigError("(file)", "expected a JSON object");
  const c = raw as Record<string, unknown>;
  for (const k of Object.keys(c)) if (!KNOWN.has(k)) throw new ConfigError(k, "unknown field");

  if (!Array.isArray(c.endpoints) || c.endpoints.length === 0) throw new ConfigError("endpoints", "expected a non-empty list of \"host:port\"");
  const endpoints = c.endpoints.map((e, i) => parseHostPort(e, `endpoints[${i}]`));

  const spkiPins = optList(c.spki_pins, "spki_pins").map((p, i) => {
    if (!/^[A-Za-z0-9+/]{43}=$/.test(p)) throw new ConfigError(`spki_pins[${i}]`, "expected base64 SHA-256 (44 characters)");
    return p;
  });
  let caPem: string | undefined;
  if (c.ca_file !== undefined) {
    const f = str(c.ca_file, "ca_file");
    try {
      caPem = readText(f);
    } catch (e) {
      throw new ConfigError("ca_file", `cannot read ${f}: ${(e as Error).message}`);
    }
    if (!caPem.includes("-----BEGIN CERTIFICATE-----")) throw new ConfigError("ca_file", `${f} holds no PEM certificate`);
  }
  if (!caPem && spkiPins.length === 0) throw new ConfigError("ca_file", "set ca_file or spki_pins: the agent never talks to an unverified server");

  const targets = new Map<string, HostPort>();
  const rawTargets = c.targets === undefined ? DEFAULTS.targets : c.targets;
  if (typeof rawTargets !== "object" || rawTargets === null || Array.isArray(rawTargets)) throw new ConfigError("targets", "expected an object name → \"host:port\"");
  for (const [name, addr] of Object.entries(rawTargets)) {
    if (!/^[a-z][a-z0-9_-]{0,31}$/.test(name)) throw new ConfigError(`targets.${name}`, "target names are lowercase identifiers");
    targets.set(name, parseHostPort(addr, `targets.${name}`));
  }

  const level = c.log_level ?? "info";
  if (level !== "debug" && level !== "info" && level !== "warn" && level !== "error") throw new ConfigError("log_level", "one of debug, info, warn, error");

  const rc = obj(c.reconnect, "reconnect", DEFAULTS.reconnect);
  const ka = obj(c.keepalive, "keepalive", DEFAULTS.keepalive);
  const reconnect = {
    baseMs: int(rc.base_ms ?? DEFAULTS.reconnect.base_ms, "reconnect.base_ms", 10, 3_600_000),
    capMs: int(rc.cap_ms ?? DEFAULTS.reconnect.cap_ms, "reconnect.cap_ms", 10, 86_400_000),
    stableMs: int(rc.stable_ms ?? DEFAULTS.reconnect.stable_ms, "reconnect.stable_ms", 0, 86_400_000),
  };
  if (reconnect.capMs < reconnect.baseMs) throw new ConfigError("reconnect.cap_ms", "must be ≥ reconnect.base_ms");
  const keepalive = {
    pingIntervalMs: int(ka.ping_interval_ms ?? DEFAULTS.keepalive.ping_interval_ms, "keepalive.ping_interval_ms", 50, 600_000),
    idleTimeoutMs: int(ka.idle_timeout_ms ?? DEFAULTS.keepalive.idle_timeout_ms, "keepalive.idle_timeout_ms", 100, 3_600_000),
  };
  if (keepalive.idleTimeoutMs <= keepalive.pingIntervalMs) throw new ConfigError("keepalive.idle_timeout_ms", "must exceed keepalive.ping_interval_ms");

  return {
    endpoints,
    caPem,
    spkiPins,
    serverName: c.server_name === undefined ? undefined : str(c.server_name, "server_name"),
    activationTokenFile: c.activation_token_file === undefined ? undefined : str(c.activation_token_file, "activation_token_file"),
    stateFile: c.state_file === undefined ? DEFAULTS.stateFile : str(c.state_file, "state_file"),
    targets,
    snapshotPath: path(c.snapshot_path ?? DEFAULTS.snapshotPath, "snapshot_path"),
    audioPath: path(c.audio_path ?? DEFAULTS.audioPath, "audio_path"),
    logLevel: level,
    reconnect,
    keepalive,
    streamerFailures: int(c.streamer_failures ?? DEFAULTS.streamerFailures, "streamer_failures", 1, 100),
    connectTimeoutMs: int(c.connect_timeout_ms ?? DEFAULTS.connectTimeoutMs, "connect_timeout_ms", 100, 120_000),
  };
}

function str(v: unknown, field: string): string {
  if (typeof v !== "string" || v.length === 0) throw new ConfigError(field, "expected a non-empty string");
  return v;
}

function path(v: unknown, field: string): string {
  const s = str(v, field);
  if (!/^\/[\x21-\x7e]*$/.test(s)) throw new ConfigError(field, "expected an absolute URL path like /image.jpg");
  return s;
}

function optList(v: unknown, field: string): string[] {
  if (v === undefined) return [];
  if (!Array.isArray(v) || !v.every((x) => typeof x === "string")) throw new ConfigError(field, "expected a list of strings");
  return v as string[];
}

function obj(v: unknown, field: string, dflt: object): Record<string, unknown> {
  if (v === undefined) return dflt as Record<string, unknown>;
  if (typeof v !== "object" || v === null || Array.isArray(v)) throw new ConfigError(field, "expected an object");
  return v as Record<string, unknown>;
}

function int(v: unknown, field: string, min: number, max: number): number {
  if (typeof v !== "number" || !Number.isInteger(v) || v < min || v > max) throw new ConfigError(field, `expected an integer in [${min}, ${max}]`);
  return v;
}
