/**
 * TLS listener for agent links, shared by both roles: limits on connections not yet
 * authenticated, the handshake HELLO → CHALLENGE → AUTH (or ACTIVATE, endpoint only) within one
 * deadline from TCP accept, then admission control. What happens after authentication is
 * the role's business (roles/endpoint.ts redirects, roles/streamer.ts keeps the link for viewers).
 */

import type * as net from "node:net";
import * as tls from "node:tls";
import { decodeControl } from "../../protocol/control";
import type { Activate, Auth, Hello } from "../../protocol/control";
import { FrameType, PROTOCOL_VERSION, frameTypeName } from "../../protocol/frame";
import { DEFAULT_SESSION_OPTIONS, Session, type CloseCode, type CloseReason } from "../../protocol/session";
import { NodeSocket, nodeClock } from "../../platform/node";
import type { LogLevel } from "../../platform/platform";
import { TokenBucket, jittered } from "./admission";
import type { Admission, StreamerConfig } from "../config";
import { newNonce, verifyAuth } from "../keys";
import type { Metrics } from "../metrics";
import { listenOn } from "../util/listen";
import { ConnectionGuard } from "../limits";

export type Role = "endpoint" | "streamer";

export interface AgentLink {
  session: Session;
  hello: Hello;
  deviceId: string;
  remote: string;
  /**
   * Hear when the link goes away: every listener is called once, in the order added (the
   * registry's first, then the role's). Added after the link closed: called at once.
   */
  whenClosed(listener: (reason: CloseReason) => void): void;
}

/** Closes counted as protocol errors: the peer sent something malformed or out of place. */
const PROTOCOL_ERRORS: ReadonlySet<CloseCode> = new Set<CloseCode>([
  "version", "type", "flags", "size", "stream", "payload", "flow", "forbidden", "unexpected", "internal",
]);
/** Closes counted as cut off: the peer does not read (write buffer, write stall, unanswered PING) or floods. */
const CUT_OFF: ReadonlySet<CloseCode> = new Set<CloseCode>(["flood", "write_buffer", "write_stall", "ping_unanswered"]);

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

/** Lifetime of a TLS session ticket (seconds). */
export const TLS_SESSION_TIMEOUT_S = 3600;

export function startLinkServer(o: LinkServerOptions, h: RoleHandlers, listen: { host: string; port: number }): Promise<tls.Server> {
  const limits = o.cfg.limits;
  // Tokens are taken only once a peer has proved a key (AUTH) or holds a one-time token
  // (ACTIVATE): a flood that cannot authenticate never drains them, and bogus activations only
  // delay other activations, never an activated agent's reconnect.
  const authBucket = new TokenBucket(o.admission.rate, o.admission.burst);
  const activateBucket = new TokenBucket(o.admission.rate, o.admission.burst);
  const m = (name: string) => `flussonic_${o.role}_${name}`;
  o.metrics.counter(m("links_total"), `agent links accepted by the ${o.role}`);
  o.metrics.counter(m("admission_rejects_total"), "authenticated links told RETRY_AFTER by admission control");
  o.metrics.counter(m("auth_failures_total"), "failed agent authentications");
  o.metrics.counter(m("protocol_errors_total"), "links closed for protocol violations");
  o.metrics.counter(m("links_cut_off_total"), "links closed for not reading (write buffer, write stall, unanswered PING) or flooding");
  // Connections not yet authenticated: per address and in all (flussonic_<role>_handshake_*).
  const guard = new ConnectionGuard(`${o.role}_handshake`, limits.agentPendingTotal, limits.agentPendingPerIp, o.metrics);
  const pending = new Map<string, Pending>();

  const server = tls.createServer({
    cert: o.cfg.certPem, key: o.cfg.keyPem, minVersion: "TLSv1.2",
    // The client's cipher order wins: cameras without AES instructions list ChaCha20-Poly1305
    // first (5x faster than AES-GCM on ARM926).
    honorCipherOrder: false,
    // Node only reports its handshake timeout (tlsClientError); the deadline below, set at TCP
    // accept, is the one that closes and counts. Node's is a backstop just behind it.
    handshakeTimeout: limits.handshakeTimeoutMs + 1000,
    // Session tickets (Node's default; the agent offers them on reconnect): a resumed handshake
    // skips ECDHE and the certificate, most of what a reconnect storm costs. Tickets live this
    // long; the agent also stops resuming an hour after its last full handshake. AUTH proves the
    // device key on every link regardless.
    sessionTimeout: TLS_SESSION_TIMEOUT_S,
  }, (sock) => {
    const remote = `${sock.remoteAddress}:${sock.remotePort}`;
    const pre = pending.get(remote);
    if (!pre) {
      sock.destroy(); // timed out or refused at accept, in the same turn
      return;
    }
    sock.setNoDelay(true);
    sock.on("error", () => {}); // reported through the Session's close reason
    o.metrics.inc(m("links_total"));
    handshake(o, h, sock, remote, pre, { auth: authBucket, activate: activateBucket });
  });
  // Net level, before TLS: one deadline from TCP accept until authenticated, and the limits on
  // connections that have not authenticated yet (a raw socket that never sends a ClientHello
  // holds a slot too).
  server.prependListener("connection", (raw: net.Socket) => {
    const release = guard.admit(raw);
    if (!release) {
      raw.destroy();
      return;
    }
    const remote = `${raw.remoteAddress}:${raw.remotePort}`;
    const pre: Pending = {
      timer: setTimeout(() => {
        guard.timedOut();
        o.log("debug", `${remote}: not authenticated within ${limits.handshakeTimeoutMs} ms, closed`);
        // Over TLS the peer hears why (ERROR, then a short grace); below TLS it is just closed.
        if (pre.session) pre.session.fail("timeout", "handshake not completed in time");
        else raw.destroy();
      }, limits.handshakeTimeoutMs),
      session: null,
      done: () => {
        clearTimeout(pre.timer);
        release();
        if (pending.get(remote) === pre) pending.delete(remote);
      },
    };
    pending.set(remote, pre);
    raw.once("close", pre.done);
  });
  server.on("tlsClientError", (e, sock) => {
    o.log("debug", `TLS handshake failed: ${e.message}`);
    sock.destroy();
  });
  return listenOn(server, listen);
}

/** A connection from TCP accept until it has authenticated (or gone). */
interface Pending {
  timer: ReturnType<typeof setTimeout>;
  session: Session | null;
  /** Authenticated or gone: stop the deadline, free the slot. Idempotent. */
  done: () => void;
}

function handshake(
  o: LinkServerOptions, h: RoleHandlers, sock: tls.TLSSocket, remote: string, pre: Pending,
  buckets: { auth: TokenBucket; activate: TokenBucket },
): void {
  let hello: Hello | null = null;
  let nonce: string | null = null;
  let answered = false;
  let link: AgentLink | null = null;
  let closedWith: CloseReason | null = null;
  const closeListeners: ((reason: CloseReason) => void)[] = [];
  const m = (name: string) => `flussonic_${o.role}_${name}`;
  /** Admission control, once the peer has proved something: RETRY_AFTER (±50 % jitter) and close. */
  const admit = (bucket: TokenBucket): boolean => {
    if (bucket.take()) return true;
    o.metrics.inc(m("admission_rejects_total"));
    s.sendControl(FrameType.RETRY_AFTER, { ms: jittered(o.admission.retryMs), reason: "busy" });
    s.finish("admission: told to retry later");
    return false;
  };
  const s: Session = new Session(new NodeSocket(sock), nodeClock, {
    ...DEFAULT_SESSION_OPTIONS,
    pingIntervalMs: o.cfg.keepalive.pingIntervalMs,
    idleTimeoutMs: o.cfg.keepalive.idleTimeoutMs,
    peerMayOpen: false,
    maxWriteBuffer: o.cfg.limits.linkWriteBufferBytes,
    maxWindow: o.cfg.limits.streamWindowMaxBytes,
    // Nothing but the handshake is answered before AUTH.
    answerPings: false,
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
          o.metrics.inc(m("auth_failures_total"));
          o.log("warn", `authentication failed for "${a.device_id.slice(0, 64)}" from ${remote}`);
          return s.fail("auth", "authentication failed");
        }
        pre.done();
        if (!admit(buckets.auth)) return;
        link = {
          session: s, hello, deviceId: a.device_id, remote,
          whenClosed: (fn) => (closedWith ? fn(closedWith) : closeListeners.push(fn)),
        };
        s.startAnsweringPings();
        o.log("debug", `${a.device_id} authenticated from ${remote}, cipher ${sock.getCipher()?.name ?? "?"}`);
        h.authenticated(link);
        // The link's round trip, known from the start (after WELCOME or whatever the role answers
        // AUTH with): a stream's window grows by it (Stream.grow).
        s.pingNow();
        return;
      }
      if (type === FrameType.ACTIVATE && hello && nonce && !answered && h.activate) {
        answered = true;
        pre.done();
        if (!admit(buckets.activate)) return;
        return h.activate(s, hello, decodeControl<Activate>(type, payload).token, remote);
      }
      return s.fail("unexpected", `${frameTypeName(type)} not expected now`);
    },
    onClose: (reason) => {
      closedWith = reason;
      pre.done();
      if (PROTOCOL_ERRORS.has(reason.code)) o.metrics.inc(m("protocol_errors_total"));
      if (CUT_OFF.has(reason.code)) o.metrics.inc(m("links_cut_off_total"));
      o.log("debug", `link from ${remote} closed: ${reason.text}`);
      for (const fn of closeListeners.splice(0)) fn(reason);
    },
  }, o.log);
  pre.session = s;
}
