/**
 * flussonic-streamer: the server side, one program with two roles (endpoint, streamer).
 */

import { randomBytes } from "node:crypto";
import { readFileSync } from "node:fs";
import { ConfigError, loadStreamerConfig } from "../server/config";
import { startAdmin } from "../server/admin/api";
import { startEndpoint } from "../server/roles/endpoint";
import { signViewerToken } from "../server/keys";
import { Metrics, eventLoopDelayMetrics } from "../server/metrics";
import { installProcessGuard } from "../server/process-guard";
import { Registry } from "../server/link/registry";
import { startStreamer } from "../server/roles/streamer";
import { shutdown } from "../server/shutdown";
import { makeLogger, writeFileAtomicSync } from "../platform/node";

const USAGE = `Usage: flussonic-streamer --config FILE            run the roles configured (endpoint, streamer)
       flussonic-streamer --config FILE --check-config
       flussonic-streamer --config FILE new-token       add a one-time activation token, print it
       flussonic-streamer --config FILE sign-url DEVICE [TTL_SECONDS]
                                                        print a viewer token for one device
       flussonic-streamer --help | --version

Exit codes: 0 ok, 1 runtime failure, 2 usage or configuration error.`;

function fail(msg: string, code: number): never {
  process.stderr.write(`flussonic-streamer: ${msg}\n`);
  process.exit(code);
}

async function run(argv: string[]): Promise<void> {
  let configPath: string | null = null;
  let check = false;
  const rest: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === "--help" || a === "-h") {
      process.stdout.write(USAGE + "\n");
      return process.exit(0);
    }
    if (a === "--version" || a === "-V") {
      process.stdout.write(`flussonic-streamer ${__VERSION__} (node ${process.version})\n`);
      return process.exit(0);
    }
    if (a === "--config" && i + 1 < argv.length) configPath = argv[++i];
    else if (a.startsWith("--config=")) configPath = a.slice(9);
    else if (a === "--check-config") check = true;
    else if (a.startsWith("-")) fail(`unknown option "${a}"\n${USAGE}`, 2);
    else rest.push(a);
  }
  if (!configPath) fail(`--config FILE is required\n${USAGE}`, 2);

  let cfg;
  try {
    cfg = loadStreamerConfig(configPath);
  } catch (e) {
    if (e instanceof ConfigError) fail(e.message, 2);
    throw e;
  }
  if (check) {
    process.stdout.write(`${configPath}: ok\n`);
    return process.exit(0);
  }
  if (rest[0] === "new-token") {
    if (!cfg.endpoint) fail("new-token needs an endpoint section", 2);
    const token = randomBytes(16).toString("hex");
    let old = "";
    try {
      old = readFileSync(cfg.endpoint.tokensFile, "utf8");
    } catch {
      /* first token */
    }
    writeFileAtomicSync(cfg.endpoint.tokensFile, old + (old && !old.endsWith("\n") ? "\n" : "") + token + "\n");
    process.stdout.write(token + "\n");
    return process.exit(0);
  }
  if (rest[0] === "sign-url") {
    if (!cfg.streamer || !rest[1]) fail("sign-url DEVICE needs a streamer section and a device id", 2);
    const ttl = Number(rest[2] ?? 3600);
    if (!Number.isInteger(ttl) || ttl <= 0) fail("TTL_SECONDS must be a positive integer", 2);
    process.stdout.write(signViewerToken(cfg.streamer.viewerTokenSecret, rest[1], Math.floor(Date.now() / 1000) + ttl) + "\n");
    return process.exit(0);
  }
  if (rest.length) fail(`unknown command "${rest[0]}"\n${USAGE}`, 2);

  const log = makeLogger("streamer", cfg.logLevel);
  const metrics = new Metrics();
  installProcessGuard(log, metrics);
  eventLoopDelayMetrics(metrics);
  const registry = cfg.streamer ? new Registry(cfg.limits.viewerStreamsPerDevice) : null;
  try {
    if (cfg.endpoint) await startEndpoint(cfg, log, metrics);
    if (cfg.streamer) await startStreamer(cfg, log, metrics, registry!);
    if (cfg.admin) {
      await startAdmin(cfg.admin, registry, metrics, cfg.limits, log);
      log("info", `admin API and metrics on http://${cfg.admin.host}:${cfg.admin.port}`);
    }
  } catch (e) {
    fail(`cannot start: ${(e as Error).message}`, 1);
  }
  log("info", `flussonic-streamer ${__VERSION__} ready`);
}

// A normal stop finishes what must not be left half done (the segment being recorded), for at
// most SHUTDOWN_MS; a second signal exits at once.
const SHUTDOWN_MS = 5000;
let stopping = false;
for (const sig of ["SIGTERM", "SIGINT"] as const) {
  process.on(sig, () => {
    if (stopping) process.exit(0);
    stopping = true;
    void shutdown(SHUTDOWN_MS).finally(() => process.exit(0));
  });
}
run(process.argv.slice(2)).catch((e) => fail(`fatal: ${(e as Error).stack ?? e}`, 1));
