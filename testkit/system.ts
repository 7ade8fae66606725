// The system under test as real processes on 127.0.0.1: a test PKI, flussonic-streamer (either
// role or both) and flussonic-agent. The agent command comes from FLUSSONIC_AGENT_CMD (a JSON array,
// e.g. ["qemu-arm-static","build/agent/armhf/flussonic-agent"]) so the same suite runs against the
// static native binary; default: the Node build.
import { execFileSync } from "node:child_process";
import { createHash, X509Certificate } from "node:crypto";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { BUNDLE, REPO_ROOT } from "./paths";
import { startProc, tempDir, type Proc } from "./procs";

export { BUNDLE };

export function agentCommand(): string[] {
  const env = process.env.FLUSSONIC_AGENT_CMD;
  if (!env) return [process.execPath, join(BUNDLE, "agent-node.mjs")];
  const cmd = JSON.parse(env) as string[];
  return cmd.map((c, i) => (i > 0 && c.startsWith("build/") ? join(REPO_ROOT, c) : c));
}

export interface Pki {
  dir: string;
  caPem: string;
  certFile: string;
  keyFile: string;
  caFile: string;
  /** A CA that did not sign the server certificate. */
  otherCaFile: string;
  /** base64 SHA-256 of the server certificate's SPKI */
  serverPin: string;
  otherPin: string;
}

function openssl(args: string[], cwd: string) {
  execFileSync("openssl", args, { cwd, stdio: ["ignore", "ignore", "pipe"] });
}

function spki(pemFile: string): string {
  const der = new X509Certificate(readFileSync(pemFile)).publicKey.export({ type: "spki", format: "der" });
  return createHash("sha256").update(der).digest("base64");
}

/** ECDSA P-256 test PKI: CA → server certificate for 127.0.0.1/localhost; plus an unrelated CA. */
export function makePki(): Pki {
  const dir = tempDir("fa-pki-");
  const ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes"];
  openssl(["req", "-x509", ...ec, "-keyout", "ca.key", "-out", "ca.pem", "-days", "2", "-subj", "/CN=flussonic test CA"], dir);
  openssl(["req", "-x509", ...ec, "-keyout", "other.key", "-out", "other.pem", "-days", "2", "-subj", "/CN=flussonic test CA"], dir);
  openssl(["req", ...ec, "-keyout", "server.key", "-out", "server.csr", "-subj", "/CN=localhost"], dir);
  writeFileSync(join(dir, "ext.cnf"), "subjectAltName=IP:127.0.0.1,DNS:localhost\n");
  openssl(["x509", "-req", "-in", "server.csr", "-CA", "ca.pem", "-CAkey", "ca.key", "-CAcreateserial",
    "-out", "server.pem", "-days", "2", "-extfile", "ext.cnf"], dir);
  return {
    dir,
    caPem: readFileSync(join(dir, "ca.pem"), "utf8"),
    certFile: join(dir, "server.pem"),
    keyFile: join(dir, "server.key"),
    caFile: join(dir, "ca.pem"),
    otherCaFile: join(dir, "other.pem"),
    serverPin: spki(join(dir, "server.pem")),
    otherPin: spki(join(dir, "other.pem")),
  };
}

// The streamer comes from the kit's one launcher; re-exported so a test imports the whole system from here.
export * from "./streamer";

export interface AgentProc {
  proc: Proc;
  dir: string;
  configFile: string;
  stateFile: string;
  /** Device id once activated (from the state file). */
  deviceId(): string | null;
  stop(): Promise<void>;
}

export interface AgentOptions {
  pki: Pki;
  endpoints: string[];
  targets: Record<string, string>;
  token?: string;
  dir?: string;
  tls?: { ca_file?: string; spki_pins?: string[] };
  extra?: Record<string, unknown>;
  name?: string;
  /** Wait for this log line before returning (default: session live). */
  ready?: RegExp | null;
}

/** Fast reconnects for tests; the defaults (1 s … 60 s) are covered by unit tests. */
export const TEST_RECONNECT = { base_ms: 100, cap_ms: 1000, stable_ms: 5000 };

export async function startAgent(o: AgentOptions): Promise<AgentProc> {
  const dir = o.dir ?? tempDir("fa-agent-");
  mkdirSync(dir, { recursive: true });
  if (o.token !== undefined) writeFileSync(join(dir, "token"), o.token + "\n");
  const stateFile = join(dir, "state", "state.json");
  const cfg = {
    endpoints: o.endpoints,
    ...(o.tls ?? { ca_file: o.pki.caFile }),
    activation_token_file: join(dir, "token"),
    state_file: stateFile,
    targets: o.targets,
    log_level: "debug",
    reconnect: TEST_RECONNECT,
    ...o.extra,
  };
  const configFile = join(dir, "agent.json");
  writeFileSync(configFile, JSON.stringify(cfg, null, 1));
  const [cmd, ...pre] = agentCommand();
  const proc = await startProc(cmd, [...pre, "--config", configFile], {
    ready: o.ready === undefined ? /session live at streamer/ : (o.ready ?? undefined), timeoutMs: 30_000,
    name: o.name ?? "agent",
  });
  return {
    proc, dir, configFile, stateFile,
    deviceId: () => {
      try {
        return JSON.parse(readFileSync(stateFile, "utf8")).device_id;
      } catch {
        return null;
      }
    },
    stop: async () => void (await proc.stop()),
  };
}

export function cameraTargets(cam: { rtspPort: number; httpPort: number }): Record<string, string> {
  return { rtsp: `127.0.0.1:${cam.rtspPort}`, http: `127.0.0.1:${cam.httpPort}` };
}
