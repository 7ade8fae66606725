// Throwaway root filesystems for the init-script and hardening tests: real BusyBox (Debian's
// busybox-static, the same binary the QEMU images use) in a chroot inside fresh mount, PID and
// network namespaces, so nothing started there can outlive the test or reach any network.
import { execa } from "execa";
import { chmodSync, copyFileSync, existsSync, mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

export const REPO = resolve(dirname(fileURLToPath(import.meta.url)), "../..");
export const PKG = join(REPO, "package/flussonic-agent");
export const HARDEN_PKG = join(REPO, "package/flussonic-harden");
export const BUSYBOX = "/bin/busybox";

/** Why the chroot tests cannot run here, or null when they can. */
export function chrootUnavailable(): string | null {
  if (process.getuid?.() !== 0) return "needs root (chroot, unshare)";
  if (!existsSync(BUSYBOX)) return "needs busybox-static (scripts/install-buildroot-deps.sh)";
  return null;
}

export function tempDir(prefix: string): string {
  return mkdtempSync(join(tmpdir(), `br-${prefix}-`));
}

export function write(root: string, path: string, text: string, mode = 0o644): void {
  const p = join(root, path);
  mkdirSync(dirname(p), { recursive: true });
  writeFileSync(p, text);
  chmodSync(p, mode);
}

/** Installs a repo file the way the Buildroot package does ($(INSTALL) -D -m MODE). */
export function install(src: string, root: string, dest: string, mode: number): void {
  const p = join(root, dest);
  mkdirSync(dirname(p), { recursive: true });
  copyFileSync(src, p);
  chmodSync(p, mode);
}

/** flussonic-harden and the files it needs beside it, as flussonic-harden.mk installs them. */
export function installHarden(root: string): void {
  install(join(HARDEN_PKG, "flussonic-harden"), root, "usr/sbin/flussonic-harden", 0o755);
  install(join(HARDEN_PKG, "flussonic-listeners"), root, "usr/sbin/flussonic-listeners", 0o755);
  install(join(HARDEN_PKG, "flussonic-harden-common.sh"), root, "usr/share/flussonic-harden/flussonic-harden-common.sh", 0o644);
  install(join(HARDEN_PKG, "default-credentials.tsv"), root, "usr/share/flussonic-harden/default-credentials.tsv", 0o644);
}

/** A minimal BusyBox root: /bin/busybox and its applet links, /dev nodes, /proc, /tmp, /var/run. */
export async function busyboxRoot(root: string): Promise<void> {
  for (const d of ["bin", "sbin", "usr/bin", "usr/sbin", "etc/init.d", "etc/default", "dev", "proc", "tmp", "var/run", "var/lib"]) {
    mkdirSync(join(root, d), { recursive: true });
  }
  copyFileSync(BUSYBOX, join(root, "bin/busybox"));
  chmodSync(join(root, "bin/busybox"), 0o755);
  const { stdout } = await execa(BUSYBOX, ["--list"]);
  for (const applet of stdout.split("\n").filter(Boolean)) {
    // telnetd stays out: a camera image decides that itself (tests add it where they need it).
    if (applet === "telnetd" || existsSync(join(root, "bin", applet))) continue;
    symlinkSync("busybox", join(root, "bin", applet));
  }
  await execa("mknod", ["-m", "666", join(root, "dev/null"), "c", "1", "3"]);
  await execa("mknod", ["-m", "444", join(root, "dev/urandom"), "c", "1", "9"]);
}

/**
 * Runs `sh -c script` chrooted in root, as PID 1 of new PID/mount/network namespaces with /proc
 * mounted: when it ends (or the timeout kills unshare, which SIGKILLs its child) every process it
 * started is gone with it. The network namespace has only a downed loopback.
 */
export async function inChroot(root: string, script: string, timeoutMs = 30_000) {
  return execa(
    "unshare",
    ["--mount", "--pid", "--net", "--fork", "--kill-child", `--mount-proc=${join(root, "proc")}`,
      "chroot", root, "/bin/sh", "-c", script],
    { timeout: timeoutMs, reject: false, all: true, env: { PATH: "/usr/sbin:/usr/bin:/sbin:/bin" }, extendEnv: false },
  );
}

/** crypt(3) through perl (what Buildroot's host has): hash of password with the given salt spec. */
export async function crypt(password: string, salt: string): Promise<string> {
  const { stdout } = await execa("perl", ["-e", "print crypt($ARGV[0], $ARGV[1])", password, salt]);
  return stdout;
}

/** A well-formed SSH public key: what a maker's overlay ships in /root/.ssh/authorized_keys. */
export const OWNER_KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOkpjHHjg5uSjeqBk7Ml1dxg0ub7ar2Sw5pv3g6Ktxbp owner@maker";

/**
 * The owner's way in that hardening keeps: dropbear, keys only, root's authorized_keys (the image
 * trees of these tests would otherwise end with every account locked, which check refuses).
 */
export function ownerSshKey(root: string, key = OWNER_KEY): void {
  write(root, "usr/sbin/dropbear", "", 0o755);
  write(root, "root/.ssh/authorized_keys", key + "\n", 0o600);
}

export function cleanup(dir: string): void {
  rmSync(dir, { recursive: true, force: true });
}
