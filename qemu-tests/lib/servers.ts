/**
 * flussonic-streamer processes for the emulated cameras, started by the same code as the integration
 * harness (testkit/streamer-launch.ts, no vitest dependency, so `make demo` uses it
 * too): a config, `node build/bundle/streamer.cjs --config F`, its ready line, and a kill of its
 * process group on stop or on exit.
 */
import type { ChildProcess } from "node:child_process";
import { join } from "node:path";
import type { Proc } from "../../testkit/procs.js";
import { launchStreamer, serverPorts, type ServerPorts } from "../../testkit/streamer-launch.js";
import { REPO } from "./paths.js";
import type { QemuPki } from "./pki.js";

export const VIEWER = { name: "viewer", password: "qemu-viewer-secret" };
const SECRET = "qemu-test-cluster-secret-0123456789-abcdefghijkl";
export const STREAMER_CJS = join(REPO, "build/bundle/streamer.cjs");

export { serverPorts, type ServerPorts };

export interface ServerOptions {
  roles: ("endpoint" | "streamer")[];
  pki: QemuPki;
  ports: ServerPorts;
  /** What the endpoint redirects agents to (as the agent sees it). */
  streamers?: string[];
  tokens?: string[];
  dir?: string;
  keepalive?: { ping_interval_ms: number; idle_timeout_ms: number };
  /** The config's "limits" section (snake_case keys, see server/limits.ts). */
  limits?: Record<string, number>;
  name: string;
}

/** A running streamer; `opts` and `dir` start it again with the same state. */
export class Server {
  constructor(readonly running: Proc, readonly opts: ServerOptions, readonly dir: string) {}
  get proc(): ChildProcess {
    return this.running.child;
  }
  get output(): string {
    return this.running.output();
  }
  get exited(): Promise<void> {
    return this.running.exited.then(() => undefined);
  }
  get ports() {
    return this.opts.ports;
  }
  async devices(): Promise<{ id: string; state: string }[]> {
    const r = await fetch(`http://127.0.0.1:${this.opts.ports.admin}/api/devices`, { signal: AbortSignal.timeout(3000) });
    return ((await r.json()) as { devices: { id: string; state: string }[] }).devices;
  }
  kill(sig: NodeJS.Signals = "SIGKILL"): void {
    this.running.signal(sig);
  }
  async stop(): Promise<void> {
    await this.running.stop(3000);
  }
}

export async function startServer(o: ServerOptions, readyTimeoutMs = 20_000): Promise<Server> {
  const { proc, dir } = await launchStreamer({
    ...o, script: STREAMER_CJS, secret: SECRET, viewers: [VIEWER], logLevel: "info", readyTimeoutMs,
  });
  return new Server(proc, o, dir);
}
