/**
 * flussonic-streamer processes for the emulated cameras (no vitest dependency, so `make demo`
 * uses the same code): writes a config, starts `node build/bundle/streamer.cjs --config F`,
 * waits for its ready line, and always kills it (process group) on stop or on exit.
 */
import { ChildProcess, spawn } from "node:child_process";
import { mkdirSync, mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { REPO } from "./paths.js";
import type { QemuPki } from "./pki.js";
import { freePort } from "./qemu.js";

export const VIEWER = { name: "viewer", password: "qemu-viewer-secret" };
const SECRET = "qemu-test-cluster-secret-0123456789-abcdefghijkl";
export const STREAMER_CJS = join(REPO, "build/bundle/streamer.cjs");

export interface ServerPorts {
  endpoint: number;
  streamer: number;
  rtsp: number;
  http: number;
  admin: number;
}

export async function serverPorts(): Promise<ServerPorts> {
  return { endpoint: await freePort(), streamer: await freePort(), rtsp: await freePort(), http: await freePort(), admin: await freePort() };
}

export interface ServerOptions {
  roles: ("endpoint" | "streamer")[];
  pki: QemuPki;
  ports: ServerPorts;
  /** What the endpoint redirects agents to (as the agent sees it). */
  streamers?: string[];
  tokens?: string[];
  dir?: string;
  keepalive?: { ping_interval_ms: number; idle_timeout_ms: number };
  name: string;
}

const live = new Set<ChildProcess>();
process.once("exit", () => {
  for (const c of live) {
    try {
      process.kill(-c.pid!, "SIGKILL");
    } catch {
      /* gone */
    }
  }
});

export class Server {
  output = "";
  exited: Promise<void>;
  constructor(readonly proc: ChildProcess, readonly opts: ServerOptions, readonly dir: string) {
    this.exited = new Promise((r) => proc.once("exit", () => r()));
    const keep = (d: Buffer) => {
      this.output += d.toString();
      if (this.output.length > 400_000) this.output = this.output.slice(-200_000);
    };
    proc.stdout!.on("data", keep);
    proc.stderr!.on("data", keep);
  }
  get ports() {
    return this.opts.ports;
  }
  async devices(): Promise<{ id: string; state: string }[]> {
    const r = await fetch(`http://127.0.0.1:${this.opts.ports.admin}/api/devices`, { signal: AbortSignal.timeout(3000) });
    return ((await r.json()) as { devices: { id: string; state: string }[] }).devices;
  }
  kill(sig: NodeJS.Signals = "SIGKILL"): void {
    try {
      process.kill(-this.proc.pid!, sig);
    } catch {
      /* gone */
    }
  }
  async stop(): Promise<void> {
    if (this.proc.exitCode === null && this.proc.signalCode === null) {
      this.kill("SIGTERM");
      await Promise.race([this.exited, new Promise((r) => setTimeout(r, 3000))]);
      this.kill("SIGKILL");
      await Promise.race([this.exited, new Promise((r) => setTimeout(r, 3000))]);
    }
    live.delete(this.proc);
  }
}

export async function startServer(o: ServerOptions, readyTimeoutMs = 20_000): Promise<Server> {
  const dir = o.dir ?? mkdtempSync(join(tmpdir(), `qemu-${o.name}-`));
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, "secret"), SECRET + "\n");
  writeFileSync(join(dir, "tokens"), (o.tokens ?? []).join("\n") + "\n");
  const p = o.ports;
  const cfg: Record<string, unknown> = {
    tls: { cert_file: o.pki.certFile, key_file: o.pki.keyFile },
    cluster_secret_file: "secret",
    state_dir: "state",
    log_level: "info",
    admin_listen: `127.0.0.1:${p.admin}`,
    ...(o.keepalive ? { keepalive: o.keepalive } : {}),
  };
  if (o.roles.includes("endpoint"))
    cfg.endpoint = { listen: `127.0.0.1:${p.endpoint}`, tokens_file: "tokens", streamers: o.streamers ?? [`127.0.0.1:${p.streamer}`] };
  if (o.roles.includes("streamer"))
    cfg.streamer = { listen: `127.0.0.1:${p.streamer}`, rtsp_listen: `127.0.0.1:${p.rtsp}`, http_listen: `127.0.0.1:${p.http}`, viewers: [VIEWER] };
  const configFile = join(dir, "streamer.json");
  writeFileSync(configFile, JSON.stringify(cfg, null, 1));
  const proc = spawn(process.execPath, [STREAMER_CJS, "--config", configFile], { detached: true, stdio: ["ignore", "pipe", "pipe"] });
  live.add(proc);
  const s = new Server(proc, o, dir);
  const deadline = Date.now() + readyTimeoutMs;
  for (let i = 0; i < 10000; i++) {
    if (/flussonic-streamer .* ready/.test(s.output)) return s;
    if (proc.exitCode !== null || Date.now() > deadline) {
      await s.stop();
      throw new Error(`${o.name} did not start:\n${s.output.slice(-3000)}`);
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error("unreachable");
}
