/**
 * Boots an emulated camera in QEMU with user networking locked down (restrict=on): the test
 * reaches guest ports only through hostfwd on 127.0.0.1, the guest reaches host services only
 * through guestfwd 10.0.2.100:<port> -> 127.0.0.1:<port>. Every wait has a deadline and QEMU is
 * killed on stop(), on process exit, and by a watchdog if this Node process dies abruptly.
 */
import { spawn } from "node:child_process";
import { execa, ResultPromise } from "execa";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { connect } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { BOARDS } from "./boards.js";
import type { Image } from "./image.js";
import { SerialLine } from "./serial.js";

export interface PortMap {
  /** Port on the host side (127.0.0.1). */
  host: number;
  /** Port on the guest side (guest's own port for hostfwd, 10.0.2.100:<guest> for guestfwd). */
  guest: number;
}

export interface BootOptions {
  image: Image;
  hostfwd?: PortMap[];
  guestfwd?: PortMap[];
  /** Deadline for the control shell to answer after QEMU starts. */
  bootTimeoutMs?: number;
  /** Let a guest "reboot" power the board on again (Guest.reboot) instead of ending the test's guest. */
  allowReboot?: boolean;
  extraCmdline?: string;
  /** Attach a 1 MB raw disk as the camera's flash (/dev/vda; boards with flashArgs only). */
  flash?: boolean;
  /**
   * "host" (default): hand the host's time to the guest on the kernel command line, as NTP would.
   * "unset": don't — an RTC-less board (raspi0) then runs in 1970, like a camera before NTP.
   */
  clock?: "host" | "unset";
}

/** The address the guest uses for host services (guestfwd). */
export const HOST_FROM_GUEST = "10.0.2.100";

const live = new Set<Guest>();
process.once("exit", () => {
  for (const g of live) g.killNow();
});

/** Ports for hostfwd and host services: the test kit's picker (below the ephemeral range, never twice). */
export { freePort } from "../../testkit/procs.js";

export function qemuArgs(opts: BootOptions, dir: string): string[] {
  const { image } = opts;
  const b = BOARDS[image.arch];
  const fwd = [
    ...(opts.hostfwd ?? []).map((p) => `hostfwd=tcp:127.0.0.1:${p.host}-:${p.guest}`),
    // The -cmd: form spawns socat per guest connection; the -tcp: form connects once at start.
    ...(opts.guestfwd ?? []).map((p) => `guestfwd=tcp:${HOST_FROM_GUEST}:${p.guest}-cmd:socat - TCP:127.0.0.1:${p.host}`),
  ];
  const cmdline = [`console=${b.consoleTty}`, "rdinit=/init", "panic=-1", "loglevel=4", opts.clock === "unset" ? "" : `camera.time=${Math.floor(Date.now() / 1000)}`, b.extraCmdline, opts.extraCmdline ?? ""]
    .filter(Boolean)
    .join(" ");
  return [
    ...b.machineArgs,
    "-m", String(b.memMb),
    "-nographic", "-nodefaults", "-no-user-config",
    // Always: a guest reset ends QEMU, and Guest.reboot starts the board again (see there why).
    "-no-reboot",
    "-kernel", image.kernel,
    "-initrd", image.initrd,
    ...(image.dtb ? ["-dtb", image.dtb] : []),
    "-append", cmdline,
    "-netdev", ["user", "id=n0", "restrict=on", ...fwd].join(","),
    ...b.nicArgs,
    "-chardev", `socket,id=con,path=${join(dir, "console.sock")},server=on,wait=off,logfile=${join(dir, "console.log")},logappend=on`,
    "-chardev", `socket,id=ctl,path=${join(dir, "control.sock")},server=on,wait=off,logfile=${join(dir, "control.log")},logappend=on`,
    "-serial", "chardev:con",
    ...(b.controlArgs.length ? b.controlArgs : ["-serial", "chardev:ctl"]),
    "-qmp", `unix:${join(dir, "qmp.sock")},server=on,wait=off`,
    ...(opts.flash && b.flashArgs ? ["-drive", `if=none,id=flash,format=raw,file=${join(dir, "flash.img")}`, ...b.flashArgs] : []),
  ];
}

/** A boot whose emulated machine printed nothing at all on its console (see bootGuest). */
class SilentBoot extends Error {}

export class Guest {
  console!: SerialLine;
  control!: SerialLine;
  readonly dir: string;
  private proc: ResultPromise | null = null;
  private watchdog: ReturnType<typeof spawn> | null = null;
  private seq = 0;
  /** ms from QEMU start until the control shell answered. */
  bootMs = 0;
  exited = false;

  constructor(readonly opts: BootOptions) {
    this.dir = mkdtempSync(join(tmpdir(), `cam-${opts.image.arch}-`));
  }

  async start(): Promise<this> {
    const b = BOARDS[this.opts.image.arch];
    live.add(this);
    if (this.opts.flash) {
      if (!b.flashArgs) throw new Error(`${this.opts.image.arch}: no flash disk on this board`);
      writeFileSync(join(this.dir, "flash.img"), Buffer.alloc(1 << 20));
    }
    await this.powerOn(this.opts.bootTimeoutMs ?? 120_000);
    return this;
  }

  /** Start QEMU on this guest's folder (flash disk and logs kept) and wait for the control shell. */
  private async powerOn(timeout: number): Promise<void> {
    const t0 = Date.now();
    this.exited = false;
    const proc = execa(BOARDS[this.opts.image.arch].qemu, qemuArgs(this.opts, this.dir), { reject: false, stdin: "ignore", buffer: false, all: true });
    this.proc = proc;
    proc.then(() => {
      if (this.proc === proc) this.exited = true;
    });
    this.proc.all?.on("data", (d: Buffer) => {
      if (this.qemuOut.length < 20000) this.qemuOut += d.toString();
    });
    const pid = this.proc.pid!;
    // If this Node process is SIGKILLed (test-runner timeout), no exit handler runs: a detached
    // watcher kills QEMU once our pid is gone (bounded to 2 h of 1 s polls).
    this.watchdog = spawn(
      "sh",
      ["-c", `i=0; while [ $i -lt 7200 ] && kill -0 ${process.pid} 2>/dev/null && kill -0 ${pid} 2>/dev/null; do sleep 1; i=$((i+1)); done; kill -9 ${pid} 2>/dev/null`],
      { detached: true, stdio: "ignore" },
    );
    this.watchdog.unref();
    try {
      this.console = await SerialLine.open(join(this.dir, "console.sock"), 10_000);
      this.control = await SerialLine.open(join(this.dir, "control.sock"), 10_000);
      await this.waitControl(timeout);
      this.bootMs = Date.now() - t0;
    } catch (e) {
      // Read the logs before stop() removes the guest's directory.
      const consoleTail = this.consoleLog().slice(-3000);
      const silent = !consoleTail.trim() && !this.exited; // wedged, not crashed or failing
      await this.stop();
      throw new (silent ? SilentBoot : Error)(`${this.opts.image.arch} boot failed: ${e}\n--- console ---\n${consoleTail}\n--- qemu ---\n${this.qemuOutput()}`);
    }
  }

  /**
   * Reboot the guest (needs allowReboot): busybox init runs rcK (the flash is saved there), the
   * kernel resets the board, QEMU (-no-reboot) exits, and we power the same board on again with
   * the same flash disk, as a camera's reset starts over from its bootloader. Returns ms until the
   * new boot's control shell answered.
   * Why not QEMU's own warm reset: on QEMU 7.2 (TCG), after a reset of the armhf `virt` board
   * the kernel's zImage copies itself at a few KB/s (watched in its relocation loop with
   * `info registers`): a Buildroot-built image took minutes to print its first line, which
   * says nothing about the camera.
   */
  async reboot(timeoutMs = 120_000): Promise<number> {
    if (!this.opts.allowReboot) throw new Error("reboot: boot the guest with allowReboot");
    const t0 = Date.now();
    this.control.write("reboot\n");
    await Promise.race([this.proc, new Promise((r) => setTimeout(r, timeoutMs))]);
    if (!this.exited) throw new Error(`guest did not reset within ${timeoutMs} ms\n--- console ---\n${this.consoleLog().slice(-2000)}`);
    this.console.close();
    this.control.close();
    this.watchdog?.kill();
    await this.powerOn(Math.max(10_000, timeoutMs - (Date.now() - t0)));
    return Date.now() - t0;
  }

  /** Poke the control shell until it answers (busybox init starts it after rcS). */
  private async waitControl(timeoutMs: number): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    for (let i = 0; Date.now() < deadline && i < 1000; i++) {
      if (this.exited) throw new Error("QEMU exited");
      this.control.write("\nstty -echo; echo RE''ADY\n");
      if (await this.control.expect([/READY/], 1000)) {
        this.control.clear();
        return;
      }
    }
    throw new Error(`control shell silent for ${timeoutMs} ms`);
  }

  /** Run a shell command on the control channel; returns its output and exit status. */
  async sh(cmd: string, timeoutMs = 20_000): Promise<{ out: string; code: number }> {
    const n = ++this.seq;
    this.control.write(`echo __B${n}; ${cmd}; echo __E''${n} $?\n`);
    const m = await this.control.expect([new RegExp(`__B${n}\\r?\\n([\\s\\S]*?)__E${n} (\\d+)`)], timeoutMs);
    if (!m) throw new Error(`guest command timed out after ${timeoutMs} ms: ${cmd}`);
    return { out: m.match[1].replace(/\r/g, ""), code: Number(m.match[2]) };
  }

  /** Run, and fail unless it exits 0. */
  async run(cmd: string, timeoutMs = 20_000): Promise<string> {
    const r = await this.sh(cmd, timeoutMs);
    if (r.code !== 0) throw new Error(`guest command failed (${r.code}): ${cmd}\n${r.out}`);
    return r.out;
  }

  /** Send one QMP command (fresh connection each time: simple and robust). */
  async qmp(execute: string, args?: object, timeoutMs = 5000): Promise<unknown> {
    return new Promise((resolve, reject) => {
      const c = connect(join(this.dir, "qmp.sock"));
      let buf = "";
      let step = 0;
      const t = setTimeout(() => {
        c.destroy();
        reject(new Error(`qmp ${execute} timed out`));
      }, timeoutMs);
      c.on("error", (e) => {
        clearTimeout(t);
        reject(e);
      });
      c.on("data", (d) => {
        buf += d.toString();
        let nl;
        while ((nl = buf.indexOf("\n")) >= 0) {
          const msg = JSON.parse(buf.slice(0, nl));
          buf = buf.slice(nl + 1);
          if (msg.QMP && step === 0) {
            step = 1;
            c.write(JSON.stringify({ execute: "qmp_capabilities" }) + "\n");
          } else if (step === 1 && ("return" in msg || "error" in msg)) {
            step = 2;
            c.write(JSON.stringify({ execute, arguments: args }) + "\n");
          } else if (step === 2 && ("return" in msg || "error" in msg)) {
            clearTimeout(t);
            c.destroy();
            if (msg.error) reject(new Error(`qmp ${execute}: ${msg.error.desc}`));
            else resolve(msg.return);
          }
        }
      });
    });
  }

  consoleLog(): string {
    try {
      return readFileSync(join(this.dir, "console.log"), "latin1");
    } catch {
      return "";
    }
  }

  private qemuOut = "";
  /** QEMU's own stdout/stderr (errors such as a hostfwd port already in use). */
  qemuOutput(): string {
    return this.qemuOut;
  }

  killNow(): void {
    try {
      if (this.proc?.pid && !this.exited) process.kill(this.proc.pid, "SIGKILL");
    } catch {
      /* already gone */
    }
  }

  /** Power off (fast path) or kill; always leaves no QEMU behind. Idempotent. */
  async stop(): Promise<void> {
    if (this.proc && !this.exited) {
      try {
        this.control?.write("\npoweroff -f\n");
      } catch {
        /* ignore */
      }
      await Promise.race([this.proc, new Promise((r) => setTimeout(r, 2000))]);
      this.killNow();
      await Promise.race([this.proc, new Promise((r) => setTimeout(r, 5000))]);
    }
    this.console?.close();
    this.control?.close();
    live.delete(this);
    if (!process.env.KEEP_GUEST_DIR) rmSync(this.dir, { recursive: true, force: true });
  }
}

/**
 * Boot a guest. One retry when the first attempt printed nothing at all on the console: on a
 * heavily loaded host the emulated raspi0 has been seen to wedge before the kernel's first line,
 * which says nothing about the image (a guest that prints and then fails is not retried).
 */
export async function bootGuest(opts: BootOptions): Promise<Guest> {
  try {
    return await new Guest(opts).start();
  } catch (e) {
    if (!(e instanceof SilentBoot)) throw e;
    console.log(`${opts.image.arch}: emulated machine printed nothing in ${opts.bootTimeoutMs ?? 120_000} ms; booting once more`);
    return new Guest(opts).start();
  }
}
