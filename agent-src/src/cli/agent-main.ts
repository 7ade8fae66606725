/**
 * flussonic-agent command line, shared by the Node build and the static QuickJS binary.
 */

import { Agent } from "../agent/agent";
import { parseAgentConfig } from "../agent/config";
import { ConfigError } from "../common/config-fields";
import { StateError } from "../agent/state";
import { utf8Decode } from "../protocol/bytes";
import { PROTOCOL_VERSION } from "../protocol/frame";
import { LOG_LEVELS, withLogLevel } from "../platform/log-filter";
import type { LogLevel, Platform } from "../platform/platform";

export interface MainIo {
  exit(code: number): void;
  /** Print a line to stdout (help, version). */
  out(line: string): void;
  /** Target description, e.g. "linux-armhf (musl)". */
  arch: string;
  /** Extra --version lines from the runtime (QuickJS and TLS library versions). */
  versionExtra?: string;
  /** Switch logging to syslog (native runtime only). */
  useSyslog?: () => void;
}

export const USAGE = `Usage: flussonic-agent --config FILE [--log-level LEVEL] [--syslog]
       flussonic-agent --check-config --config FILE
       flussonic-agent --help | --version

Dials out to the configured endpoints over pinned TLS, activates once with the token in
activation_token_file, then keeps one link to a streamer and relays the server's requests to the
camera's local targets. Listens on no port.

Options:
  --config FILE       agent configuration (JSON; see docs/ARCHITECTURE.md)
  --check-config      validate the configuration and exit (0 valid, 2 invalid)
  --log-level LEVEL   debug, info, warn or error (overrides log_level)
  --syslog            log to syslog instead of stderr
  --help              this text
  --version           versions of the agent, protocol, runtime and TLS library

Exit codes: 0 ok, 1 runtime failure, 2 usage or configuration error.`;

export function main(platform: Platform, argv: string[], io: MainIo): void {
  let configPath: string | null = null;
  let checkOnly = false;
  let level: LogLevel | null = null;
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === "--help" || a === "-h") {
      io.out(USAGE);
      return io.exit(0);
    } else if (a === "--version" || a === "-V") {
      io.out(`flussonic-agent ${__VERSION__} (protocol ${PROTOCOL_VERSION}, ${io.arch})`);
      if (io.versionExtra) io.out(io.versionExtra);
      return io.exit(0);
    } else if (a === "--config" && i + 1 < argv.length) configPath = argv[++i];
    else if (a.startsWith("--config=")) configPath = a.slice(9);
    else if (a === "--check-config") checkOnly = true;
    else if (a === "--syslog") io.useSyslog?.();
    else if (a === "--log-level" && i + 1 < argv.length && argv[i + 1] in LOG_LEVELS) level = argv[++i] as LogLevel;
    else {
      io.out(`flussonic-agent: unknown or incomplete option "${a}"\n${USAGE}`);
      return io.exit(2);
    }
  }
  if (!configPath) {
    io.out(`flussonic-agent: --config FILE is required\n${USAGE}`);
    return io.exit(2);
  }

  const readText = (path: string): string => {
    const b = platform.readFile(path);
    if (b === null) throw new Error("no such file");
    return utf8Decode(b);
  };
  let cfg;
  try {
    cfg = parseAgentConfig(readText(configPath), readText);
  } catch (e) {
    const msg = e instanceof ConfigError ? e.message : `config error: cannot read ${configPath}: ${(e as Error).message}`;
    platform.log("error", msg);
    return io.exit(2);
  }
  if (checkOnly) {
    io.out(`${configPath}: ok`);
    return io.exit(0);
  }

  const p = withLogLevel(platform, level ?? cfg.logLevel);
  p.log("info", `flussonic-agent ${__VERSION__} starting (${io.arch})`);
  const agent = new Agent(p, cfg, { version: __VERSION__, arch: io.arch });
  try {
    agent.start();
  } catch (e) {
    p.log("error", e instanceof StateError ? e.message : `cannot start: ${(e as Error).message}`);
    return io.exit(1);
  }
}
