// The test kit's registry: child processes and temporary folders for tests and test tools. Start a
// process, wait for a ready line, keep its output; make a temporary folder; and always clean up.
//
//   const p = await startProc("ffmpeg", [...], { ready: /READY port=(\d+)/, timeoutMs: 10_000 });
//   p.ready[1]; await p.waitForLine(/connected/, { timeoutMs: 5000 }); await p.stop();
//   const dir = tempDir("fa-agent-");   // removed by cleanup()
//
// No vitest import: plain-Node tools (`make demo`, the bench scripts) use it too. cleanup() is the one
// hook: it stops every process still running and removes every folder tempDir() made. Test files get
// it after their last test from testkit/vitest.ts (a vitest setup file); plain-Node tools call it
// themselves, and the exit handler does the same synchronously if they do not. Processes are also
// killed by the kernel if this process dies: children run under `setpriv --pdeathsig KILL`. Each
// child leads its own process group so stop() reaches grandchildren.
import { spawn, type ChildProcess } from "node:child_process";
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createServer } from "node:net";
import { waitForMatch } from "./wait-line";

export interface ProcOptions {
  /** Resolve startProc once a stdout or stderr line matches this. Without it, resolve after spawn. */
  ready?: RegExp;
  /** How long to wait for the ready line (default 15 s). */
  timeoutMs?: number;
  env?: NodeJS.ProcessEnv;
  cwd?: string;
  /** Label used in error messages (default: the command's base name). */
  name?: string;
  /** "raw": keep stdout apart, unsplit (read it with stdout()), e.g. for data a program writes there. */
  stdoutMode?: "lines" | "raw";
  /** Print every output line to the test's stderr, prefixed with the name (debugging). */
  echo?: boolean;
}

export interface ProcExit {
  code: number | null;
  signal: NodeJS.Signals | null;
}

export interface WaitOptions {
  timeoutMs: number;
  /** Only consider lines with index >= this (from mark()); default 0 = the whole history. */
  after?: number;
}

export interface Proc {
  readonly name: string;
  readonly pid: number;
  readonly child: ChildProcess;
  /** The match of the ready line (empty match when no `ready` was given). */
  readonly ready: RegExpMatchArray;
  /** Resolves when the process has exited, with its code or signal. Never rejects. */
  readonly exited: Promise<ProcExit>;
  /** Null while running. */
  exit(): ProcExit | null;
  /** Output lines so far, stdout and stderr interleaved in arrival order (last MAX_LINES kept). */
  lines(): string[];
  output(): string;
  /** Everything written to stdout, in "raw" stdoutMode only (else ""). */
  stdout(): string;
  /** Index of the next line; pass as `after` to wait only for lines that come later. */
  mark(): number;
  waitForLine(re: RegExp, opts: WaitOptions): Promise<RegExpMatchArray>;
  /** Send a signal to the process group (e.g. SIGSTOP / SIGCONT). */
  signal(sig: NodeJS.Signals): void;
  /** SIGTERM (SIGCONT first, in case it was stopped), SIGKILL after graceMs (default 3 s). Idempotent. */
  stop(graceMs?: number): Promise<ProcExit>;
}

const MAX_LINES = 20_000;
// One registry and one exit handler per Node process, even when vitest re-evaluates this module per file.
const registry = globalThis as { __testProcs?: Set<Proc>; __testDirs?: Set<string> };
const live: Set<Proc> = (registry.__testProcs ??= new Set<Proc>());
const dirs: Set<string> = (registry.__testDirs ??= new Set<string>());
const hasSetpriv = existsSync("/usr/bin/setpriv");

if (!process.listeners("exit").some((l) => l.name === "killTestProcs")) {
  process.once("exit", function killTestProcs() {
    for (const p of live) killGroup(p.pid, "SIGKILL");
    removeDirs();
  });
}

/** A new folder under the system temp dir (prefix "fa-…" by convention), removed by cleanup(). */
export function tempDir(prefix: string): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  dirs.add(dir);
  return dir;
}

function removeDirs(): void {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
  dirs.clear();
}

/** The cleanup hook: stops every process still running, then removes every folder tempDir() made. */
export async function cleanup(): Promise<void> {
  await stopAll();
  removeDirs();
}

function killGroup(pid: number, sig: NodeJS.Signals): void {
  try {
    process.kill(-pid, sig);
  } catch {
    try {
      process.kill(pid, sig);
    } catch {
      // already gone
    }
  }
}

/** Stops every process startProc started that is still running. */
async function stopAll(): Promise<void> {
  await Promise.all([...live].map((p) => p.stop()));
}

export async function startProc(cmd: string, args: string[], opts: ProcOptions = {}): Promise<Proc> {
  const name = opts.name ?? cmd.split("/").pop()!;
  const [file, argv] = hasSetpriv ? ["/usr/bin/setpriv", ["--pdeathsig", "KILL", "--", cmd, ...args]] : [cmd, args];
  const child = spawn(file, argv, {
    cwd: opts.cwd,
    env: opts.env ?? process.env,
    stdio: ["ignore", "pipe", "pipe"],
    detached: true, // own process group, so stop() kills grandchildren too
  });

  const lines: string[] = [];
  let dropped = 0; // lines trimmed from the front; keeps mark() indices stable
  let exitInfo: ProcExit | null = null;
  const waiters = new Set<() => void>();
  const notify = () => waiters.forEach((w) => w());

  const onStream = (stream: NodeJS.ReadableStream) => {
    let partial = "";
    stream.setEncoding("utf8");
    stream.on("data", (chunk: string) => {
      const parts = (partial + chunk).split("\n");
      partial = parts.pop()!;
      for (const line of parts) push(line);
    });
    stream.on("end", () => {
      if (partial) push(partial);
      partial = "";
    });
  };
  const push = (line: string) => {
    lines.push(line);
    if (opts.echo) process.stderr.write(`[${name}] ${line}\n`);
    if (lines.length > MAX_LINES) {
      const n = lines.length - MAX_LINES;
      lines.splice(0, n);
      dropped += n;
    }
    notify();
  };

  const rawStdout: string[] = [];
  if (opts.stdoutMode === "raw") {
    child.stdout!.setEncoding("utf8");
    child.stdout!.on("data", (c: string) => rawStdout.push(c));
  } else {
    onStream(child.stdout!);
  }
  onStream(child.stderr!);

  const spawned = new Promise<void>((resolve, reject) => {
    child.once("spawn", resolve);
    child.once("error", reject);
  });
  const exited = new Promise<ProcExit>((resolve) => {
    child.once("close", (code, signal) => {
      exitInfo = { code, signal };
      live.delete(proc);
      notify();
      resolve(exitInfo);
    });
    child.once("error", () => {
      if (child.pid === undefined) {
        exitInfo = { code: null, signal: null };
        notify();
        resolve(exitInfo);
      }
    });
  });

  const tail = () => lines.slice(-30).join("\n");

  const waitForLine = (re: RegExp, w: WaitOptions): Promise<RegExpMatchArray> =>
    waitForMatch(re, {
      lines, dropped: () => dropped, after: w.after, waiters, timeoutMs: w.timeoutMs,
      failure: () => (exitInfo ? `${name} exited (${fmtExit(exitInfo)}) before printing ${re}; output:\n${tail()}` : null),
      timeoutMessage: () => `${name}: no line matching ${re} within ${w.timeoutMs} ms; output:\n${tail()}`,
    });

  let stopping: Promise<ProcExit> | null = null;
  const proc: Proc = {
    name,
    pid: child.pid ?? -1,
    child,
    ready: [] as unknown as RegExpMatchArray,
    exited,
    exit: () => exitInfo,
    lines: () => lines.slice(),
    output: () => lines.join("\n"),
    stdout: () => rawStdout.join(""),
    mark: () => dropped + lines.length,
    waitForLine,
    signal: (sig) => {
      if (!exitInfo && child.pid) killGroup(child.pid, sig);
    },
    stop: (graceMs = 3000) => {
      if (exitInfo) return Promise.resolve(exitInfo);
      if (!stopping) {
        stopping = (async () => {
          killGroup(child.pid!, "SIGCONT");
          killGroup(child.pid!, "SIGTERM");
          const timer = setTimeout(() => killGroup(child.pid!, "SIGKILL"), graceMs);
          const e = await exited;
          clearTimeout(timer);
          // The leader may exit on SIGTERM while a grandchild ignores it.
          killGroup(child.pid!, "SIGKILL");
          return e;
        })();
      }
      return stopping;
    },
  };

  try {
    await spawned;
  } catch (e) {
    throw new Error(`${name}: cannot start ${cmd}: ${(e as Error).message}`);
  }
  live.add(proc);
  if (opts.ready) {
    try {
      (proc as { ready: RegExpMatchArray }).ready = await waitForLine(opts.ready, { timeoutMs: opts.timeoutMs ?? 15_000 });
    } catch (e) {
      await proc.stop(500);
      throw e;
    }
  }
  return proc;
}

function fmtExit(e: ProcExit): string {
  return e.signal ? `signal ${e.signal}` : `code ${e.code}`;
}

/**
 * A TCP port on 127.0.0.1 that was free a moment ago, for a child process to bind. Not bind(0):
 * that hands out ephemeral ports (32768+), which any process's outgoing connection may take before
 * the child binds (EADDRINUSE seen under load). Each vitest worker draws from its own slice of
 * 20000-31999, so test files running in parallel never race each other; never twice per process.
 */
const PORT_BASE = 20000;
const PORT_SLICE = 1500; // 8 slices below the ephemeral range
const handedOut = new Set<number>();
export async function freePort(): Promise<number> {
  const worker = Number(process.env.VITEST_POOL_ID ?? 0);
  const base = PORT_BASE + (worker % 8) * PORT_SLICE;
  for (let i = 0; i < 200; i++) {
    const port = base + Math.floor(Math.random() * PORT_SLICE);
    if (handedOut.has(port)) continue;
    handedOut.add(port);
    if (await canBind(port)) return port;
  }
  throw new Error(`no free port in ${base}-${base + PORT_SLICE - 1}`);
}

function canBind(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const srv = createServer();
    srv.once("error", () => resolve(false));
    srv.listen(port, "127.0.0.1", () => srv.close(() => resolve(true)));
  });
}
