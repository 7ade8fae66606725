/**
 * The only door from the agent core to the operating system.
 *
 * The agent core (src/agent, src/protocol, src/common) imports nothing but this interface, so
 * the same bundle runs on Node (platform/node.ts, used by host tests) and on the static QuickJS
 * binary (platform/quickjs.ts over the C module in agent-src/native). Keep it small: every method
 * here has to be implemented in C for four camera CPUs.
 *
 * All callbacks are invoked asynchronously from the event loop, never re-entrantly from inside
 * the call that caused them. Handlers are assigned right after a socket is handed over; the
 * platform must not deliver events before the connect callback has returned.
 */

export type LogLevel = "debug" | "info" | "warn" | "error";

export interface Socket {
  /**
   * Queue bytes for sending. Returns false when the OS/TLS buffer is full: wait for onDrain.
   * A caller that keeps writing regardless may have the socket closed with an error (the
   * QuickJS platform: past 512 KiB queued) rather than grow memory without bound.
   */
  write(data: Uint8Array): boolean;
  /**
   * Optional: write(head ++ body) without the caller concatenating them (a frame header and its
   * payload: one TLS record, no copy in JS). Keeps no reference to either after returning.
   */
  writeTwo?(head: Uint8Array, body: Uint8Array): boolean;
  /** Half-close: we send nothing more; reading continues until the peer ends. */
  end(): void;
  /** Tear the connection down now. onClose fires once, later. Idempotent. */
  destroy(): void;
  /** Stop delivering onData until resume(); used to push back on a fast camera. */
  pause(): void;
  resume(): void;
  /**
   * Bytes received, in a buffer of their own that the platform never reuses: the frame decoder
   * hands out views of it (protocol/frame.ts) instead of copying.
   */
  onData: ((data: Uint8Array) => void) | null;
  /** The peer half-closed (EOF). */
  onEnd: (() => void) | null;
  /** The write buffer has room again after write() returned false. */
  onDrain: (() => void) | null;
  /** Fired exactly once when the socket is gone; err is null on a clean close. */
  onClose: ((err: string | null) => void) | null;
}

export interface TlsOptions {
  /** PEM text of the CA certificate(s) the server's chain must lead to. */
  caPem?: string;
  /**
   * Base64 SHA-256 of the DER SubjectPublicKeyInfo of any certificate in the presented chain
   * (HPKP style). When set, a match is required in addition to a valid chain (if caPem is set)
   * or instead of it (if caPem is absent).
   */
  spkiSha256?: string[];
  /** SNI and name to check; defaults to the host connected to. */
  serverName?: string;
}

/**
 * What a Pump reports. onSent and onLinkFull may be called from inside credit()/kick();
 * onEnd and onError always come later, from the event loop, and at most one of them, once.
 */
export interface PumpEvents {
  /** `bytes` of payload left in `frames` DATA frames (they used `bytes` of the credit). */
  onSent(bytes: number, frames: number): void;
  /** The link took a frame but is now full: the pump waits for kick() after the link drains. */
  onLinkFull(): void;
  /** The source ended; every byte read from it before was sent. The pump has stopped. */
  onEnd(): void;
  /** Reading the source or writing the link failed. The pump has stopped. */
  onError(err: string): void;
}

/**
 * Moves the bytes a source socket (a camera connection) receives onto the link as DATA frames of
 * one stream (docs/PROTOCOL.md), never more than the credit. The core decides (credit from the
 * peer's WINDOW, when to stop); the platform moves the bytes: in C on the camera, in
 * platform/js-pump.ts elsewhere. The source's onData/onEnd belong to the pump from its start; its
 * write/end/destroy/onDrain/onClose stay the caller's.
 */
export interface Pump {
  /** The peer accepts n more bytes. */
  credit(n: number): void;
  /** The link drained (or anything else changed): move what can move now. */
  kick(): void;
  /** Stop for good; the source socket itself is left to the caller. Idempotent. */
  stop(): void;
  /**
   * Report through onSent, now, whatever was sent and not reported yet. A pump may report late
   * (the C one reports with its next outcome, so that a camera chunk costs no JS); the core calls
   * this before it needs the exact count (the window check). Optional: a pump that reports every
   * frame at once has nothing to do.
   */
  sync?(): void;
}

export type ConnectCallback = (err: string | null, sock: Socket | null) => void;

/** Timers and a monotonic clock: all a Session needs besides its socket. */
export interface Clock {
  setTimer(ms: number, fn: () => void): number;
  clearTimer(id: number): void;
  /** Monotonic milliseconds; only differences are meaningful. */
  now(): number;
}

export interface Platform extends Clock {
  /** Plain TCP, used only for the agent's configured local targets (camera RTSP/HTTP). */
  connectTcp(host: string, port: number, timeoutMs: number, cb: ConnectCallback): void;
  /** TLS client with verification as in opts; the only way the agent talks to the server. */
  connectTls(host: string, port: number, opts: TlsOptions, timeoutMs: number, cb: ConnectCallback): void;
  /** Cryptographically strong random bytes; must not block at boot. */
  randomBytes(n: number): Uint8Array;
  /** Whole file, or null when it does not exist. Throws on other errors. */
  readFile(path: string): Uint8Array | null;
  /** Write temp file in the same directory, fsync, rename over path, fsync dir. Throws on failure. */
  writeFileAtomic(path: string, data: Uint8Array): void;
  log(level: LogLevel, msg: string): void;
  /**
   * Start a Pump from `source` to `link` for stream `streamId` with `credit` bytes of credit.
   * Optional: without it the core uses the JS pump (platform/js-pump.ts).
   */
  pump?(source: Socket, link: Socket, streamId: number, credit: number, events: PumpEvents): Pump;
}
