// flussonic-harden against a "stock camera" root: telnet in every place vendors put it, every
// Mirai-listed password, an empty one. check must find each hole, build must close them (check
// then passes), boot must do the same on a running BusyBox system and stop a live telnetd.
import { execa } from "execa";
import { existsSync, lstatSync, readFileSync, readdirSync, statSync } from "node:fs";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { HARDEN_PKG, REPO, busyboxRoot, ownerSshKey, chrootUnavailable, cleanup, crypt, inChroot, install, installHarden, tempDir, write } from "./rootfs";

const HARDEN = join(HARDEN_PKG, "flussonic-harden");
const LIST = readFileSync(join(HARDEN_PKG, "default-credentials.tsv"), "utf8")
  .split("\n").filter((l) => l && !l.startsWith("#")).map((l) => l.split("\t"));
const LISTED_PASSWORDS = [...new Set(LIST.map((f) => f[1]))];
const METHODS = ["$1$s4ltS4lt$", "$5$s4ltS4lt$", "$6$s4ltS4lt$", "ab"]; // md5, sha256, sha512, DES

const INETD = `telnet\tstream\ttcp\tnowait\troot\t/usr/sbin/telnetd\ttelnetd -i
2323\tstream\ttcp\tnowait\troot\t/usr/sbin/telnetd\ttelnetd -i
ftp\tstream\ttcp\tnowait\troot\t/usr/sbin/ftpd\tftpd
`;
const VENDOR_RCS = `#!/bin/sh
mount -a
if [ -e /mnt/debug ]; then
\ttelnetd -l /bin/sh &
fi
/usr/bin/ipc_app &
`;

/** What cheap cameras ship: telnet everywhere, Mirai-listed and empty passwords. */
async function stockCamera(root: string, listedAccounts = LISTED_PASSWORDS.length): Promise<string[]> {
  const passwd = ["root:x:0:0:root:/root:/bin/sh", "admin:0:0:0::/:/bin/sh", "daemon:x:1:1::/:/bin/false",
    "support:x:1001:1001::/:/bin/sh", "web:x:1002:1002::/:/bin/sh"];
  const shadow = [`root:${await crypt("xc3511", "$1$r00tr00t$")}:0::::::`, "daemon:*:0::::::", "support::0::::::",
    `web:${await crypt("Tr0ub4dor-&-3-horse", "$6$w3bw3bw3$")}:0::::::`];
  passwd[1] = `admin:${await crypt("admin", "xy")}:0:0::/:/bin/sh`; // old style: DES hash in passwd
  // One account per distinct listed password, hashed with each method in turn.
  const users: string[] = [];
  for (const [i, pw] of LISTED_PASSWORDS.slice(0, listedAccounts).entries()) {
    users.push(`m${i}`);
    passwd.push(`m${i}:x:${2000 + i}:100::/:/bin/sh`);
    shadow.push(`m${i}:${pw === "" ? "" : await crypt(pw, METHODS[i % METHODS.length])}:0::::::`);
  }
  write(root, "etc/passwd", passwd.join("\n") + "\n");
  write(root, "etc/shadow", shadow.join("\n") + "\n", 0o600);
  write(root, "etc/inetd.conf", INETD);
  write(root, "etc/inittab", "::sysinit:/etc/init.d/rcS\n::respawn:/usr/sbin/telnetd -F -p 2323\n");
  write(root, "etc/init.d/rcS", VENDOR_RCS, 0o755);
  write(root, "etc/init.d/S50telnet", "#!/bin/sh\nstart-stop-daemon -S -q -x /usr/sbin/telnetd\n", 0o755);
  ownerSshKey(root); // and dropbear
  write(root, "etc/init.d/S50dropbear", "#!/bin/sh\n. /etc/default/dropbear\n", 0o755);
  write(root, "etc/ssh/sshd_config", "Port 22\nPasswordAuthentication yes\n");
  return users;
}

const harden = (...args: string[]) => execa("sh", [HARDEN, ...args], { reject: false, all: true });
const holes = (out: string) => out.split("\n").filter((l) => l.includes("HOLE:"));
const shadowOf = (root: string) => Object.fromEntries(
  readFileSync(join(root, "etc/shadow"), "utf8").trim().split("\n").map((l) => [l.split(":")[0], l.split(":")[1]]));

const present = (p: string) => existsSync(p) || (() => { try { return lstatSync(p).isSymbolicLink(); } catch { return false; } })();

function snapshot(root: string, dir = ""): Record<string, string> {
  const out: Record<string, string> = {};
  for (const name of readdirSync(join(root, dir))) {
    const rel = join(dir, name);
    const st = lstatSync(join(root, rel));
    if (st.isDirectory()) Object.assign(out, snapshot(root, rel));
    else out[rel] = st.isSymbolicLink() ? "link" : `${st.mode.toString(8)} ${readFileSync(join(root, rel), "utf8")}`;
  }
  return out;
}

describe("flussonic-harden build/check on an image tree", { timeout: 30_000 }, () => {
  let root: string;
  let users: string[];
  beforeEach(async () => {
    root = tempDir("harden");
    users = await stockCamera(root);
    await execa("ln", ["-sf", "../../bin/busybox", join(root, "usr/sbin/telnetd")]);
  });
  afterEach(() => cleanup(root));

  it("check finds every hole of a stock camera and fails", async () => {
    const r = await harden("check", root);
    expect(r.exitCode, r.all).toBe(1);
    const h = holes(r.all ?? "");
    for (const what of ["/etc/init.d/S50telnet", "telnet daemon /usr/sbin/telnetd", "/etc/inetd.conf",
      "started by /etc/inittab", "started by /etc/init.d/rcS", "dropbear", "openssh"]) {
      expect(h.some((l) => l.includes(what)), `${what}\n${r.all}`).toBe(true);
    }
    expect(h.some((l) => l.includes("account root has a default password"))).toBe(true);
    expect(h.some((l) => l.includes("account admin has a default password from the list (/etc/passwd)"))).toBe(true);
    expect(h.some((l) => l.includes("account support has an empty password"))).toBe(true);
    // Every distinct password of the Mirai list is recognised, whatever the hash method.
    for (const u of users) expect(h.some((l) => l.includes(`account ${u} has`)), u).toBe(true);
    expect(h.some((l) => l.includes("account web"))).toBe(false); // a strong password is no hole
    // The vendor's ftp in inetd.conf listens on every interface (listeners.test.ts has the rest).
    expect(h.some((l) => l.includes("inetd service ftp/tcp in /etc/inetd.conf listens on all interfaces"))).toBe(true);
  });

  it("build closes every hole, keeps what it should, and check then passes", async () => {
    // The maker keeps its ftp on purpose (by default build only warns about listeners).
    write(root, "etc/default/flussonic-harden", 'FLUSSONIC_HARDEN_KEEP_USERS="web"\nFLUSSONIC_HARDEN_ALLOW_LISTEN="ftp"\n');
    const b = await harden("build", root);
    expect(b.exitCode, b.all).toBe(0);
    const c = await harden("check", root);
    expect(c.exitCode, c.all).toBe(0);
    expect(holes(c.all ?? "")).toEqual([]);
    expect(c.all).toMatch(/note: inetd service ftp\/tcp in \/etc\/inetd.conf listens on all interfaces .*allowed by FLUSSONIC_HARDEN_ALLOW_LISTEN/);

    expect(present(join(root, "etc/init.d/S50telnet"))).toBe(false);
    expect(present(join(root, "usr/sbin/telnetd"))).toBe(false);
    const inetd = readFileSync(join(root, "etc/inetd.conf"), "utf8").split("\n");
    expect(inetd.filter((l) => l.includes("telnetd")).every((l) => l.startsWith("#"))).toBe(true);
    expect(inetd).toContain("ftp\tstream\ttcp\tnowait\troot\t/usr/sbin/ftpd\tftpd"); // other services stay
    expect(readFileSync(join(root, "etc/inittab"), "utf8")).toMatch(/^# flussonic-harden: ::respawn:\/usr\/sbin\/telnetd/m);
    const rcs = readFileSync(join(root, "etc/init.d/rcS"), "utf8");
    expect(rcs).toMatch(/^: # flussonic-harden: \ttelnetd -l \/bin\/sh &$/m);
    expect(rcs).toContain("/usr/bin/ipc_app &");
    await execa("sh", ["-n", join(root, "etc/init.d/rcS")]); // the emptied if-block is still valid

    const shadow = shadowOf(root);
    for (const u of ["root", "support", ...users]) expect(shadow[u], u).toBe("*");
    expect(shadow.web).toMatch(/^\$6\$w3bw3bw3\$/); // kept: listed in FLUSSONIC_HARDEN_KEEP_USERS
    expect(shadow.daemon).toBe("*");
    expect(readFileSync(join(root, "etc/passwd"), "utf8")).toMatch(/^admin:\*:0:0:/m);
    expect(statSync(join(root, "etc/shadow")).mode & 0o777).toBe(0o600);
    expect(readFileSync(join(root, "etc/default/dropbear"), "utf8")).toMatch(/^DROPBEAR_ARGS="-s"$/m);
    const sshd = readFileSync(join(root, "etc/ssh/sshd_config"), "utf8").split("\n");
    expect(sshd.find((l) => /^PasswordAuthentication/.test(l))).toBe("PasswordAuthentication no");
  });

  it("build locks a factory root password that is not on the list, and other baked-in passwords", async () => {
    const b = await harden("build", root);
    expect(b.exitCode, b.all).toBe(0);
    expect(b.all).toContain("locked web (factory password)");
    expect(shadowOf(root).web).toBe("*");
  });

  it("build reads the image's settings without running them (the file belongs to the image tree)", async () => {
    const marker = join(root, "..", `ran-${root.split("/").pop()}`);
    write(root, "etc/default/flussonic-harden",
      `FLUSSONIC_HARDEN_KEEP_USERS="web"\ntouch ${marker}\nFLUSSONIC_HARDEN_ALLOW_LISTEN="ftp $(touch ${marker})"\n`);
    const b = await harden("build", root);
    expect(b.exitCode, b.all).toBe(0);
    expect(existsSync(marker)).toBe(false);
    expect(shadowOf(root).web).toMatch(/^\$6\$w3bw3bw3\$/); // the plain setting is still read
    cleanup(marker);
  });

  it("build is idempotent", async () => {
    await harden("build", root);
    const once = snapshot(root);
    const again = await harden("build", root);
    expect(again.exitCode, again.all).toBe(0);
    expect(snapshot(root)).toEqual(once);
  });

  it("the package's rootfs hook, as fs/common.mk runs it: other packages' listeners fail the build only with FAIL_ON_LISTENERS", async () => {
    // The hook's lines from flussonic-harden.mk, with its variables as Buildroot expands them.
    const mk = readFileSync(join(HARDEN_PKG, "flussonic-harden.mk"), "utf8");
    const hook = /^define FLUSSONIC_HARDEN_ROOTFS_HARDEN\n([\s\S]*?)^endef/m.exec(mk)![1]
      .replaceAll("$(FLUSSONIC_HARDEN_PKGDIR)", HARDEN_PKG).replaceAll("$(TARGET_DIR)", root);
    // fs/common.mk writes the hooks into a "set -e" script: the first failing line stops the build.
    const rootfsHook = () => execa("sh", ["-e", "-c", hook], { reject: false, all: true });
    // The settings file as the package writes it for the two choices.
    const settings = (failOnListeners: boolean) => write(root, "etc/default/flussonic-harden",
      `FLUSSONIC_HARDEN_ROOT_PASSWORD=lock\nFLUSSONIC_HARDEN_CHECK_LISTENERS=${failOnListeners ? "fail" : "warn"}\n`);
    settings(false);
    const warned = await rootfsHook();
    expect(warned.exitCode, warned.all).toBe(0);
    expect(warned.all).toContain("WARNING: inetd service ftp/tcp in /etc/inetd.conf");
    expect(shadowOf(root).root).toBe("*"); // the Mirai password is locked all the same
    settings(true);
    const failed = await rootfsHook();
    expect(failed.exitCode, failed.all).toBe(1);
    expect(holes(failed.all ?? "")).toEqual([expect.stringContaining("inetd service ftp/tcp in /etc/inetd.conf")]);
    // ...and goes on once the maker rebinds it to loopback.
    write(root, "etc/inetd.conf", readFileSync(join(root, "etc/inetd.conf"), "utf8").replace(/^ftp\t/m, "127.0.0.1:ftp\t"));
    const r = await rootfsHook();
    expect(r.exitCode, r.all).toBe(0);
    expect(r.all).toContain("no telnet daemon, no empty or default password, no SSH password login");
  });
});

const unavailable = chrootUnavailable();

describe.skipIf(unavailable)("flussonic-harden at boot, under BusyBox", () => {
  let root: string;
  beforeEach(async () => {
    root = tempDir("boot");
    await busyboxRoot(root);
    await stockCamera(root, 4); // BusyBox mkpasswd is one process per try: a camera has few accounts
    // A live telnet daemon, as a stock camera runs it (network namespace of its own: nothing leaves).
    await execa("ln", ["-sf", "../../bin/busybox", join(root, "usr/sbin/telnetd")]);
    installHarden(root);
    install(join(HARDEN_PKG, "S05flussonic-harden"), root, "etc/init.d/S05flussonic-harden", 0o755);
  });
  afterEach(() => cleanup(root));

  it("stops a running telnetd, locks listed passwords with BusyBox mkpasswd (no perl), check passes", { timeout: 60_000 }, async () => {
    write(root, "etc/default/flussonic-harden", 'FLUSSONIC_HARDEN_ALLOW_LISTEN="ftp"\n'); // the vendor's, on purpose
    const r = await inChroot(root, `
      ip link set lo up
      /usr/sbin/telnetd -F -p 2323 -l /bin/sh &
      i=0; while [ $i -lt 50 ] && ! pidof telnetd >/dev/null; do sleep 0.1; i=$((i+1)); done
      echo "before=$(pidof telnetd | wc -w)"
      /etc/init.d/S05flussonic-harden start; echo "rc-harden=$?"
      i=0; while [ $i -lt 50 ] && pidof telnetd >/dev/null; do sleep 0.1; i=$((i+1)); done
      echo "after=$(pidof telnetd | wc -w)"
      command -v perl || echo "no-perl"
      /usr/sbin/flussonic-harden check /; echo "rc-check=$?"
    `);
    const out = r.all ?? "";
    expect(r.exitCode, out).toBe(0);
    expect(out).toContain("before=1");
    expect(out).toMatch(/stopped telnet daemon \(pid \d+\)/);
    expect(out).toContain("after=0");
    expect(out).toContain("rc-harden=0");
    expect(out).toContain("no-perl");
    expect(out).toContain("rc-check=0");
    expect(out).toContain("no socket open to the network"); // check / also read the live /proc/net
    const shadow = shadowOf(root);
    expect(shadow.root).toBe("*");
    expect(shadow.support).toBe("*");
    expect(shadow.m0).toBe("*");
    // At boot a non-listed password of a non-root account may be the owner's own: it stays.
    expect(shadow.web).toMatch(/^\$6\$/);
  });

  it("device-secret: root gets a per-device password, stored only as its hash, not regenerated on reboot", { timeout: 60_000 }, async () => {
    write(root, "etc/default/flussonic-harden", "FLUSSONIC_HARDEN_ROOT_PASSWORD=device-secret\n");
    // What older versions left behind: the password in clear text.
    write(root, "etc/flussonic-agent/root-password", "old-secret-in-clear\n", 0o600);
    write(root, "dev/console", ""); // the serial console, as a file the test can read
    const first = await inChroot(root, "/usr/sbin/flussonic-harden boot");
    expect(first.exitCode, first.all).toBe(0);
    expect(first.all).toContain("locked root (default password)");
    const hash = shadowOf(root).root;
    expect(hash).toMatch(/^\$6\$[^$]+\$.{40,}$/);
    expect(existsSync(join(root, "etc/flussonic-agent/root-password"))).toBe(false);
    const secret = /root password for this camera: (\S+)/.exec(readFileSync(join(root, "dev/console"), "utf8"))![1];
    expect(secret).toMatch(/^[A-Za-z0-9]{16}$/);
    expect(first.all).not.toContain(secret); // never on stdout (which may be a network log)
    expect(await crypt(secret, hash)).toBe(hash);
    expect(LISTED_PASSWORDS).not.toContain(secret);

    const second = await inChroot(root, "/usr/sbin/flussonic-harden boot");
    expect(second.exitCode, second.all).toBe(0);
    expect(shadowOf(root).root).toBe(hash);
  });

  it("lock mode: a root password the owner set on the camera is not locked again at boot", { timeout: 60_000 }, async () => {
    const owners = await crypt("My-own-camera-pw-2025", "$6$0wn3r0wn$");
    write(root, "etc/shadow", readFileSync(join(root, "etc/shadow"), "utf8").replace(/^root:[^:]*:/m, `root:${owners}:`), 0o600);
    const r = await inChroot(root, "/usr/sbin/flussonic-harden boot");
    expect(r.exitCode, r.all).toBe(0);
    expect(shadowOf(root).root).toBe(owners);
  });
});

if (unavailable) it.skip(`flussonic-harden at boot under BusyBox: skipped, ${unavailable}`, () => {});
