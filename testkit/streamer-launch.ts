// Start one flussonic-streamer process (endpoint role, streamer role or both) on 127.0.0.1: write its
// state dir and config, run `node streamer.cjs --config F`, wait for its ready line. Shared by the
// integration harness (system.ts) and the emulated-camera servers (qemu-tests/lib/servers.ts).
// No vitest import: `make demo` runs the QEMU code with plain Node.
import { mkdirSync, mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { freePort, startProc, type Proc } from "./procs";

export interface ServerPorts {
  endpoint: number;
  streamer: number;
  rtsp: number;
  http: number;
  admin: number;
}

/** Ports for one streamer process. */
export async function serverPorts(): Promise<ServerPorts> {
  return { endpoint: await freePort(), streamer: await freePort(), rtsp: await freePort(), http: await freePort(), admin: await freePort() };
}

export interface StreamerLaunch {
  /** build/bundle/streamer.cjs; given by the caller, since a bundled tool has no stable import.meta.url. */
  script: string;
  roles: ("endpoint" | "streamer")[];
  pki: { certFile: string; keyFile: string };
  ports: ServerPorts;
  /** Streamers the endpoint redirects to (host:port); default: this process's own streamer port. */
  streamers?: string[];
  tokens?: string[];
  /** State dir (reused across restarts); default: a new temporary one. */
  dir?: string;
  admission?: { rate: number; burst: number; retry_ms: number };
  keepalive?: { ping_interval_ms: number; idle_timeout_ms: number };
  /** The config's "limits" section (snake_case keys, see server/limits.ts). */
  limits?: Record<string, number>;
  /** More keys for the config's "streamer" section, e.g. { snapshot_max_age_ms: 0 }. */
  streamerSettings?: Record<string, unknown>;
  secret: string;
  viewers: { name: string; password: string }[];
  logLevel: "debug" | "info";
  name: string;
  readyTimeoutMs: number;
}

export interface LaunchedStreamer {
  proc: Proc;
  dir: string;
  configFile: string;
}

function streamerConfig(o: StreamerLaunch): Record<string, unknown> {
  const p = o.ports;
  const cfg: Record<string, unknown> = {
    tls: { cert_file: o.pki.certFile, key_file: o.pki.keyFile },
    cluster_secret_file: "secret",
    state_dir: "state",
    log_level: o.logLevel,
    admin_listen: `127.0.0.1:${p.admin}`,
  };
  if (o.keepalive) cfg.keepalive = o.keepalive;
  if (o.limits) cfg.limits = o.limits;
  const admission = o.admission ? { admission: o.admission } : {};
  if (o.roles.includes("endpoint")) {
    cfg.endpoint = {
      listen: `127.0.0.1:${p.endpoint}`, tokens_file: "tokens", streamers: o.streamers ?? [`127.0.0.1:${p.streamer}`], ...admission,
    };
  }
  if (o.roles.includes("streamer")) {
    cfg.streamer = {
      listen: `127.0.0.1:${p.streamer}`, rtsp_listen: `127.0.0.1:${p.rtsp}`, http_listen: `127.0.0.1:${p.http}`,
      viewers: o.viewers, ...admission, ...o.streamerSettings,
    };
  }
  return cfg;
}

export async function launchStreamer(o: StreamerLaunch): Promise<LaunchedStreamer> {
  const dir = o.dir ?? mkdtempSync(join(tmpdir(), "fa-streamer-"));
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, "secret"), o.secret + "\n");
  writeFileSync(join(dir, "tokens"), (o.tokens ?? []).join("\n") + "\n");
  const configFile = join(dir, "streamer.json");
  writeFileSync(configFile, JSON.stringify(streamerConfig(o), null, 1));
  const proc = await startProc(process.execPath, [o.script, "--config", configFile], {
    ready: /flussonic-streamer .* ready/, timeoutMs: o.readyTimeoutMs, name: o.name,
  });
  return { proc, dir, configFile };
}
