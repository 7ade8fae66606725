// Load generator: N real agents (the product's Agent class, the same code the camera runs) in one
// Node process, each with its own TLS link to the streamer on 127.0.0.1. Identities are
// pre-provisioned (key = HMAC(cluster secret, "device-key\n"+id)), state lives in memory.
//
//   node build/bench/swarm.mjs '{"n":1000,"prefix":"s0","streamer":"127.0.0.1:P","endpoint":"127.0.0.1:E",
//        "caFile":"ca.pem","reconnect":{"base_ms":1000,"cap_ms":60000},"rampMs":2000,"maxMs":120000}'
//
// Prints "STAT {json}" every statsMs: live sessions, connection attempts so far, per-second attempt
// peak. Exits by itself after maxMs (or on SIGTERM).
import { readFileSync } from "node:fs";
import * as tls from "node:tls";
import { Agent } from "../agent-src/src/agent/agent";
import { parseAgentConfig } from "../agent-src/src/agent/config";
import { NodePlatform, NodeSocket } from "../agent-src/src/platform/node";
import type { ConnectCallback, Platform } from "../agent-src/src/platform/platform";
import { deviceKeyHex } from "./lib/common";
import type { SwarmSpec } from "./lib/swarm-client";

/** What lib/swarm-client.ts passes to each child (its spec, split over `children` processes). */
type SwarmArgs = Omit<SwarmSpec, "children"> & { statsMs?: number };

const a = JSON.parse(process.argv[2]) as SwarmArgs;
const caPem = readFileSync(a.caFile, "utf8");
const node = new NodePlatform(() => {});
// One TLS context for the whole swarm. NodePlatform.connectTls passes the CA PEM per call, so Node
// builds a new context (parses the CA) on every attempt: ~1 ms of generator CPU that would cap the
// naive fleet's retry rate far below what real devices would do.
// `tlsMaxVersion: "TLSv1.2"` makes the swarm speak what the camera agent speaks (tls.c is a TLS
// 1.2 client): a resumed TLS 1.2 session skips ECDHE, a TLS 1.3 one (psk_dhe_ke) still does it.
const secureContext = tls.createSecureContext({ ca: caPem, minVersion: "TLSv1.2", maxVersion: a.tlsMaxVersion ?? "TLSv1.3" });

/** Open links, so SIGUSR2 can drop them all at once (the resume row's storm). */
const links = new Set<tls.TLSSocket>();

/**
 * `saved`: with `resume`, each agent's last TLS session (ticket), offered on its next connect,
 * as the camera agent's tls.c does.
 */
function connectTls(host: string, port: number, timeoutMs: number, cb: ConnectCallback, saved?: { session?: Buffer }): void {
  const raw = tls.connect({ host, port, secureContext, rejectUnauthorized: true,
    session: saved?.session, checkServerIdentity: (name, cert) => tls.checkServerIdentity(name, cert) });
  if (saved) raw.on("session", (s: Buffer) => (saved.session = s));
  links.add(raw);
  raw.once("close", () => links.delete(raw));
  raw.once("secureConnect", () => {
    if (raw.isSessionReused()) resumed++;
  });
  let done = false;
  const finish = (err: string | null) => {
    if (done) return;
    done = true;
    clearTimeout(timer);
    if (err) {
      raw.destroy();
      cb(err, null);
    } else cb(null, new NodeSocket(raw));
  };
  const timer = setTimeout(() => finish(`timed out after ${timeoutMs} ms`), timeoutMs);
  raw.once("secureConnect", () => finish(null));
  raw.once("error", (e) => finish(e.message));
  raw.once("close", () => finish("connection closed during setup"));
}
const t0 = performance.now();
let live = 0;
let attempts = 0;
let retryAfters = 0;
let connectFailures = 0;
let resumed = 0;
const attemptsBySecond = new Map<number, number>();

function platformFor(id: string): Platform {
  const files = new Map<string, Uint8Array>();
  files.set("/mem/ca.pem", new TextEncoder().encode(caPem));
  files.set("/mem/state.json", new TextEncoder().encode(JSON.stringify({
    device_id: id, key: deviceKeyHex(id), endpoints: [a.endpoint], streamer: a.streamer,
  })));
  let isLive = false;
  const saved = a.resume ? {} : undefined;
  return {
    connectTcp: (h, p, t, cb) => node.connectTcp(h, p, t, cb),
    connectTls: (h, p, _o, t, cb) => {
      attempts++;
      const sec = Math.floor(Date.now() / 1000); // wall-clock second: comparable across children
      attemptsBySecond.set(sec, (attemptsBySecond.get(sec) ?? 0) + 1);
      connectTls(h, p, t, cb, saved);
    },
    setTimer: (ms, fn) => node.setTimer(ms, fn),
    clearTimer: (id) => node.clearTimer(id),
    now: () => node.now(),
    randomBytes: (n) => node.randomBytes(n),
    readFile: (path) => files.get(path) ?? null,
    writeFileAtomic: (path, data) => void files.set(path, data),
    // The agent's log lines are its events: count sessions going live and ending.
    log: (_level, msg) => {
      if (msg.startsWith("session live at streamer")) {
        if (!isLive) live++;
        isLive = true;
      } else if (msg.startsWith("link to ") && isLive) {
        isLive = false;
        live--;
      } else if (msg.includes("asks to retry after")) retryAfters++;
      else if (msg.startsWith("cannot connect to")) connectFailures++;
    },
  };
}

const agents: Agent[] = [];
const cfgText = (id: string) => JSON.stringify({
  endpoints: [a.endpoint], ca_file: "/mem/ca.pem", state_file: "/mem/state.json",
  // Nothing to relay unless the row gives a camera (the record row's ramp does).
  targets: { rtsp: a.rtsp ?? "127.0.0.1:9" }, log_level: "debug",
  reconnect: { stable_ms: 60_000, ...a.reconnect },
});
for (let i = 0; i < a.n; i++) {
  const id = `${a.prefix}-${i}`;
  const p = platformFor(id);
  const cfg = parseAgentConfig(cfgText(id), (path) => new TextDecoder().decode(p.readFile(path)!));
  const agent = new Agent(p, cfg, { version: "swarm", arch: "node-swarm" });
  agents.push(agent);
  setTimeout(() => agent.start(), a.n > 1 ? (a.rampMs * i) / a.n : 0);
}

const stat = () => {
  const peak = Math.max(0, ...attemptsBySecond.values());
  process.stdout.write(`STAT ${JSON.stringify({ t: Math.round(performance.now() - t0), live, attempts, resumed, retryAfters, connectFailures, peakPerSec: peak, bySecond: Object.fromEntries(attemptsBySecond) })}\n`);
};
const timer = setInterval(stat, a.statsMs ?? 250);
const stop = () => {
  clearInterval(timer);
  stat();
  for (const ag of agents) ag.stop();
  setTimeout(() => process.exit(0), 200);
};
setTimeout(stop, a.maxMs);
process.on("SIGTERM", stop);
// Every link dropped at once, as a network blip would: the agents reconnect (resume row).
process.on("SIGUSR2", () => {
  for (const l of links) l.destroy();
});
process.on("SIGINT", stop);
