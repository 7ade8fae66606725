/**
 * TLS listener for agent links, shared by both roles: admission control, then the handshake
 * HELLO → CHALLENGE → AUTH (or ACTIVATE, endpoint only). What happens after authentication is
 * the role's business (endpoint.ts redirects, streamer.ts keeps the link for viewers).
 */

import * as tls from "node:tls";
import { decodeControl } from "../protocol/control";
import type { Activate, Auth, Hello } from "../protocol/control";
import { encodeControlFrame } from "./frames";
import { FrameType, PROTOCOL_VERSION, frameTypeName } from "../protocol/frame";
import { DEFAULT_SESSION_OPTIONS, Session } from "../protocol/session";
import { NodeSocket } from "../platform/node";
import type { LogLevel } from "../platform/platform";
import { TokenBucket, jittered } from "./admission";
import type { Admission, StreamerConfig } from "./config";
import { newNonce, verifyAuth } from "./keys";
import type { Metrics } from "./metrics";
import { nodeClock } from "./clock";
import { listenOn } from "./listen";

const HANDSHAKE_TIMEOUT_MS = 10_000;

export type Role = "endpoint" | "streamer";

export interface AgentLink {
  session: Session;
  hello: Hello;
  deviceId: string;
  remote: string;
  /** Set by the role to hear when the link goes away. */
  onClose: ((reason: string) => void) | null;
}

export interface RoleHandlers {
  /** The agent proved it holds its device key. */
  authenticated(link: AgentLink): void;
  /** Endpoint only: exchange a one-time token for an identity; answer with ACTIVATED or an error. */
  activate?(session: Session, hello: Hello, token: string, remote: string): void;
}

export interface LinkServerOptions {
  role: Role;
  cfg: StreamerConfig;
  admission: Admission;
  log: (level: LogLevel, msg: string) => void;
  metrics: Metrics;
}

export function startLinkServer(o: LinkServerOptions, h: RoleHandlers, listen: { host: string; port: number }): Promise<tls.Server> {
  const bucket = new TokenBucket(o.admission.rate, o.admission.burst);
  const m = (name: string) => `flussonic_${o.role}_${name}`;
  o.metrics.counter(m("links_total"), `agent links accepted by the ${o.role}`);
  o.metrics.counter(m("admission_rejects_total"), "links told RETRY_AFTER by admission control");
  o.metrics.counter(m("auth_failures_total"), "failed agent authentications");
  o.metrics.counter(m("protocol_errors_total"), "links closed for protocol violations");

  const server = tls.createServer({
    cert: o.cfg.certPem, key: o.cfg.keyPem, minVersion: "TLSv1.2",
    // The client's cipher order wins: cameras without AES instructions list ChaCha20-Poly1305
    // first (5x faster than AES-GCM on ARM926).
    honorCipherOrder: false,
  }, (sock) => {
    const remote = `${sock.remoteAddress}:${sock.remotePort}`;
    sock.setNoDelay(true);
    sock.on("error", () => {}); // reported through the Session's close reason
    if (!bucket.take()) {
      o.metrics.inc(m("admission_rejects_total"));
      sock.end(encodeControlFrame(FrameType.RETRY_AFTER, { ms: jittered(o.admission.retryMs), reason: "busy" }));
      setTimeout(() => sock.destroy(), 1000).unref();
      return;
    }
    o.metrics.inc(m("links_total"));
    handshake(o, h, sock, remote);
  });
  server.on("tlsClientError", (e) => o.log("debug", `TLS handshake failed: ${e.message}`));
  return listenOn(server, listen);
}

function handshake(o: LinkServerOptions, h: RoleHandlers, sock: tls.TLSSocket, remote: string): void {
  let hello: Hello | null = null;
  let nonce: string | null = null;
  let answered = false;
  let link: AgentLink | null = null;
  const timer = setTimeout(() => s.fail("timeout", "handshake not completed in time"), HANDSHAKE_TIMEOUT_MS);
  const s: Session = new Session(new NodeSocket(sock), nodeClock, {
    ...DEFAULT_SESSION_OPTIONS,
    pingIntervalMs: o.cfg.keepalive.pingIntervalMs,
    idleTimeoutMs: o.cfg.keepalive.idleTimeoutMs,
    peerMayOpen: false,
  }, {
    onControl: (type, payload) => {
      if (type === FrameType.HELLO && !hello) {
        const msg = decodeControl<Hello>(type, payload);
        if (msg.proto !== PROTOCOL_VERSION) return s.fail("version", `protocol ${msg.proto} not supported (server speaks ${PROTOCOL_VERSION})`);
        hello = msg;
        nonce = newNonce();
        return s.sendControl(FrameType.CHALLENGE, { nonce, role: o.role });
      }
      if (type === FrameType.AUTH && hello && nonce && !answered) {
        answered = true;
        const a = decodeControl<Auth>(type, payload);
        const claimed = hello.device_id ?? a.device_id;
        if (claimed !== a.device_id || !verifyAuth(o.cfg.clusterSecret, a.device_id, nonce, a.cnonce, o.role, a.mac)) {
          o.metrics.inc(`flussonic_${o.role}_auth_failures_total`);
          o.log("warn", `authentication failed for "${a.device_id.slice(0, 64)}" from ${remote}`);
          return s.fail("auth", "authentication failed");
        }
        clearTimeout(timer);
        link = { session: s, hello, deviceId: a.device_id, remote, onClose: null };
        o.log("debug", `${a.device_id} authenticated from ${remote}, cipher ${sock.getCipher()?.name ?? "?"}`);
        return h.authenticated(link);
      }
      if (type === FrameType.ACTIVATE && hello && nonce && !answered && h.activate) {
        answered = true;
        clearTimeout(timer);
        return h.activate(s, hello, decodeControl<Activate>(type, payload).token, remote);
      }
      return s.fail("unexpected", `${frameTypeName(type)} not expected now`);
    },
    onClose: (reason) => {
      clearTimeout(timer);
      if (/^(version|type|flags|size|stream|payload|flow|forbidden|unexpected|internal)/.test(reason)) {
        o.metrics.inc(`flussonic_${o.role}_protocol_errors_total`);
      }
      o.log("debug", `link from ${remote} closed: ${reason}`);
      link?.onClose?.(reason);
    },
  }, o.log);
}

