/**
 * The agent's lifecycle: activate once, then keep one authenticated link to a streamer.
 *
 *   no state ──ACTIVATE──► endpoint ──ACTIVATED──► state saved ──► streamer
 *   state ──► cached streamer ──(streamer_failures in a row)──► endpoints, rotating ──REDIRECT──► streamer
 *
 * This file does the I/O; where to dial and how long to wait is ReconnectPolicy's, which
 * server message counts at which step is link-steps', how often the state file may be
 * written is StateWriter's. The agent only answers the server's OPENs; it never sends media
 * unasked.
 */

import { authMessage, decodeControl } from "../protocol/control";
import type { Activated, Challenge, ErrorMsg, Hello, Move, Redirect, RetryAfter, Welcome } from "../protocol/control";
import { fromHex, toHex, utf8Decode } from "../protocol/bytes";
import { FrameType, PROTOCOL_VERSION } from "../protocol/frame";
import { Session, DEFAULT_SESSION_OPTIONS } from "../protocol/session";
import { hmacSha256 } from "../protocol/sha256";
import type { Platform, Socket } from "../platform/platform";
import { formatHostPort, isHostPort, parseHostPort, type HostPort } from "../common/config-fields";
import type { AgentConfig } from "./config";
import { refusal, type LinkStep } from "./link-steps";
import { ReconnectPolicy, type Dest } from "./reconnect-policy";
import { CameraSockets, relayStream } from "./relay";
import { issuedStateProblem, loadState, saveState, StateError, type AgentState } from "./state";
import { StateWriter } from "./state-writer";

/** How long the server has to complete the handshake before we give up on it. */
const HANDSHAKE_TIMEOUT_MS = 15_000;

export interface AgentInfo {
  version: string;
  arch: string;
}

export class Agent {
  private state: AgentState | null = null;
  private readonly policy: ReconnectPolicy;
  private writer!: StateWriter;
  private readonly cameraSockets = new CameraSockets(DEFAULT_SESSION_OPTIONS.maxStreams);
  private session: Session | null = null;
  private retryTimer = -1;
  private stopped = false;

  constructor(
    private readonly p: Platform,
    private readonly cfg: AgentConfig,
    private readonly info: AgentInfo,
  ) {
    this.policy = new ReconnectPolicy(
      { baseMs: cfg.reconnect.baseMs, capMs: cfg.reconnect.capMs, streamerFailures: cfg.streamerFailures },
      {
        now: () => p.now(),
        random: () => {
          const b = p.randomBytes(4);
          return (((b[0] << 24) | (b[1] << 16) | (b[2] << 8) | b[3]) >>> 0) / 0x100000000;
        },
      },
    );
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
    this.writer = new StateWriter(this.p, (st) => this.writeState(st), this.state);
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
    const issued = this.state?.endpoints.filter(isHostPort) ?? [];
    return issued.length ? issued : this.cfg.endpoints.map(formatHostPort);
  }

  private schedule(ms: number, why: string): void {
    if (this.stopped) return;
    this.p.clearTimer(this.retryTimer);
    this.p.log("info", `reconnecting in ${ms} ms (${why})`);
    this.retryTimer = this.p.setTimer(ms, () => this.connect());
  }

  /** A connection attempt or session ended badly: count it and retry with backoff. */
  private failed(dest: Dest, why: string): void {
    const wasBack = this.policy.backToEndpoints;
    const ms = this.policy.failed(dest);
    if (dest.kind === "streamer" && !wasBack && this.policy.backToEndpoints) {
      this.p.log("warn", `streamer ${dest.addr} failed ${this.cfg.streamerFailures} times: back to the endpoints`);
    }
    this.schedule(ms, why);
  }

  private connect(): void {
    if (this.stopped) return;
    const dest = this.policy.dial(this.state?.streamer, this.endpoints());
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
    let step: LinkStep = "hello_sent";
    let liveSince = -1;
    let next: (() => void) | null = null; // what to do once this link is gone
    const hs = this.p.setTimer(HANDSHAKE_TIMEOUT_MS, () => s.close("handshake timeout"));
    let stable = -1;
    const setNext = (n: () => void) => (next = n);

    const s = new Session(sock, this.p, {
      ...DEFAULT_SESSION_OPTIONS,
      pingIntervalMs: this.cfg.keepalive.pingIntervalMs,
      idleTimeoutMs: this.cfg.keepalive.idleTimeoutMs,
      peerMayOpen: true,
    }, {
      onOpen: (stream, target) => {
        if (step !== "live") return stream.reset("not_ready", "session not authenticated");
        relayStream(this.p, this.cfg, stream, target, this.cameraSockets);
      },
      onControl: (type, payload) => {
        const refused = refusal(type, dest.kind, step);
        if (refused) return s.fail("unexpected", refused);
        switch (type) {
          case FrameType.CHALLENGE:
            step = this.answerChallenge(s, dest, decodeControl<Challenge>(type, payload));
            return;
          case FrameType.ACTIVATED: {
            const a = decodeControl<Activated>(type, payload);
            const st: AgentState = { device_id: a.device_id, key: a.key, endpoints: a.endpoints, streamer: a.streamer };
            const bad = issuedStateProblem(st);
            if (bad) return s.fail("payload", `ACTIVATED: ${bad}`);
            return this.switchTo(s, st, "activated", `activated as device ${st.device_id}; streamer ${st.streamer}`, setNext);
          }
          case FrameType.REDIRECT: {
            const r = decodeControl<Redirect>(type, payload);
            if (!this.state) return s.fail("unexpected", "REDIRECT before activation");
            const st = { ...this.state, streamer: r.streamer, endpoints: r.endpoints?.length ? r.endpoints : this.state.endpoints };
            const bad = issuedStateProblem(st);
            if (bad) return s.fail("payload", `REDIRECT: ${bad}`);
            const why = `redirected by ${dest.kind} ${dest.addr}`;
            return this.switchTo(s, st, why, `${why}: going to streamer ${st.streamer}`, setNext);
          }
          case FrameType.MOVE: {
            const m = decodeControl<Move>(type, payload);
            if (!this.state) return s.fail("unexpected", "MOVE before activation");
            const st = { ...this.state, streamer: m.streamer };
            const bad = issuedStateProblem(st);
            if (bad) return s.fail("payload", `MOVE: ${bad}`);
            return this.switchTo(s, st, "moved by the server", `moved by the server: going to streamer ${st.streamer}`, setNext);
          }
          case FrameType.WELCOME: {
            decodeControl<Welcome>(type, payload);
            step = "live";
            liveSince = this.p.now();
            this.p.clearTimer(hs);
            this.policy.live();
            this.p.log("info", `session live at ${dest.kind} ${dest.addr}`);
            stable = this.p.setTimer(this.cfg.reconnect.stableMs, () => this.policy.stable());
            return;
          }
          case FrameType.RETRY_AFTER: {
            const r = decodeControl<RetryAfter>(type, payload);
            const ms = this.policy.retryAfter(r.ms);
            this.p.log("info", `${dest.kind} ${dest.addr} asks to retry after ${r.ms} ms${r.reason ? ` (${r.reason})` : ""}: waiting ${ms} ms`);
            next = () => this.schedule(ms, "server asked to retry later");
            return s.close("retry later");
          }
          case FrameType.ERROR: {
            const e = decodeControl<ErrorMsg>(type, payload);
            this.p.log("warn", `${dest.kind} ${dest.addr} refused: ${e.code}: ${e.message}`);
            if (e.code === "auth" && dest.kind === "streamer") this.policy.streamerRefusedAuth();
            return s.close(`server error ${e.code}`);
          }
        }
      },
      onClose: ({ text: reason }) => {
        this.p.clearTimer(hs);
        this.p.clearTimer(stable);
        if (this.session === s) this.session = null;
        this.p.log(next ? "info" : "warn", `link to ${dest.kind} ${dest.addr} closed: ${reason}`);
        if (next) return next();
        if (liveSince >= 0 && this.p.now() - liveSince >= this.cfg.reconnect.stableMs) this.policy.stable();
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
    const avoid = this.policy.avoidList(dest);
    if (avoid.length) hello.avoid = avoid;
    s.sendControl(FrameType.HELLO, hello);
  }

  /** Proves who we are (or activates) and returns the step the link is at afterwards. */
  private answerChallenge(s: Session, dest: Dest, c: Challenge): LinkStep {
    if (c.role !== dest.kind) {
      s.fail("role", `expected a ${dest.kind}, the server says it is a ${c.role}`);
      return "hello_sent";
    }
    const cnonce = toHex(this.p.randomBytes(32));
    if (this.state) {
      const mac = hmacSha256(fromHex(this.state.key), authMessage(c.nonce, cnonce, this.state.device_id, c.role));
      s.sendControl(FrameType.AUTH, { device_id: this.state.device_id, cnonce, mac: toHex(mac) });
      return "auth_sent";
    }
    const token = this.readToken();
    if (token && dest.kind === "endpoint") {
      s.sendControl(FrameType.ACTIVATE, { token });
      return "activate_sent";
    }
    s.close("not activated and no activation token");
    return "hello_sent";
  }

  /**
   * ACTIVATED/REDIRECT/MOVE, already validated: take the new state and dial the streamer once
   * this link is closed, unless the switch budget is spent (then it is a failure like any other).
   */
  private switchTo(s: Session, st: AgentState, why: string, logLine: string, setNext: (f: () => void) => void): void {
    const ms = this.policy.switched();
    if (ms === null) {
      this.p.log("warn", `${why}: too many switches in a row, ignoring it and going back to the endpoints`);
      s.close("switch budget spent");
      return;
    }
    this.state = st;
    this.writer.save(st);
    this.p.log("info", logLine);
    setNext(() => this.schedule(ms, why));
    s.close(why);
  }

  private writeState(st: AgentState): boolean {
    try {
      saveState(this.p, this.cfg.stateFile, st);
      return true;
    } catch (e) {
      // Full or read-only flash: keep working from memory; the old file stays intact.
      this.p.log("error", `cannot save state to ${this.cfg.stateFile}: ${(e as Error).message}`);
      return false;
    }
  }
}
