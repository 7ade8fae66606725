/**
 * Platform over the static QuickJS runtime: quickjs-libc's event loop ("os") plus the
 * flussonic:native C module (agent-src/native). The same agent core as on Node runs on it.
 *
 * Everything is non-blocking: native calls start an operation and return; readiness comes back
 * through os.setReadHandler/os.setWriteHandler. User callbacks are always delivered from the
 * event loop (os.setTimeout 0), never from inside the call that caused them.
 */
import * as native from "flussonic:native";
import * as os from "os";
import { jsPump } from "./js-pump";
import type { ConnectCallback, LogLevel, Platform, Pump, PumpEvents, Socket, TlsOptions } from "./platform";

/**
 * One socket's queue: write() returns false once this much is queued; onDrain fires when the
 * queue is empty again. Not the tunnel stream's STREAM_HIGH_WATER (protocol/stream.ts), which
 * happens to be the same size.
 */
const SOCKET_HIGH_WATER = 64 * 1024;
/**
 * Hard cap on one socket's queue (a 32 MB camera): a caller that keeps writing past write()=false
 * gets the socket closed instead of the heap growing. Above the Session's own bound
 * (SOCKET_HIGH_WATER + maxWriteBuffer 256 KiB + one frame), so on a link that one acts first.
 */
const MAX_QUEUED = 512 * 1024;
/** Reads per readiness event, so one fast socket cannot starve the others. */
const READS_PER_EVENT = 16;
/** What one native read returns at most (IO_CHUNK in native.h). */
const READ_MAX = 16384;
const LEVELS: Record<LogLevel, number> = { debug: 0, info: 1, warn: 2, error: 3 };

/**
 * Every callback the event loop runs goes through this. quickjs-libc would print an uncaught
 * exception and carry on with the agent in an unknown state; like Node, we log it and exit(1)
 * so the supervisor restarts a clean process (state files are written atomically).
 */
function guarded<A extends unknown[]>(fn: (...args: A) => void): (...args: A) => void {
  return (...args: A) => {
    try {
      fn(...args);
    } catch (e) {
      const detail = e instanceof Error ? `${e.message}\n${e.stack ?? ""}` : String(e);
      native.log(3, `uncaught exception: ${detail}`);
      native.exit(1);
    }
  };
}

function setRead(fd: number, fn: (() => void) | null): void {
  os.setReadHandler(fd, fn && guarded(fn));
}

function setWrite(fd: number, fn: (() => void) | null): void {
  os.setWriteHandler(fd, fn && guarded(fn));
}

function later(fn: () => void): void {
  os.setTimeout(guarded(fn), 0);
}

function errText(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

/** The byte pipe under a socket: plain TCP or TLS over the same fd. */
interface Transport {
  read(): ArrayBuffer | null | undefined;
  write(data: Uint8Array): number;
  /** write(head ++ body) without concatenating them here; bytes taken. */
  writeTwo(head: Uint8Array, body: Uint8Array): number;
  /** A read shorter than READ_MAX emptied the kernel buffer (plain TCP; TLS reads one record). */
  readonly shortReadDrains: boolean;
  /** Bytes already decrypted and buffered: readable without a socket event. */
  pending(): number;
  /** Send what the native pump left held (TLS); false while the socket is still full. */
  flush(): boolean;
  /** The TLS connection, for the native pump; null for plain TCP. */
  readonly conn: native.TlsConn | null;
  /** While hold, the native pump must not write (bytes of ours are queued ahead, or closing). */
  holdPump(hold: boolean): void;
  shutdownWrite(): void;
  close(): void;
}

function tcpTransport(fd: number): Transport {
  return {
    read: () => native.read(fd),
    write: (d) => native.write(fd, d),
    writeTwo: (h, b) => native.writeTwo(fd, h, b),
    shortReadDrains: true,
    pending: () => 0,
    flush: () => true,
    conn: null,
    holdPump: () => {},
    shutdownWrite: () => native.shutdownWrite(fd),
    close: () => native.close(fd),
  };
}

function tlsTransport(fd: number, conn: native.TlsConn): Transport {
  return {
    read: () => native.tlsRead(conn),
    write: (d) => native.tlsWrite(conn, d),
    writeTwo: (h, b) => native.tlsWriteTwo(conn, h, b),
    shortReadDrains: false,
    pending: () => native.tlsPending(conn),
    flush: () => native.tlsFlush(conn),
    conn,
    holdPump: (hold) => native.tlsHoldPump(conn, hold),
    shutdownWrite: () => {
      native.tlsCloseNotify(conn);
      native.shutdownWrite(fd);
    },
    close: () => {
      native.tlsFree(conn);
      native.close(fd);
    },
  };
}

class QjsSocket implements Socket {
  onData: ((data: Uint8Array) => void) | null = null;
  onEnd: (() => void) | null = null;
  onDrain: (() => void) | null = null;
  onClose: ((err: string | null) => void) | null = null;

  private queue: Uint8Array[] = [];
  private queued = 0;
  private needDrain = false;
  private paused = false;
  private readEof = false;
  private endRequested = false;
  private writeShut = false;
  private closed = false;
  private reading = false;
  private writing = false;
  private readSoon = false;
  /** Reads belong to a native pump (takeReads); it is stopped when the socket closes. */
  private readOwner: (() => void) | null = null;

  /** "tcp", or the TLS version and cipher suite (for logs and tests; not part of Socket). */
  readonly info: string;

  constructor(readonly fd: number, readonly t: Transport, info = "tcp") {
    this.info = info;
  }

  /** Called after the connect callback returned: only now may events flow. */
  start(): void {
    if (this.closed) return;
    this.watchRead(true);
    if (this.t.pending() > 0) this.scheduleRead();
  }

  write(data: Uint8Array): boolean {
    if (this.closed || this.endRequested) return false;
    if (data.length === 0) return this.queued < SOCKET_HIGH_WATER;
    if (this.queue.length === 0) {
      let off = 0;
      try {
        while (off < data.length) {
          const n = this.t.write(off === 0 ? data : data.subarray(off));
          if (n <= 0) break;
          off += n;
        }
      } catch (e) {
        this.fail(errText(e));
        return false;
      }
      if (off === data.length) return true;
      // Copy: the caller may reuse its buffer. TLS requires the retry with identical bytes.
      return this.enqueue(data.slice(off));
    }
    return this.enqueue(data.slice());
  }

  /** One frame (header + payload) on the byte path: one native call, no concatenation here. */
  writeTwo(head: Uint8Array, body: Uint8Array): boolean {
    if (this.closed || this.endRequested) return false;
    let off = 0;
    if (this.queue.length === 0) {
      try {
        off = this.t.writeTwo(head, body);
      } catch (e) {
        this.fail(errText(e));
        return false;
      }
      if (off === head.length + body.length) return true;
    }
    // Blocked (rare): keep a copy of what is left; the retry goes through t.write like any queue.
    const rest = new Uint8Array(head.length + body.length - off);
    if (off < head.length) {
      rest.set(head.subarray(off));
      rest.set(body, head.length - off);
    } else {
      rest.set(body.subarray(off - head.length));
    }
    return this.enqueue(rest);
  }

  private enqueue(data: Uint8Array): boolean {
    if (this.queued + data.length > MAX_QUEUED) {
      this.fail(`write queue over ${MAX_QUEUED} bytes: peer not reading`);
      return false;
    }
    if (this.queue.length === 0) this.t.holdPump(true); // a pump writing now would cut in ahead
    this.queue.push(data);
    this.queued += data.length;
    this.watchWrite(true);
    if (this.queued >= SOCKET_HIGH_WATER) {
      this.needDrain = true;
      return false;
    }
    return true;
  }

  end(): void {
    if (this.closed || this.endRequested) return;
    this.endRequested = true;
    if (this.queue.length > 0) return;
    // A record the pump left held goes out before the close.
    let flushed: boolean;
    try {
      flushed = this.t.flush();
    } catch (e) {
      this.fail(errText(e));
      return;
    }
    if (flushed) this.shutWrite();
    else this.watchWrite(true);
  }

  destroy(): void {
    this.finish(null);
  }

  pause(): void {
    this.paused = true;
    this.watchRead(false);
  }

  resume(): void {
    if (!this.paused) return;
    this.paused = false;
    if (this.closed || this.readEof) return;
    this.watchRead(true);
    if (this.t.pending() > 0) this.scheduleRead();
  }

  private scheduleRead(): void {
    if (this.readSoon) return;
    this.readSoon = true;
    later(() => {
      this.readSoon = false;
      this.onReadable();
    });
  }

  /**
   * A native pump reads this socket from now on: it stops reading itself for good; `onClosed`
   * runs (before the descriptor is closed) if the socket closes first.
   */
  takeReads(onClosed: () => void): void {
    this.watchRead(false);
    this.readOwner = onClosed;
  }

  /** The pump read EOF: the read side is done (the socket closes once writing is done too). */
  readsEnded(): void {
    this.readOwner = null;
    this.readEof = true;
    this.maybeClose();
  }

  /** A pump found the link full: fire onDrain once everything (its held record too) is out. */
  wantDrain(): void {
    if (this.closed) return;
    this.needDrain = true;
    this.watchWrite(true);
  }

  private watchRead(on: boolean): void {
    if (on && this.readOwner) return;
    if (on === this.reading) return;
    this.reading = on;
    setRead(this.fd, on ? () => this.onReadable() : null);
  }

  private watchWrite(on: boolean): void {
    if (on === this.writing) return;
    this.writing = on;
    setWrite(this.fd, on ? () => this.onWritable() : null);
  }

  private onReadable(): void {
    if (this.readOwner) return;
    for (let i = 0; i < READS_PER_EVENT; i++) {
      if (this.closed || this.paused || this.readEof) return;
      let r: ArrayBuffer | null | undefined;
      try {
        r = this.t.read();
      } catch (e) {
        this.fail(errText(e));
        return;
      }
      if (r === undefined) return;
      if (r === null) {
        this.readEof = true;
        this.watchRead(false);
        this.onEnd?.();
        this.maybeClose();
        return;
      }
      this.onData?.(new Uint8Array(r));
      // Drained: the next readiness event says when there is more (saves a read per event).
      if (this.t.shortReadDrains && r.byteLength < READ_MAX) return;
    }
    // Still more buffered inside TLS (no socket event will announce it) or in the kernel.
    if (!this.closed && !this.paused) this.scheduleRead();
  }

  private onWritable(): void {
    try {
      if (!this.t.flush()) return;
      while (this.queue.length > 0) {
        const head = this.queue[0];
        const n = this.t.write(head);
        if (n <= 0) return;
        this.queued -= n;
        if (n < head.length) this.queue[0] = head.subarray(n);
        else this.queue.shift();
      }
    } catch (e) {
      this.fail(errText(e));
      return;
    }
    this.t.holdPump(false);
    this.watchWrite(false);
    if (this.endRequested) this.shutWrite();
    if (this.needDrain && !this.closed) {
      this.needDrain = false;
      this.onDrain?.();
    }
  }

  private shutWrite(): void {
    if (this.writeShut || this.closed) return;
    this.writeShut = true;
    try {
      this.t.shutdownWrite();
    } catch (e) {
      this.fail(errText(e));
      return;
    }
    this.maybeClose();
  }

  /** Both directions done: the socket is gone cleanly. */
  private maybeClose(): void {
    if (this.readEof && this.writeShut) this.finish(null);
  }

  private fail(err: string): void {
    this.finish(err);
  }

  private finish(err: string | null): void {
    if (this.closed) return;
    this.closed = true;
    const owner = this.readOwner;
    this.readOwner = null;
    owner?.();
    this.watchRead(false);
    this.watchWrite(false);
    this.queue = [];
    this.queued = 0;
    try {
      this.t.holdPump(true); // for good: a pump finds this link full, as it is closing
      this.t.close();
    } catch {
      /* already gone */
    }
    later(() => this.onClose?.(err));
  }
}

/** How a native pumpRun ended (native-pump.c, PUMP_*). */
const enum PumpStatus { Dry = 0, NoCredit = 1, LinkFull = 2, Eof = 3, Budget = 4, SourceError = 5, LinkError = 6, Stopped = 7 }

/**
 * The Pump in C (native-pump.c). The camera socket's read handler is a C function
 * (native.pumpHandler): each readable event reads the camera and sends DATA records in C, and JS
 * runs only when there is a decision to make (no credit, link full, EOF, an error). Here only that
 * bookkeeping. The link's own queue (frames JS queued: OPEN_OK, WINDOW, other streams) goes
 * first: QjsSocket holds the pump off the link while it has one (Transport.holdPump).
 */
class NativePump implements Pump {
  private readonly p: native.Pump;
  private readonly onReadable: () => void;
  private watching = false;
  private stopped = false;

  constructor(
    private readonly src: QjsSocket, private readonly link: QjsSocket, conn: native.TlsConn,
    streamId: number, credit: number, private readonly ev: PumpEvents,
  ) {
    this.p = native.pumpNew(src.fd, conn, streamId);
    native.pumpCredit(this.p, credit);
    this.onReadable = native.pumpHandler(this.p, guarded((status: number, bytes: number, frames: number) => this.outcome(status, bytes, frames)));
    src.takeReads(() => this.stop());
    this.watch(true);
  }

  credit(n: number): void {
    if (this.stopped) return;
    native.pumpCredit(this.p, n);
    this.watch(true);
  }

  kick(): void {
    this.watch(true);
  }

  sync(): void {
    if (this.stopped) return;
    const [bytes, frames] = native.pumpTakeSent(this.p);
    if (bytes > 0) this.ev.onSent(bytes, frames);
  }

  stop(): void {
    if (this.stopped) return;
    this.sync();
    this.watch(false);
    this.stopped = true;
    native.pumpStop(this.p);
  }

  private watch(on: boolean): void {
    if (on === this.watching || (on && this.stopped)) return;
    this.watching = on;
    os.setReadHandler(this.src.fd, on ? this.onReadable : null);
  }

  private linkFull(): void {
    this.watch(false);
    this.link.wantDrain();
    this.ev.onLinkFull();
  }

  private outcome(status: number, bytes: number, frames: number): void {
    if (this.stopped) return;
    if (bytes > 0) this.ev.onSent(bytes, frames);
    switch (status as PumpStatus) {
      case PumpStatus.Dry:
      case PumpStatus.Budget: // still readable: the loop calls again after the other descriptors
        return;
      case PumpStatus.NoCredit:
        return this.watch(false);
      case PumpStatus.LinkFull:
        return this.linkFull();
      case PumpStatus.Eof: {
        this.stop();
        this.src.readsEnded();
        later(() => this.ev.onEnd());
        return;
      }
      case PumpStatus.SourceError:
      case PumpStatus.LinkError: {
        const err = native.pumpError(this.p);
        this.stop();
        later(() => this.ev.onError(err));
        return;
      }
      default:
        this.stop();
    }
  }
}

/** One connection attempt: resolve → TCP connect → (TLS handshake), bounded by one deadline. */
function dial(
  host: string, port: number, timeoutMs: number, tls: TlsOptions | null, cb: ConnectCallback,
): void {
  let fd = -1;
  let resolverFd = -1;
  let conn: native.TlsConn | null = null;
  let done = false;
  const timer = os.setTimeout(guarded(() => fail(`connect to ${host}:${port} timed out after ${timeoutMs} ms`)), timeoutMs);

  function clearWatch(): void {
    if (resolverFd >= 0) setRead(resolverFd, null);
    if (fd >= 0) {
      setRead(fd, null);
      setWrite(fd, null);
    }
  }
  function fail(err: string): void {
    if (done) return;
    done = true;
    os.clearTimeout(timer);
    clearWatch();
    if (resolverFd >= 0) native.close(resolverFd);
    if (conn) native.tlsFree(conn);
    if (fd >= 0) native.close(fd);
    cb(err, null);
  }
  function succeed(t: Transport, info?: string): void {
    done = true;
    os.clearTimeout(timer);
    clearWatch();
    const sock = new QjsSocket(fd, t, info);
    cb(null, sock);
    sock.start();
  }
  function handshake(): void {
    if (done || !conn) return;
    let r: number;
    try {
      r = native.tlsHandshake(conn);
    } catch (e) {
      fail(`${host}:${port}: ${errText(e)}`);
      return;
    }
    if (r === 0) succeed(tlsTransport(fd, conn), native.tlsInfo(conn));
    else {
      setRead(fd, r === 1 ? handshake : null);
      setWrite(fd, r === 2 ? handshake : null);
    }
  }
  function connected(): void {
    if (done) return;
    setWrite(fd, null);
    const err = native.connectResult(fd);
    if (err !== null) return fail(`connect to ${host}:${port}: ${err}`);
    try {
      native.setKeepAlive(fd, 30, 10, 3);
      // Small RTSP requests/responses must not wait for Nagle (+40 ms per viewer connection).
      native.setNoDelay(fd, true);
      if (!tls) return succeed(tcpTransport(fd));
      conn = native.tlsNew(fd, {
        caPem: tls.caPem, spkiSha256: tls.spkiSha256, serverName: tls.serverName ?? host,
      });
    } catch (e) {
      return fail(`${host}:${port}: ${errText(e)}`);
    }
    handshake();
  }
  function resolved(): void {
    if (done) return;
    setRead(resolverFd, null);
    const rfd = resolverFd;
    resolverFd = -1;
    try {
      const ip = native.resolveResult(rfd);
      fd = native.tcpConnect(ip, port);
    } catch (e) {
      return fail(`connect to ${host}:${port}: ${errText(e)}`);
    }
    setWrite(fd, connected);
  }

  try {
    resolverFd = native.resolveStart(host);
  } catch (e) {
    // Report asynchronously like every other outcome.
    later(() => fail(`connect to ${host}:${port}: ${errText(e)}`));
    return;
  }
  setRead(resolverFd, resolved);
}

export interface QuickJsPlatform extends Platform {
  /** From now on log to syslog (daemon facility) instead of stderr. */
  useSyslog(): void;
}

export function createQuickJsPlatform(): QuickJsPlatform {
  const timers = new Map<number, unknown>();
  let nextTimer = 1;

  return {
    connectTcp(host, port, timeoutMs, cb) {
      dial(host, port, timeoutMs, null, cb);
    },
    connectTls(host, port, tlsOpts, timeoutMs, cb) {
      dial(host, port, timeoutMs, tlsOpts, cb);
    },
    setTimer(ms, fn) {
      const id = nextTimer++;
      timers.set(id, os.setTimeout(guarded(() => {
        timers.delete(id);
        fn();
      }), Math.max(0, ms)));
      return id;
    },
    clearTimer(id) {
      const h = timers.get(id);
      if (h === undefined) return;
      timers.delete(id);
      os.clearTimeout(h);
    },
    now: () => native.now(),
    pump(source, link, streamId, credit, ev) {
      if (source instanceof QjsSocket && link instanceof QjsSocket && link.t.conn && source.t.conn === null) {
        return new NativePump(source, link, link.t.conn, streamId, credit, ev);
      }
      return jsPump(source, link, streamId, credit, ev, later);
    },
    randomBytes(n) {
      const out = new Uint8Array(n);
      for (let off = 0; off < n; off += 16384) {
        out.set(new Uint8Array(native.randomBytes(Math.min(16384, n - off))), off);
      }
      return out;
    },
    readFile(path) {
      const b = native.readFile(path);
      return b === null ? null : new Uint8Array(b);
    },
    writeFileAtomic(path, data) {
      native.writeFileAtomic(path, data);
    },
    log(level, msg) {
      native.log(LEVELS[level] ?? 3, msg);
    },
    useSyslog() {
      native.openSyslog("flussonic-agent");
    },
  };
}

/** Versions for `--version`: runtime, TLS library and target CPU of this binary. */
export function runtimeVersionLine(): string {
  const b = native.buildInfo();
  return `runtime: QuickJS ${b.quickjs}, TLS: ${b.tls}, target: linux-${b.arch} (${b.libc}, static)`;
}

/** Target description, e.g. "linux-armhf (musl)". */
export function targetName(): string {
  const b = native.buildInfo();
  return `linux-${b.arch} (${b.libc})`;
}

/** Leave the process now with this code (stdout/stderr are unbuffered writes). */
export function exitNow(code: number): void {
  native.exit(code);
}

export function writeStdoutLine(line: string): void {
  native.writeOut(line + "\n");
}

/** Command line after the program name. */
export function programArgs(): string[] {
  return typeof scriptArgs !== "undefined" ? scriptArgs.slice(1) : [];
}

export interface TestListener {
  port: number;
  close(): void;
}

/**
 * TCP listener on 127.0.0.1 for test-only binaries (TEST_SERVER=1, e.g. the fake camera).
 * The production agent is built without the native listen functions: this throws there.
 */
export function listenTcpForTests(
  port: number, onConnection: (sock: Socket) => void, ip = "127.0.0.1",
): TestListener {
  const { listenTcp, accept, localPort } = native;
  if (!listenTcp || !accept || !localPort) throw new Error("this binary has no listen capability");
  const fd = listenTcp(port, ip);
  setRead(fd, () => {
    for (;;) {
      const c = accept(fd);
      if (c === undefined) return;
      const sock = new QjsSocket(c, tcpTransport(c));
      onConnection(sock);
      sock.start();
    }
  });
  return {
    port: localPort(fd),
    close() {
      setRead(fd, null);
      native.close(fd);
    },
  };
}
