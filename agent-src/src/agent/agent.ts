/**
 * The agent's lifecycle: activate once, then keep one authenticated link to a streamer.
 *
 *   no state ──ACTIVATE──► endpoint ──ACTIVATED──► state saved ──► streamer
 *   state ──► cached streamer ──(streamer_failures in a row)──► endpoints, rotating ──REDIRECT──► streamer
 *
 * REDIRECT/MOVE switch at once; RETRY_AFTER waits as told; every other failure waits with
 * full-jitter backoff. The agent only answers the server's OPENs; it never sends media unasked.
 */

import { authMessage, decodeControl } from "../protocol/control";
import type { Activated, Challenge, ErrorMsg, Hello, Move, Redirect, RetryAfter, Welcome } from "../protocol/control";
import { fromHex, toHex, utf8Decode } from "../protocol/bytes";
import { FrameType, PROTOCOL_VERSION, frameTypeName } from "../protocol/frame";
import { Session, DEFAULT_SESSION_OPTIONS } from "../protocol/session";
import { hmacSha256 } from "../protocol/sha256";
import type { Platform, Socket } from "../platform/platform";
import { Backoff } from "./backoff";
import { formatHostPort, parseHostPort, type AgentConfig, type HostPort } from "./config";
import { relayStream } from "./relay";
import { loadState, saveState, StateError, type AgentState } from "./state";

/** How long the server has to complete the handshake before we give up on it. */
const HANDSHAKE_TIMEOUT_MS = 15_000;
/** A streamer that failed us is not asked for again via the endpoint for this long. */
const AVOID_MS = 10 * 60_000;

type Dest = { kind: "endpoint" | "streamer"; addr: string };

export interface AgentInfo {
  version: string;
  arch: string;
}

export class Agent {
  private state: AgentState | null = null;
  private backoff: Backoff;
  private session: Session | null = null;
  private retryTimer = -1;
  private endpointIndex = 0;
  private streamerFailures = 0;
  private avoid = new Map<string, number>();
  private stopped = false;

  constructor(
    private readonly p: Platform,
    private readonly cfg: AgentConfig,
    private readonly info: AgentInfo,
  ) {
    this.backoff = new Backoff(cfg.reconnect.baseMs, cfg.reconnect.capMs, () => {
      const b = p.randomBytes(4);
      return (((b[0] << 24) | (b[1] << 16) | (b[2] << 8) | b[3]) >>> 0) / 0x100000000;
    });
  }

  /** Loads state and dials. Throws StateError if the state file is unusable and no token exists. */
  start(): void {
    try {
      this.state = loadState(this.p, this.cfg.stateFile);
    } catch (e) {
      if (!(e instanceof StateError) || !this.readToken()) throw e;
      // Keep the broken file untouched for inspection until a fresh activation replaces it.
      this.p.log("error", `${e.message}; re-activating with the activation token`);
    }
    if (this.state) this.p.log("info", `device ${this.state.device_id}: cached streamer ${this.state.streamer ?? "(none)"}`);
    else if (!this.readToken()) this.p.log("warn", "not activated and no activation token: will keep asking the endpoint");
    this.connect();
  }

  stop(): void {
    this.stopped = true;
    this.p.clearTimer(this.retryTimer);
    this.session?.close("agent stopping");
  }

  private readToken(): string | null {
    if (!this.cfg.activationTokenFile) return null;
    try {
      const raw = this.p.readFile(this.cfg.activationTokenFile);
      const t = raw ? utf8Decode(raw).trim() : "";
      return t.length ? t : null;
    } catch {
      return null;
    }
  }

  private endpoints(): string[] {
    const issued = this.state?.endpoints.filter((e) => safeHostPort(e)) ?? [];
    return issued.length ? issued : this.cfg.endpoints.map(formatHostPort);
  }

  private nextDest(): Dest {
    const st = this.state;
    if (st?.streamer && this.streamerFailures < this.cfg.streamerFailures) return { kind: "streamer", addr: st.streamer };
    const eps = this.endpoints();
    return { kind: "endpoint", addr: eps[this.endpointIndex % eps.length] };
  }

  private schedule(ms: number, why: string): void {
    if (this.stopped) return;
    this.p.clearTimer(this.retryTimer);
    this.p.log("info", `reconnecting in ${ms} ms (${why})`);
    this.retryTimer = this.p.setTimer(ms, () => this.connect());
  }

  /** A connection attempt or session ended badly: count it and retry with backoff. */
  private failed(dest: Dest, why: string): void {
    if (dest.kind === "streamer") {
      this.streamerFailures++;
      if (this.streamerFailures >= this.cfg.streamerFailures) {
        this.p.log("warn", `streamer ${dest.addr} failed ${this.streamerFailures} times: back to the endpoints`);
        this.avoid.set(dest.addr, this.p.now() + AVOID_MS);
      }
    } else {
      this.endpointIndex++; // rotate through the endpoint list
    }
    this.schedule(this.backoff.next(), why);
  }

  private connect(): void {
    if (this.stopped) return;
    const dest = this.nextDest();
    let hp: HostPort;
    try {
      hp = parseHostPort(dest.addr, dest.kind);
    } catch {
      this.p.log("error", `ignoring malformed ${dest.kind} address "${dest.addr.slice(0, 80)}"`);
      if (dest.kind === "streamer" && this.state) this.state.streamer = undefined;
      this.failed({ kind: "endpoint", addr: dest.addr }, "bad address");
      return;
    }
    this.p.log("info", `connecting to ${dest.kind} ${dest.addr}`);
    const tls = { caPem: this.cfg.caPem, spkiSha256: this.cfg.spkiPins, serverName: this.cfg.serverName };
    this.p.connectTls(hp.host, hp.port, tls, this.cfg.connectTimeoutMs, (err, sock) => {
      if (this.stopped) {
        sock?.destroy();
        return;
      }
      if (err || !sock) {
        this.p.log("warn", `cannot connect to ${dest.kind} ${dest.addr}: ${err}`);
        this.failed(dest, "connect failed");
        return;
      }
      this.runSession(dest, sock);
    });
  }

  private runSession(dest: Dest, sock: Socket): void {
    let live = false;
    let liveSince = 0;
    let next: (() => void) | null = null; // what to do once this link is gone
    const hs = this.p.setTimer(HANDSHAKE_TIMEOUT_MS, () => s.close("handshake timeout"));
    let stable = -1;

    const s = new Session(sock, this.p, {
      ...DEFAULT_SESSION_OPTIONS,
      pingIntervalMs: this.cfg.keepalive.pingIntervalMs,
      idleTimeoutMs: this.cfg.keepalive.idleTimeoutMs,
      peerMayOpen: true,
    }, {
      onOpen: (stream, target) => {
        if (!live) return stream.reset("not_ready", "session not authenticated");
        relayStream(this.p, this.cfg, stream, target);
      },
      onControl: (type, payload) => {
        switch (type) {
          case FrameType.CHALLENGE:
            return this.answerChallenge(s, dest, decodeControl<Challenge>(type, payload));
          case FrameType.ACTIVATED: {
            const a = decodeControl<Activated>(type, payload);
            this.state = { device_id: a.device_id, key: a.key, endpoints: a.endpoints, streamer: a.streamer };
            this.persist();
            this.p.log("info", `activated as device ${a.device_id}; streamer ${a.streamer}`);
            return this.switchTo(s, a.streamer, "activated", (n) => (next = n));
          }
          case FrameType.REDIRECT: {
            const r = decodeControl<Redirect>(type, payload);
            if (this.state && r.endpoints?.length) this.state.endpoints = r.endpoints;
            return this.switchTo(s, r.streamer, `redirected by ${dest.kind} ${dest.addr}`, (n) => (next = n));
          }
          case FrameType.MOVE:
            return this.switchTo(s, decodeControl<Move>(type, payload).streamer, "moved by the server", (n) => (next = n));
          case FrameType.WELCOME: {
            decodeControl<Welcome>(type, payload);
            live = true;
            liveSince = this.p.now();
            this.p.clearTimer(hs);
            this.streamerFailures = 0;
            this.p.log("info", `session live at ${dest.kind} ${dest.addr}`);
            stable = this.p.setTimer(this.cfg.reconnect.stableMs, () => this.backoff.reset());
            return;
          }
          case FrameType.RETRY_AFTER: {
            const r = decodeControl<RetryAfter>(type, payload);
            const ms = Math.min(r.ms, this.cfg.reconnect.capMs * 10);
            this.p.log("info", `${dest.kind} ${dest.addr} asks to retry after ${ms} ms${r.reason ? ` (${r.reason})` : ""}`);
            next = () => this.schedule(ms, "server asked to retry later");
            return s.close("retry later");
          }
          case FrameType.ERROR: {
            const e = decodeControl<ErrorMsg>(type, payload);
            this.p.log("warn", `${dest.kind} ${dest.addr} refused: ${e.code}: ${e.message}`);
            if (e.code === "auth" && dest.kind === "streamer") this.streamerFailures = this.cfg.streamerFailures;
            return s.close(`server error ${e.code}`);
          }
          default:
            return s.fail("unexpected", `${frameTypeName(type)} is not sent to agents`);
        }
      },
      onClose: (reason) => {
        this.p.clearTimer(hs);
        this.p.clearTimer(stable);
        if (this.session === s) this.session = null;
        this.p.log(next ? "info" : "warn", `link to ${dest.kind} ${dest.addr} closed: ${reason}`);
        if (next) return next();
        if (live && this.p.now() - liveSince >= this.cfg.reconnect.stableMs) this.backoff.reset();
        this.failed(dest, reason);
      },
    }, (level, msg) => this.p.log(level, msg));
    this.session = s;

    const hello: Hello = {
      proto: PROTOCOL_VERSION,
      agent: this.info.version,
      arch: this.info.arch,
      targets: Object.fromEntries([...this.cfg.targets].map(([k, v]) => [k, formatHostPort(v)])),
      snapshot_path: this.cfg.snapshotPath,
      audio_path: this.cfg.audioPath,
    };
    if (this.state) hello.device_id = this.state.device_id;
    const now = this.p.now();
    const avoid = [...this.avoid].filter(([, until]) => until > now).map(([a]) => a);
    if (avoid.length && dest.kind === "endpoint") hello.avoid = avoid;
    s.sendControl(FrameType.HELLO, hello);
  }

  private answerChallenge(s: Session, dest: Dest, c: Challenge): void {
    if (c.role !== dest.kind) return s.fail("role", `expected a ${dest.kind}, the server says it is a ${c.role}`);
    const cnonce = toHex(this.p.randomBytes(32));
    if (this.state) {
      const mac = hmacSha256(fromHex(this.state.key), authMessage(c.nonce, cnonce, this.state.device_id, c.role));
      s.sendControl(FrameType.AUTH, { device_id: this.state.device_id, cnonce, mac: toHex(mac) });
      return;
    }
    const token = this.readToken();
    if (token && dest.kind === "endpoint") return s.sendControl(FrameType.ACTIVATE, { token });
    s.close("not activated and no activation token");
  }

  /** REDIRECT/MOVE/ACTIVATED: remember the streamer, then dial it as soon as this link is closed. */
  private switchTo(s: Session, streamer: string, why: string, setNext: (f: () => void) => void): void {
    if (!safeHostPort(streamer)) return s.fail("payload", `bad streamer address "${streamer.slice(0, 80)}"`);
    if (this.state) {
      this.state.streamer = streamer;
      this.persist();
    }
    this.streamerFailures = 0;
    this.p.log("info", `${why}: going to streamer ${streamer}`);
    setNext(() => this.connect());
    s.close(why);
  }

  private persist(): void {
    if (!this.state) return;
    try {
      saveState(this.p, this.cfg.stateFile, this.state);
    } catch (e) {
      // Full or read-only flash: keep working from memory; the old file stays intact.
      this.p.log("error", `cannot save state to ${this.cfg.stateFile}: ${(e as Error).message}`);
    }
  }
}

function safeHostPort(s: string): boolean {
  try {
    parseHostPort(s, "address");
    return true;
  } catch {
    return false;
  }
}
