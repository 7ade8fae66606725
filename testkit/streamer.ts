// The test kit's one streamer launcher: a flussonic-streamer process (endpoint role, streamer role or
// both) on 127.0.0.1 for the integration tests, qemu-tests, the bench and `make demo`. It writes the
// state folder (config, cluster secret, tokens), runs `node streamer.cjs --config F` there and waits
// for the ready line. The folder is a tempDir() unless given, so cleanup() removes it.
//
//   const s = await startStreamer({ roles: ["endpoint", "streamer"], pki, tokens: ["tok-a"] });
//   s.rtspUrl(deviceId); await s.devices(); await startStreamer({ ...s.opts, dir: s.dir });  // restart
//
// No vitest import.
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { BUNDLE } from "./paths";
import { freePort, startProc, tempDir, type Proc } from "./procs";

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

/** The one viewer account and cluster secret of every streamer the kit starts. */
export const VIEWER = { name: "viewer", password: "s3cret-viewer" };
export const SECRET = "test-cluster-secret-0123456789-abcdefghijklmnop";

export interface StreamerOptions {
  roles: ("endpoint" | "streamer")[];
  pki: { certFile: string; keyFile: string };
  /** Default: fresh ones from serverPorts(). */
  ports?: ServerPorts;
  /** Streamers the endpoint redirects to (host:port, as the agent sees them); default: this process's own streamer port. */
  streamers?: string[];
  tokens?: string[];
  /** State folder, reused across restarts; default: a new tempDir(). */
  dir?: string;
  admission?: { rate: number; burst: number; retry_ms: number };
  keepalive?: { ping_interval_ms: number; idle_timeout_ms: number };
  /** The config's "limits" section (snake_case keys, see server/limits.ts). */
  limits?: Record<string, number>;
  /** More keys for the config's "streamer" section, e.g. { snapshot_max_age_ms: 0 }. */
  streamerSettings?: Record<string, unknown>;
  /** Default "debug". "info" for a flood or a measurement: a debug line per connection is a load of its own. */
  logLevel?: "debug" | "info";
  /** Label in errors and logs; default "streamer(endpoint+streamer)" and the like. */
  name?: string;
  /** How long to wait for the ready line (default 15 s). */
  readyTimeoutMs?: number;
  /** Node flags before the script, e.g. --cpu-prof (written to the state folder, the process's cwd). */
  nodeArgs?: string[];
  /** Script to run; default build/bundle/streamer.cjs. */
  script?: string;
  /** A command the node process runs under, e.g. ["unshare", "-m", …]: it must exec its arguments. */
  wrap?: string[];
}

export interface StreamerProc {
  proc: Proc;
  dir: string;
  ports: ServerPorts;
  configFile: string;
  /** What it was started with: startStreamer({ ...s.opts, dir: s.dir }) starts it again on the same state. */
  opts: StreamerOptions;
  rtspUrl(deviceId: string, path?: string, creds?: boolean): string;
  httpUrl(deviceId: string, what: string): string;
  /** GET /api/devices on the admin port; with timeoutMs, give up after that long. */
  devices(timeoutMs?: number): Promise<{ id: string; state: string; streams: number; bytes: number }[]>;
  /** GET /metrics on the admin port, as name → value. */
  metrics(): Promise<Record<string, number>>;
  onlineCount(): Promise<number>;
  /** Send a signal to the process group (default SIGKILL), without waiting. */
  kill(sig?: NodeJS.Signals): void;
  stop(): Promise<void>;
}

function streamerConfig(o: StreamerOptions, p: ServerPorts): Record<string, unknown> {
  const cfg: Record<string, unknown> = {
    tls: { cert_file: o.pki.certFile, key_file: o.pki.keyFile },
    cluster_secret_file: "secret",
    state_dir: "state",
    log_level: o.logLevel ?? "debug",
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
      viewers: [VIEWER], ...admission, ...o.streamerSettings,
    };
  }
  return cfg;
}

export async function startStreamer(o: StreamerOptions): Promise<StreamerProc> {
  const p = o.ports ?? (await serverPorts());
  const dir = o.dir ?? tempDir("fa-streamer-");
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, "secret"), SECRET + "\n");
  writeFileSync(join(dir, "tokens"), (o.tokens ?? []).join("\n") + "\n");
  const configFile = join(dir, "streamer.json");
  writeFileSync(configFile, JSON.stringify(streamerConfig(o, p), null, 1));
  const argv = [process.execPath, ...(o.nodeArgs ?? []), o.script ?? join(BUNDLE, "streamer.cjs"), "--config", configFile];
  const [cmd, ...args] = [...(o.wrap ?? []), ...argv];
  const proc = await startProc(cmd, args, {
    ready: /flussonic-streamer .* ready/, timeoutMs: o.readyTimeoutMs ?? 15_000, name: o.name ?? `streamer(${o.roles.join("+")})`, cwd: dir,
  });
  const admin = `http://127.0.0.1:${p.admin}`;
  const devices: StreamerProc["devices"] = async (timeoutMs) => {
    const r = await fetch(`${admin}/api/devices`, timeoutMs ? { signal: AbortSignal.timeout(timeoutMs) } : {});
    return ((await r.json()) as { devices: never[] }).devices;
  };
  return {
    proc, dir, ports: p, configFile, opts: o, devices,
    rtspUrl: (id, path = "stream1", creds = true) =>
      `rtsp://${creds ? `${VIEWER.name}:${VIEWER.password}@` : ""}127.0.0.1:${p.rtsp}/${id}/${path}`,
    httpUrl: (id, what) => `http://127.0.0.1:${p.http}/${id}/${what}`,
    metrics: async () => {
      const text = await (await fetch(`${admin}/metrics`)).text();
      const out: Record<string, number> = {};
      for (const l of text.split("\n")) {
        const m = /^([a-z_]+)\s+([0-9.e+-]+)$/.exec(l);
        if (m) out[m[1]] = Number(m[2]);
      }
      return out;
    },
    onlineCount: async () => (await devices()).filter((x) => x.state === "online").length,
    kill: (sig = "SIGKILL") => proc.signal(sig),
    stop: async () => void (await proc.stop()),
  };
}
