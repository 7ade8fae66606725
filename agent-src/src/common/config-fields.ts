/**
 * What both configuration files (the agent's agent.json, the server's streamer.json) are parsed
 * with: one error type naming the field, and host:port addresses. Pure TypeScript, no Node APIs:
 * the agent's QuickJS bundle and the server both import it, neither imports the other's config.
 */

export class ConfigError extends Error {
  constructor(public readonly field: string, message: string) {
    super(`config error: field "${field}": ${message}`);
    this.name = "ConfigError";
  }
}

export interface HostPort {
  host: string;
  port: number;
}

export function parseHostPort(v: unknown, field: string): HostPort {
  if (typeof v !== "string") throw new ConfigError(field, "expected a \"host:port\" string");
  const m = /^(?:\[([0-9a-fA-F:.]+)\]|([A-Za-z0-9.-]+)):(\d{1,5})$/.exec(v);
  const port = m ? Number(m[3]) : 0;
  if (!m || port < 1 || port > 65535) throw new ConfigError(field, `"${v}" is not host:port`);
  return { host: m[1] ?? m[2], port };
}

export function isHostPort(s: string): boolean {
  try {
    parseHostPort(s, "address");
    return true;
  } catch {
    return false;
  }
}

export function formatHostPort(hp: HostPort): string {
  return hp.host.includes(":") ? `[${hp.host}]:${hp.port}` : `${hp.host}:${hp.port}`;
}
