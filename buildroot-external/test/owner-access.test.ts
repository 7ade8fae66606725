// Hardening that keeps the owner in. Each image below is hardened as the package does it
// (`flussonic-harden build` on the tree, then `check`), then booted in a BusyBox chroot with the
// image's own S05flussonic-harden and a real dropbear started the way Buildroot's S50dropbear
// starts it (DROPBEAR_ARGS from /etc/default/dropbear); logins are tried with dbclient over the
// chroot's own loopback. No default or empty password may work; the owner's way in must; and
// check must refuse, naming the fix, an image that would leave no way in.
import { execa } from "execa";
import { copyFileSync, mkdirSync, readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { HARDEN_PKG, busyboxRoot, chrootUnavailable, cleanup, crypt, install, installHarden, tempDir, write } from "./rootfs";

const HARDEN = join(HARDEN_PKG, "flussonic-harden");
const STRONG = "Tr0ub4dor-&-3-horse";
/** What the maker's provisioning derives from the camera's per-device key (stands in for OTP). */
const DEVICE_PASSWORD = "k7Qm2xVp9RtL4wZs";

const harden = (...args: string[]) => execa("sh", [HARDEN, ...args], { reject: false, all: true });
const holes = (out = "") => out.split("\n").filter((l) => l.includes("HOLE:"));
const rootHash = (root: string) =>
  readFileSync(join(root, "etc/shadow"), "utf8").split("\n").find((l) => l.startsWith("root:"))!.split(":")[1];

/** Host dropbear/dbclient and the libraries they load, at the same paths in the chroot. */
async function addDropbear(root: string): Promise<void> {
  for (const bin of ["/usr/sbin/dropbear", "/usr/bin/dbclient"]) {
    const { stdout } = await execa("ldd", [bin]);
    for (const f of [bin, ...[...stdout.matchAll(/(\/\S+)/g)].map((m) => m[1])]) {
      mkdirSync(join(root, dirname(f)), { recursive: true });
      copyFileSync(f, join(root, f));
    }
  }
  mkdirSync(join(root, "etc/dropbear"), { recursive: true });
}

/** A camera image: BusyBox, dropbear (as Buildroot installs it), our hardening, a console getty. */
async function cameraImage(root: string, rootPassword: string): Promise<void> {
  await busyboxRoot(root);
  await addDropbear(root);
  write(root, "etc/passwd", "root:x:0:0:root:/root:/bin/sh\ndaemon:x:1:1::/:/bin/false\n");
  write(root, "etc/shadow", `root:${rootPassword}:0::::::\ndaemon:*:0::::::\n`, 0o600);
  write(root, "etc/inittab", "::sysinit:/etc/init.d/rcS\nconsole::respawn:/sbin/getty -L console 0 vt100\n");
  write(root, "etc/fstab", "/dev/root / ext2 rw,noauto 0 1\n");
  write(root, "etc/init.d/S50dropbear", "#!/bin/sh\n. /etc/default/dropbear\n", 0o755);
  installHarden(root);
  install(join(HARDEN_PKG, "S05flussonic-harden"), root, "etc/init.d/S05flussonic-harden", 0o755);
  mkdirSync(join(root, "root"), { recursive: true });
}

/** A real key pair: the private half stays outside the image (in the test's own folder). */
async function ownerKey(dir: string, root: string): Promise<string> {
  const key = join(dir, "owner-key");
  const { stdout } = await execa("dropbearkey", ["-t", "ed25519", "-f", key]);
  write(root, "root/.ssh/authorized_keys", stdout.split("\n").find((l) => l.startsWith("ssh-"))! + "\n", 0o600);
  return key;
}

function settings(root: string, text: string): void {
  write(root, "etc/default/flussonic-harden", text);
}

interface Login { user: string; password?: string; key?: string }

/**
 * Boots the image in a chroot (S05flussonic-harden start, then dropbear with the image's
 * DROPBEAR_ARGS on 127.0.0.1:2222) and tries each login; returns the output and, per login, "ok"
 * when `id -u` ran. readOnly: / is mounted read-only (tmpfs on /var/run, /tmp, /dev), as on a
 * squashfs camera.
 */
async function bootAndLogin(dir: string, root: string, logins: Login[], readOnly = false) {
  mkdirSync(join(root, "keys"), { recursive: true }); // mount point for the test's private keys
  const keyDir = join(dir, "keys");
  mkdirSync(keyDir, { recursive: true });
  const tries = logins.map((l, i) => {
    const auth = l.key ? `-i /keys/${i}` : "";
    if (l.key) copyFileSync(l.key, join(keyDir, String(i)));
    const env = l.password !== undefined ? `DROPBEAR_PASSWORD='${l.password}' ` : "";
    return `if ${env}dbclient -y -y ${auth} -p 2222 ${l.user}@127.0.0.1 id -u </dev/null >/tmp/out 2>&1 ` +
      `&& [ "$(tail -n 1 /tmp/out)" = "$(id -u ${l.user})" ]; then echo "login-${i}=ok"; else echo "login-${i}=refused"; fi`;
  });
  const inside = [
    "ip link set lo up",
    "/etc/init.d/S05flussonic-harden start; echo rc-harden=$?",
    "[ -r /etc/default/dropbear ] && . /etc/default/dropbear; dropbear -R -p 127.0.0.1:2222 $DROPBEAR_ARGS",
    "i=0; while [ $i -lt 50 ] && ! grep -q ':08AE 00000000:0000 0A' /proc/net/tcp; do sleep 0.1; i=$((i+1)); done",
    ...tries,
  ].join("\n");
  // Mounts: the image's root read-only or not, the test's private keys beside it, /proc.
  const mounts = [
    `mount --bind '${root}' '${root}'`,
    readOnly ? `mount -o remount,ro,bind '${root}'` : ":",
    readOnly ? `for d in var/run tmp etc/dropbear root; do mount -t tmpfs tmpfs '${root}'/$d; done` : ":",
    readOnly ? `mount -t tmpfs tmpfs '${root}/dev' && mknod -m 666 '${root}/dev/null' c 1 3 && mknod -m 444 '${root}/dev/urandom' c 1 9` : ":",
    `mount -t tmpfs tmpfs '${root}/keys' && { cp '${keyDir}'/* '${root}/keys/' 2>/dev/null || :; }`,
    `mount -t proc proc '${root}/proc'`,
    `exec chroot '${root}' /bin/sh -c "$1"`,
  ].join(" && ");
  return execa("unshare", ["--mount", "--pid", "--net", "--fork", "--kill-child", "sh", "-c", mounts, "sh", inside], {
    timeout: 60_000, reject: false, all: true, env: { PATH: "/usr/sbin:/usr/bin:/sbin:/bin" }, extendEnv: false,
  });
}

const unavailable = chrootUnavailable();

describe.skipIf(unavailable)("the owner keeps a way in (hardened image, booted, logins over dropbear)", { timeout: 90_000 }, () => {
  let dir: string;
  let root: string;
  beforeEach(() => {
    dir = tempDir("owner");
    root = join(dir, "root");
    mkdirSync(root);
  });
  afterEach(() => cleanup(dir));

  it("strong root password, no keys: check fails naming the fix; with a per-device password it passes and that password logs in", async () => {
    await cameraImage(root, await crypt(STRONG, "$6$r00tr00t$"));
    expect((await harden("build", root)).exitCode).toBe(0);
    const c = await harden("check", root);
    expect(c.exitCode, c.all).toBe(1);
    expect(holes(c.all)).toEqual([expect.stringMatching(/no way in: .*Fix: .*\/root\/\.ssh\/authorized_keys.*FLUSSONIC_HARDEN_ROOT_PASSWORD=device-secret/)]);
    // The image's password was the same on every camera: locked, even though it was strong.
    expect(rootHash(root)).toBe("*");

    // The fix the message names: a per-device root password from the maker's provisioning. Built
    // again from the unhardened tree, as Buildroot makes each image from a fresh copy of target/.
    cleanup(root);
    mkdirSync(root);
    await cameraImage(root, await crypt(STRONG, "$6$r00tr00t$"));
    write(root, "usr/bin/device-password", `#!/bin/sh\necho ${DEVICE_PASSWORD}\n`, 0o755);
    settings(root, "FLUSSONIC_HARDEN_ROOT_PASSWORD=device-secret\nFLUSSONIC_HARDEN_SECRET_CMD=/usr/bin/device-password\n");
    expect((await harden("build", root)).exitCode).toBe(0);
    const c2 = await harden("check", root);
    expect(c2.exitCode, c2.all).toBe(0);
    expect(c2.all).toContain("way in: root: per-device password (from FLUSSONIC_HARDEN_SECRET_CMD");
    const r = await bootAndLogin(dir, root, [{ user: "root", password: DEVICE_PASSWORD }, { user: "root", password: STRONG }]);
    expect(r.all).toContain("rc-harden=0");
    expect(r.all, r.all).toContain("login-0=ok");
    expect(r.all).toContain("login-1=refused"); // the image's shared password is gone
  });

  it("keys only: root's key logs in, no password does, check passes", async () => {
    await cameraImage(root, "*");
    const key = await ownerKey(dir, root);
    expect((await harden("build", root)).exitCode).toBe(0);
    const c = await harden("check", root);
    expect(c.exitCode, c.all).toBe(0);
    expect(c.all).toContain("way in: root: SSH key (/root/.ssh/authorized_keys, dropbear)");
    expect(readFileSync(join(root, "etc/default/dropbear"), "utf8")).toMatch(/^DROPBEAR_ARGS="-s"$/m);
    const r = await bootAndLogin(dir, root, [{ user: "root", key }, { user: "root", password: "" }, { user: "root", password: "xc3511" }]);
    expect(r.all, r.all).toContain("login-0=ok");
    expect(r.all).toContain("login-1=refused");
    expect(r.all).toContain("login-2=refused");
  });

  it("empty root password (Buildroot's default), device-secret without a command: random password on the console only, stored only as a hash", async () => {
    await cameraImage(root, "");
    settings(root, "FLUSSONIC_HARDEN_ROOT_PASSWORD=device-secret\n");
    expect((await harden("build", root)).exitCode).toBe(0);
    const c = await harden("check", root);
    expect(c.exitCode, c.all).toBe(0);
    expect(c.all).toContain("way in: root: per-device password (random at first boot, shown on the serial console; SSH, console)");
    write(root, "dev/console", ""); // the serial console, as a file the test can read
    const first = await bootAndLogin(dir, root, [{ user: "root", password: "" }]);
    expect(first.all).toContain("rc-harden=0");
    expect(first.all).toContain("login-0=refused");
    const shown = /root password for this camera: (\S+)/.exec(readFileSync(join(root, "dev/console"), "utf8"))?.[1];
    expect(shown).toMatch(/^[A-Za-z0-9]{16}$/);
    expect(first.all).not.toContain(shown!); // not on stdout (which may be a network log)
    const hash = rootHash(root);
    expect(await crypt(shown!, hash)).toBe(hash);
    // No clear-text copy anywhere in the image.
    const grep = await execa("grep", ["-rlF", shown!, join(root, "etc"), join(root, "var")], { reject: false });
    expect(grep.stdout).toBe("");
    // The owner's own password survives every later boot (never re-locked, never regenerated).
    const owners = "My-own-camera-pw-2025";
    write(root, "etc/shadow", readFileSync(join(root, "etc/shadow"), "utf8").replace(hash, await crypt(owners, "$6$0wn3r0wn$")), 0o600);
    const second = await bootAndLogin(dir, root, [{ user: "root", password: owners }, { user: "root", password: shown! }]);
    expect(second.all, second.all).toContain("login-0=ok");
    expect(second.all).toContain("login-1=refused");
    expect(rootHash(root)).toBe(await crypt(owners, "$6$0wn3r0wn$"));
  });

  it("Mirai default root password with keys: the default no longer logs in, the key does", async () => {
    await cameraImage(root, await crypt("xc3511", "$1$r00tr00t$"));
    const key = await ownerKey(dir, root);
    const before = await harden("check", root);
    expect(holes(before.all)).toContainEqual(expect.stringContaining("account root has a default password"));
    expect((await harden("build", root)).exitCode).toBe(0);
    expect((await harden("check", root)).exitCode).toBe(0);
    const r = await bootAndLogin(dir, root, [{ user: "root", password: "xc3511" }, { user: "root", key }]);
    expect(r.all).toContain("login-0=refused");
    expect(r.all, r.all).toContain("login-1=ok");
  });

  it("an overlay's admin account with a default password is locked (hardening runs after overlays); the owner's key still works", async () => {
    await cameraImage(root, "*");
    const key = await ownerKey(dir, root);
    // What a rootfs overlay adds after the packages are installed.
    write(root, "etc/passwd", readFileSync(join(root, "etc/passwd"), "utf8") + "admin:x:1000:1000::/home/admin:/bin/sh\n");
    write(root, "etc/shadow", readFileSync(join(root, "etc/shadow"), "utf8") + `admin:${await crypt("admin", "$1$adm1nadm$")}:0::::::\n`, 0o600);
    mkdirSync(join(root, "home/admin"), { recursive: true });
    expect((await harden("build", root)).all).toContain("locked admin (default password)");
    expect((await harden("check", root)).exitCode).toBe(0);
    const r = await bootAndLogin(dir, root, [{ user: "admin", password: "admin" }, { user: "root", key }]);
    expect(r.all).toContain("login-0=refused");
    expect(r.all, r.all).toContain("login-1=ok");
  });

  it("read-only root: a random password is refused by check; the provisioned one logs in and is the same at every boot", async () => {
    await cameraImage(root, "");
    write(root, "etc/fstab", "/dev/root / squashfs ro 0 0\n");
    settings(root, "FLUSSONIC_HARDEN_ROOT_PASSWORD=device-secret\n");
    expect((await harden("build", root)).exitCode).toBe(0);
    const c = await harden("check", root);
    expect(c.exitCode, c.all).toBe(1);
    expect(c.all).toContain("read-only root (/etc/fstab): a random per-device root password would change at every boot");
    expect(holes(c.all)).toEqual([expect.stringContaining("no way in")]);

    write(root, "usr/bin/device-password", `#!/bin/sh\necho ${DEVICE_PASSWORD}\n`, 0o755);
    settings(root, "FLUSSONIC_HARDEN_ROOT_PASSWORD=device-secret\nFLUSSONIC_HARDEN_SECRET_CMD=/usr/bin/device-password\n");
    expect((await harden("check", root)).exitCode).toBe(0);
    for (const boot of [1, 2]) {
      const r = await bootAndLogin(dir, root, [{ user: "root", password: DEVICE_PASSWORD }, { user: "root", password: "" }], true);
      expect(r.all, `boot ${boot}: ${r.all}`).toContain("login-0=ok");
      expect(r.all).toContain("login-1=refused");
      expect(rootHash(root)).toBe("*"); // the image itself is untouched: the fix lives in a bind mount
    }
  });
});

if (unavailable) it.skip(`owner access under BusyBox: skipped, ${unavailable}`, () => {});
