// The host half of cli/agent-bridge.ts: runs build/bundle/agent-bridge.js inside quickjs-emscripten
// (the release "sync" WebAssembly build of QuickJS) and forwards each `__host` call to a real
// Platform on Node (NodePlatform: net, tls, fs, crypto). Host events go back in through
// `__bridgeDispatch`, always from Node's event loop, each followed by the VM's pending jobs.
//
//   const agent = await startBridgedAgent(code, { argv: ["--config", f], platform: new NodePlatform(log) });
//   await agent.waitForLog(/session live/, 10_000);
//   agent.dispose();   // closes its sockets and timers, frees the VM
import { getQuickJS, type QuickJSContext, type QuickJSHandle, type QuickJSRuntime } from "quickjs-emscripten";
import type { LogLevel, Platform, Socket, TlsOptions } from "../agent-src/src/platform/platform";
import { waitForMatch } from "./wait-line";

export interface BridgedAgentOptions {
  argv: string[];
  /** Does the real work for the guest. */
  platform: Platform;
  arch?: string;
  /** QuickJS heap limit: the camera has 32–64 MB for everything. */
  memoryLimitBytes?: number;
  /** A single guest call running longer than this is interrupted (a runaway loop fails the test, not the machine). */
  callBudgetMs?: number;
  /** Sees every guest log line as it happens (debugging). */
  onLog?: (line: string) => void;
}

export interface BridgeStats {
  /** Events delivered into the guest. */
  events: number;
  /** Socket bytes host → guest and guest → host. */
  bytesIn: number;
  bytesOut: number;
  /** Wall time spent inside the VM (dispatch + pending jobs). */
  guestMs: number;
  /** Largest QuickJS heap seen between events (sampled after every 4th). */
  peakHeapBytes: number;
}

export interface BridgedAgent {
  /** "LEVEL message" per guest log call, in order. */
  readonly logs: string[];
  /** Lines the CLI printed to stdout (help, version). */
  readonly out: string[];
  /** Set when the guest called io.exit. */
  exitCode(): number | null;
  /** Exceptions that escaped the guest into the host: the core must never let one out. */
  readonly guestErrors: string[];
  readonly stats: BridgeStats;
  /** Resolves with the first log line (past or future) matching re; rejects on timeout, exit or guest error. */
  waitForLog(re: RegExp, timeoutMs: number): Promise<RegExpMatchArray>;
  /** Bytes the QuickJS heap currently uses. */
  memoryUsed(): number;
  /** Destroys the guest's sockets, clears its timers, frees the context and runtime. Idempotent. */
  dispose(): void;
}

const LEVELS = new Set(["debug", "info", "warn", "error"]);

export async function startBridgedAgent(bundleCode: string, opts: BridgedAgentOptions): Promise<BridgedAgent> {
  const QuickJS = await getQuickJS();
  const rt: QuickJSRuntime = QuickJS.newRuntime();
  rt.setMemoryLimit(opts.memoryLimitBytes ?? 16 * 1024 * 1024);
  rt.setMaxStackSize(512 * 1024);
  const budget = opts.callBudgetMs ?? 5000;
  let deadline = Infinity;
  rt.setInterruptHandler(() => Date.now() > deadline);
  const vm: QuickJSContext = rt.newContext();
  const p = opts.platform;

  const logs: string[] = [];
  const out: string[] = [];
  const guestErrors: string[] = [];
  const stats: BridgeStats = { events: 0, bytesIn: 0, bytesOut: 0, guestMs: 0, peakHeapBytes: 0 };
  let exitCode: number | null = null;
  let disposed = false;
  const waiters = new Set<() => void>();
  const notify = () => waiters.forEach((w) => w());

  const sockets = new Map<number, Socket>();
  const connecting = new Set<number>();
  const timers = new Map<number, number>();

  let dispatchFn: QuickJSHandle | null = null;

  const heapUsed = (): number => {
    const h = rt.computeMemoryUsage();
    try {
      return (vm.dump(h) as { memory_used_size: number }).memory_used_size;
    } finally {
      h.dispose();
    }
  };

  let inside = false;
  /** Runs guest code with a deadline; records anything it throws. */
  const inGuest = (what: string, run: () => void) => {
    if (inside) throw new Error(`re-entrant guest call (${what}): the platform delivered an event synchronously`);
    inside = true;
    const t0 = performance.now();
    deadline = Date.now() + budget;
    try {
      try {
        run();
      } catch (e) {
        // e.g. the heap limit hit while copying bytes in: the VM is unusable, the test must fail.
        guestErrors.push(`${what}: host-side failure: ${(e as Error).message}`);
      }
      for (let round = 0; round < 1000 && rt.hasPendingJob(); round++) {
        const r = rt.executePendingJobs();
        if (r.error) {
          guestErrors.push(`${what} (pending job): ${fmt(vm, r.error)}`);
          r.error.dispose();
        }
      }
    } finally {
      inside = false;
      deadline = Infinity;
      stats.guestMs += performance.now() - t0;
    }
    if (stats.events % 4 === 0) stats.peakHeapBytes = Math.max(stats.peakHeapBytes, heapUsed());
    notify();
  };

  /** Host → guest: one event through __bridgeDispatch. Dropped once disposed. */
  const deliver = (event: string, id: number, arg?: Uint8Array | string | null): void => {
    if (disposed || !dispatchFn) return;
    // The Platform contract forbids synchronous callbacks; keep the guest safe if a host platform slips.
    if (inside) {
      guestErrors.push(`host platform delivered ${event} #${id} synchronously (contract violation)`);
      return void setImmediate(() => deliver(event, id, arg));
    }
    stats.events++;
    inGuest(`${event} #${id}`, () => {
      const args: QuickJSHandle[] = [vm.newString(event), vm.newNumber(id)];
      if (arg instanceof Uint8Array) {
        stats.bytesIn += arg.length;
        args.push(vm.newArrayBuffer(exactBuffer(arg)));
      } else if (typeof arg === "string") args.push(vm.newString(arg));
      try {
        const r = vm.callFunction(dispatchFn!, vm.undefined, ...args);
        if (r.error) {
          guestErrors.push(`${event} #${id}: ${fmt(vm, r.error)}`);
          r.error.dispose();
        } else r.value.dispose();
      } finally {
        args.forEach((h) => h.dispose());
      }
    });
  };

  /** Guest → host byte copies: quickjs-emscripten hands out a view of WebAssembly memory, freed on dispose. */
  const bytesOf = (h: QuickJSHandle): Uint8Array => {
    const life = vm.getArrayBuffer(h);
    try {
      return new Uint8Array(life.value); // copies
    } finally {
      life.dispose();
    }
  };
  const num = (h: QuickJSHandle) => vm.getNumber(h);
  const str = (h: QuickJSHandle) => vm.getString(h);

  const wire = (id: number) => (err: string | null, sock: Socket | null) => {
    connecting.delete(id);
    if (disposed) return sock?.destroy();
    if (err || !sock) return deliver("connect", id, err ?? "no socket");
    sockets.set(id, sock);
    // Handlers first, then the connect event: the core assigns its own handlers inside it.
    sock.onData = (d) => deliver("data", id, d);
    sock.onEnd = () => deliver("end", id);
    sock.onDrain = () => deliver("drain", id);
    sock.onClose = (e) => {
      sockets.delete(id);
      deliver("close", id, e);
    };
    deliver("connect", id, null);
  };

  const hostFns: Record<string, (...a: QuickJSHandle[]) => QuickJSHandle | undefined | { error: QuickJSHandle }> = {
    connectTcp: (id, host, port, timeout) => {
      const i = num(id);
      connecting.add(i);
      p.connectTcp(str(host), num(port), num(timeout), wire(i));
      return undefined;
    },
    connectTls: (id, host, port, optsJson, timeout) => {
      const i = num(id);
      connecting.add(i);
      p.connectTls(str(host), num(port), JSON.parse(str(optsJson)) as TlsOptions, num(timeout), wire(i));
      return undefined;
    },
    write: (id, data) => {
      const s = sockets.get(num(id));
      if (!s) return vm.false;
      const b = bytesOf(data);
      stats.bytesOut += b.length;
      return s.write(b) ? vm.true : vm.false;
    },
    end: (id) => void sockets.get(num(id))?.end(),
    destroy: (id) => void sockets.get(num(id))?.destroy(),
    pause: (id) => void sockets.get(num(id))?.pause(),
    resume: (id) => void sockets.get(num(id))?.resume(),
    setTimer: (id, ms) => {
      const i = num(id);
      timers.set(i, p.setTimer(num(ms), () => {
        timers.delete(i);
        deliver("timer", i);
      }));
      return undefined;
    },
    clearTimer: (id) => {
      const i = num(id);
      const t = timers.get(i);
      if (t !== undefined) p.clearTimer(t);
      timers.delete(i);
      return undefined;
    },
    now: () => vm.newNumber(p.now()),
    randomBytes: (n) => vm.newArrayBuffer(exactBuffer(p.randomBytes(num(n)))),
    readFile: (path) => {
      try {
        const b = p.readFile(str(path));
        return b === null ? vm.null : vm.newArrayBuffer(exactBuffer(b));
      } catch (e) {
        return { error: vm.newError((e as Error).message) };
      }
    },
    writeFileAtomic: (path, data) => {
      try {
        p.writeFileAtomic(str(path), bytesOf(data));
        return undefined;
      } catch (e) {
        return { error: vm.newError((e as Error).message) };
      }
    },
    log: (level, msg) => {
      const l = str(level);
      const line = `${l.toUpperCase()} ${str(msg)}`;
      logs.push(line);
      opts.onLog?.(line);
      if (LEVELS.has(l)) p.log(l as LogLevel, str(msg));
      notify();
      return undefined;
    },
    out: (line) => {
      out.push(str(line));
      return undefined;
    },
    exit: (code) => {
      exitCode = num(code);
      notify();
      return undefined;
    },
  };

  // Build __host; every handle made here is released once it is a property.
  const hostObj = vm.newObject();
  for (const [name, fn] of Object.entries(hostFns)) {
    const f = vm.newFunction(name, fn);
    vm.setProp(hostObj, name, f);
    f.dispose();
  }
  const argvHandle = vm.unwrapResult(vm.evalCode(JSON.stringify(opts.argv)));
  vm.setProp(hostObj, "argv", argvHandle);
  argvHandle.dispose();
  const archHandle = vm.newString(opts.arch ?? "quickjs-emscripten");
  vm.setProp(hostObj, "arch", archHandle);
  archHandle.dispose();
  vm.setProp(vm.global, "__host", hostObj);
  hostObj.dispose();

  const agent: BridgedAgent = {
    logs,
    out,
    guestErrors,
    stats,
    exitCode: () => exitCode,
    waitForLog: (re, timeoutMs) =>
      waitForMatch(re, {
        lines: logs, waiters, timeoutMs,
        failure: () =>
          guestErrors.length ? `guest threw before ${re}: ${guestErrors[0]}`
          : exitCode !== null ? `agent exited (${exitCode}) before ${re}; log:\n${logs.slice(-20).join("\n")}`
          : null,
        timeoutMessage: () => `no agent log line matching ${re} within ${timeoutMs} ms; log:\n${logs.slice(-20).join("\n")}`,
      }),
    memoryUsed: heapUsed,
    dispose: () => {
      if (disposed) return;
      disposed = true;
      for (const s of sockets.values()) s.destroy();
      sockets.clear();
      for (const t of timers.values()) p.clearTimer(t);
      timers.clear();
      dispatchFn?.dispose();
      dispatchFn = null;
      vm.dispose();
      rt.dispose();
    },
  };

  // Load the payload: it installs __bridgeDispatch and calls main(), which starts connecting.
  try {
    inGuest("load", () => {
      const r = vm.evalCode(bundleCode, "agent-bridge.js");
      if (r.error) {
        guestErrors.push(`load: ${fmt(vm, r.error)}`);
        r.error.dispose();
      } else r.value.dispose();
      const d = vm.getProp(vm.global, "__bridgeDispatch");
      if (vm.typeof(d) === "function") dispatchFn = d;
      else {
        d.dispose();
        guestErrors.push("load: the bundle did not install globalThis.__bridgeDispatch");
      }
    });
  } catch (e) {
    agent.dispose();
    throw e;
  }
  return agent;
}

function exactBuffer(b: Uint8Array): ArrayBuffer {
  return b.byteOffset === 0 && b.byteLength === b.buffer.byteLength
    ? (b.buffer as ArrayBuffer)
    : (b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength) as ArrayBuffer);
}

function fmt(vm: QuickJSContext, err: QuickJSHandle): string {
  const e = vm.dump(err) as { name?: string; message?: string; stack?: string } | string;
  if (typeof e !== "object" || e === null) return String(e);
  return `${e.name ?? "Error"}: ${e.message ?? ""}${e.stack ? `\n${e.stack}` : ""}`;
}
