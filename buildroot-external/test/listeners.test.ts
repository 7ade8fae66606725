// flussonic-harden and network listeners: the product promise is that a hardened camera listens
// on nothing reachable from the network. In an image tree, `check` must flag services the tree
// starts on every interface (and stay quiet for loopback-bound ones); on a running system
// `check-running` reads /proc/net/{tcp,tcp6,udp,udp6} and flags every socket not on loopback.
import { execa } from "execa";
import { existsSync, mkdirSync, readFileSync, symlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { HARDEN_PKG, REPO, busyboxRoot, ownerSshKey, chrootUnavailable, cleanup, inChroot, installHarden, tempDir, write } from "./rootfs";

const HARDEN = join(HARDEN_PKG, "flussonic-harden");
/** /proc/net of a little-endian Linux 6.1 host, recorded with the sockets listed in PROC_SOCKETS. */
const PROC_FIXTURE = join(REPO, "buildroot-external/test/fixtures/proc");

const harden = (args: string[], env: Record<string, string> = {}) =>
  execa("sh", [HARDEN, ...args], { reject: false, all: true, env });
const holes = (out = "") => out.split("\n").filter((l) => l.includes("HOLE:"));
const notes = (out = "") => out.split("\n").filter((l) => l.includes("note:"));

/** The stock firmware's vendor web UI (as qemu-tests/guest/stock has it): BusyBox httpd. */
const vendorHttpd = (listen: string) => `#!/bin/sh
# Vendor web UI
case "$1" in
start) httpd -p ${listen} -h /www && echo "S50httpd: httpd on ${listen}" ;;
stop) killall httpd ;;
esac
`;

/** Buildroot's own package/busybox/S90httpd shape: arguments in a variable, /etc/default/httpd. */
const BUILDROOT_S90HTTPD = `#!/bin/sh
DAEMON="httpd"
PIDFILE="/var/run/$DAEMON.pid"
HTTPD_ARGS="-h /var/www/data"
[ -r "/etc/default/$DAEMON" ] && . "/etc/default/$DAEMON"
start() {
	start-stop-daemon --start --background --quiet --make-pidfile \\
		--pidfile "$PIDFILE" --exec "/usr/sbin/$DAEMON" \\
		-- -f $HTTPD_ARGS
}
stop() {
	start-stop-daemon --stop --quiet --pidfile "$PIDFILE"
}
case "$1" in start|stop) "$1";; esac
`;

/** A vendor rcS that starts its whole application: one daemon bound to loopback, others not. */
const VENDOR_RCS = `#!/bin/sh
mount -a
/usr/bin/ipc_app &
mini_httpd -h 127.0.0.1 -p 8080 -d /www &
if [ -e /mnt/app/boa ]; then
\t/mnt/app/boa -c /mnt/app &
fi
rtspd -p 554 & # vendor RTSP
killall -9 thttpd   # an old build's web server, stopped, never started
# goahead &
`;

function minimalRoot(root: string): void {
  write(root, "etc/passwd", "root:x:0:0:root:/root:/bin/sh\n");
  ownerSshKey(root);
  write(root, "etc/default/dropbear", 'DROPBEAR_ARGS="-s"\n');
  write(root, "etc/shadow", "root:*:0::::::\n", 0o600);
  write(root, "etc/inittab", "::sysinit:/etc/init.d/rcS\nconsole::respawn:/sbin/getty -L console 0 vt100\n");
  write(root, "etc/init.d/rcS", "#!/bin/sh\nfor i in /etc/init.d/S??*; do \"$i\" start; done\n", 0o755);
}

function enableUnit(root: string, unit: string, text: string): void {
  write(root, `usr/lib/systemd/system/${unit}`, text);
  mkdirSync(join(root, "etc/systemd/system/multi-user.target.wants"), { recursive: true });
  symlinkSync(`/usr/lib/systemd/system/${unit}`, join(root, "etc/systemd/system/multi-user.target.wants", unit));
}

describe("check ROOT: network daemons an image tree starts", { timeout: 30_000 }, () => {
  let root: string;
  beforeEach(() => {
    root = tempDir("listen");
    minimalRoot(root);
  });
  afterEach(() => cleanup(root));

  it("flags a vendor httpd on all interfaces (exit 1, says which daemon, which file, why)", async () => {
    write(root, "etc/init.d/S50httpd", vendorHttpd("80"), 0o755);
    const r = await harden(["check", root]);
    expect(r.exitCode, r.all).toBe(1);
    expect(holes(r.all)).toEqual([
      "flussonic-harden: HOLE: httpd started by /etc/init.d/S50httpd listens on all interfaces " +
        "(no loopback address in its arguments, /etc/default/httpd or its configuration)",
    ]);
    expect(r.all).toContain("1 hole(s) in");
  });

  it("does not flag the same httpd bound to 127.0.0.1 (or [::1], localhost)", async () => {
    for (const listen of ["127.0.0.1:80", "[::1]:80", "localhost:8080"]) {
      write(root, "etc/init.d/S50httpd", vendorHttpd(listen), 0o755);
      const r = await harden(["check", root]);
      expect(r.exitCode, `${listen}\n${r.all}`).toBe(0);
      expect(holes(r.all)).toEqual([]);
      expect(r.all).toContain("no known network daemon started on all interfaces");
    }
  });

  it("Buildroot's S90httpd: flagged as installed, quiet once /etc/default/httpd binds it to loopback", async () => {
    write(root, "etc/init.d/S90httpd", BUILDROOT_S90HTTPD, 0o755);
    const before = await harden(["check", root]);
    expect(holes(before.all), before.all).toHaveLength(1);
    expect(holes(before.all)[0]).toContain("httpd started by /etc/init.d/S90httpd");
    write(root, "etc/default/httpd", 'HTTPD_ARGS="-p 127.0.0.1:80 -h /var/www/data"\n');
    const after = await harden(["check", root]);
    expect(after.exitCode, after.all).toBe(0);
  });

  it("a vendor rcS: judges each daemon by its own line; stop lines and comments start nothing", async () => {
    write(root, "etc/init.d/rcS", VENDOR_RCS, 0o755);
    const h = holes((await harden(["check", root])).all);
    expect(h.map((l) => l.replace(/.*HOLE: (\S+) started by (\S+).*/, "$1 $2")).sort())
      .toEqual(["boa /etc/init.d/rcS", "rtspd /etc/init.d/rcS"]);
  });

  it("inittab, inetd.conf, xinetd.d and enabled systemd units", async () => {
    write(root, "etc/inittab", "::sysinit:/etc/init.d/rcS\n::respawn:/usr/sbin/udhcpd -f /etc/udhcpd.conf\n");
    write(root, "etc/inetd.conf", [
      "ftp\tstream\ttcp\tnowait\troot\t/usr/sbin/ftpd\tftpd -w /",
      "127.0.0.1:www\tstream\ttcp\tnowait\troot\t/usr/sbin/httpd\thttpd -i -h /www", // BusyBox inetd: bound
      "#tftp\tdgram\tudp\twait\troot\t/usr/sbin/tftpd\ttftpd",
      "telnet\tstream\ttcp\tnowait\troot\t/usr/sbin/telnetd\ttelnetd -i",
    ].join("\n") + "\n");
    write(root, "etc/xinetd.d/tftp", "service tftp\n{\n\tsocket_type = dgram\n\tdisable = no\n}\n");
    write(root, "etc/xinetd.d/rsync", "service rsync\n{\n\tdisable = yes\n}\n");
    write(root, "etc/xinetd.d/cgi", "service cgi\n{\n\tdisable = no\n\tbind = 127.0.0.1\n}\n");
    enableUnit(root, "rtsp.socket", "[Socket]\nListenStream=8554\n");
    enableUnit(root, "local.socket", "[Socket]\nListenStream=127.0.0.1:8555\nListenStream=/run/cam.sock\n");
    enableUnit(root, "snmpd.service", "[Service]\nExecStart=/usr/sbin/snmpd -f -Lo\n");
    write(root, "usr/lib/systemd/system/upnp.service", "[Service]\nExecStart=/usr/sbin/miniupnpd\n"); // not enabled
    const r = await harden(["check", root]);
    expect(r.exitCode, r.all).toBe(1);
    const h = holes(r.all).map((l) => l.replace(/^flussonic-harden: HOLE: /, ""));
    expect(h).toEqual([
      "telnet service in /etc/inetd.conf", // the telnet rule's, not twice
      expect.stringMatching(/^udhcpd started by \/etc\/inittab listens on all interfaces/),
      expect.stringMatching(/^snmpd started by \/usr\/lib\/systemd\/system\/snmpd.service listens/),
      "inetd service ftp/tcp in /etc/inetd.conf listens on all interfaces (write 127.0.0.1:ftp to bind it to loopback)",
      "xinetd service /etc/xinetd.d/tftp is enabled without bind = 127.0.0.1",
      "systemd socket /usr/lib/systemd/system/rtsp.socket listens on a network address",
    ]);
  });

  it("lighttpd, boa: their configuration file's bind address counts", async () => {
    write(root, "etc/init.d/S50lighttpd", "#!/bin/sh\nstart-stop-daemon -S -q --exec /usr/sbin/lighttpd -- -f /etc/lighttpd/lighttpd.conf\n", 0o755);
    write(root, "etc/init.d/S51boa", "#!/bin/sh\n/usr/sbin/boa -c /etc/boa\n", 0o755);
    write(root, "etc/lighttpd/lighttpd.conf", 'server.port = 80\nserver.bind = "0.0.0.0"\n');
    write(root, "etc/boa/boa.conf", "Port 80\nListen 192.168.1.10\n");
    expect(holes((await harden(["check", root])).all)).toHaveLength(2);
    write(root, "etc/lighttpd/lighttpd.conf", 'server.port = 80\nserver.bind = "127.0.0.1"\n# server.bind = "0.0.0.0"\n');
    write(root, "etc/boa/boa.conf", "Port 80\nListen 127.0.0.1\n");
    const r = await harden(["check", root]);
    expect(r.exitCode, r.all).toBe(0);
  });

  it("SSH with key-only logins is a note, not a hole; FLUSSONIC_HARDEN_ALLOW_LISTEN accepts a named service", async () => {
    write(root, "usr/sbin/dropbear", "", 0o755);
    write(root, "etc/default/dropbear", 'DROPBEAR_ARGS="-s"\n');
    write(root, "etc/init.d/S50dropbear", "#!/bin/sh\nstart-stop-daemon -S -q --exec /usr/sbin/dropbear -- $DROPBEAR_ARGS\n", 0o755);
    write(root, "etc/init.d/S50httpd", vendorHttpd("80"), 0o755);
    write(root, "etc/default/flussonic-harden", 'FLUSSONIC_HARDEN_ALLOW_LISTEN="httpd"\n');
    const r = await harden(["check", root]);
    expect(r.exitCode, r.all).toBe(0);
    expect(notes(r.all)).toEqual(expect.arrayContaining([
      expect.stringContaining("dropbear (SSH) started by /etc/init.d/S50dropbear listens on all interfaces (allowed with key-only logins)"),
      expect.stringContaining("httpd started by /etc/init.d/S50httpd listens on all interfaces"),
    ]));
    expect(notes(r.all).find((l) => l.includes("httpd started"))).toContain("allowed by FLUSSONIC_HARDEN_ALLOW_LISTEN");
  });

  it("build reports by default and leaves the vendor's services alone", async () => {
    write(root, "etc/init.d/S50httpd", vendorHttpd("80"), 0o755);
    write(root, "etc/inetd.conf", "ftp\tstream\ttcp\tnowait\troot\t/usr/sbin/ftpd\tftpd -w /\n");
    const b = await harden(["build", root]);
    expect(b.exitCode, b.all).toBe(0);
    expect(b.all).toContain("WARNING: httpd started by /etc/init.d/S50httpd listens on all interfaces");
    expect(b.all).toContain("WARNING: inetd service ftp/tcp in /etc/inetd.conf listens on all interfaces");
    expect(readFileSync(join(root, "etc/init.d/S50httpd"), "utf8")).toBe(vendorHttpd("80"));
    expect(readFileSync(join(root, "etc/inetd.conf"), "utf8")).toMatch(/^ftp\t/);
    expect((await harden(["check", root])).exitCode).toBe(1);
  });

  it("FLUSSONIC_HARDEN_CHECK_LISTENERS=warn (the package's default): other packages' servers are reported, check passes, their files untouched", async () => {
    // Buildroot's own lighttpd package with its default configuration (all interfaces).
    const s50 = "#!/bin/sh\nstart-stop-daemon -S -q --exec /usr/sbin/lighttpd -- -f /etc/lighttpd/lighttpd.conf\n";
    write(root, "etc/init.d/S50lighttpd", s50, 0o755);
    write(root, "etc/lighttpd/lighttpd.conf", 'server.port = 80\n');
    write(root, "etc/default/flussonic-harden", "FLUSSONIC_HARDEN_CHECK_LISTENERS=warn\n");
    expect((await harden(["build", root])).exitCode).toBe(0);
    const r = await harden(["check", root]);
    expect(r.exitCode, r.all).toBe(0);
    expect(holes(r.all)).toEqual([]);
    expect(r.all).toContain("WARNING: lighttpd started by /etc/init.d/S50lighttpd");
    expect(r.all).toContain("network servers only reported");
    expect(readFileSync(join(root, "etc/init.d/S50lighttpd"), "utf8")).toBe(s50);
    // A telnet daemon or a default password still fails: only listeners are softened.
    write(root, "etc/shadow", "root:*:0::::::\nadmin::0::::::\n", 0o600);
    write(root, "etc/passwd", "root:x:0:0:root:/root:/bin/sh\nadmin:x:1000:1000::/:/bin/sh\n");
    expect(holes((await harden(["check", root])).all)).toEqual([expect.stringContaining("account admin has an empty password")]);
    write(root, "etc/default/flussonic-harden", "FLUSSONIC_HARDEN_CHECK_LISTENERS=fail\n");
    expect(holes((await harden(["check", root])).all)).toHaveLength(2);
  });

  it("FLUSSONIC_HARDEN_LISTENERS=disable: build stops them from starting, keeps the rest, check passes", async () => {
    write(root, "etc/default/flussonic-harden", "FLUSSONIC_HARDEN_LISTENERS=disable\n");
    write(root, "etc/init.d/S50httpd", vendorHttpd("80"), 0o755);
    write(root, "etc/init.d/rcS", VENDOR_RCS, 0o755);
    write(root, "etc/inetd.conf", "ftp\tstream\ttcp\tnowait\troot\t/usr/sbin/ftpd\tftpd -w /\n");
    write(root, "etc/xinetd.d/tftp", "service tftp\n{\n\tdisable = no\n}\n");
    enableUnit(root, "rtsp.socket", "[Socket]\nListenStream=8554\n");
    const b = await harden(["build", root]);
    expect(b.exitCode, b.all).toBe(0);
    expect(existsSync(join(root, "etc/init.d/S50httpd"))).toBe(false); // httpd's own script
    const rcs = readFileSync(join(root, "etc/init.d/rcS"), "utf8");
    expect(rcs).toContain("/usr/bin/ipc_app &"); // the vendor's app still starts
    expect(rcs).toContain("mini_httpd -h 127.0.0.1 -p 8080 -d /www &");
    expect(rcs).toMatch(/^: # flussonic-harden: \t\/mnt\/app\/boa -c \/mnt\/app &$/m);
    expect(rcs).toMatch(/^: # flussonic-harden: rtspd -p 554 &/m);
    await execa("sh", ["-n", join(root, "etc/init.d/rcS")]);
    expect(readFileSync(join(root, "etc/inetd.conf"), "utf8")).toMatch(/^# flussonic-harden: ftp\t/);
    expect(existsSync(join(root, "etc/xinetd.d/tftp"))).toBe(false);
    expect(existsSync(join(root, "usr/lib/systemd/system/rtsp.socket"))).toBe(true); // only the link goes
    expect(existsSync(join(root, "etc/systemd/system/multi-user.target.wants/rtsp.socket"))).toBe(false);
    const c = await harden(["check", root]);
    expect(c.exitCode, c.all).toBe(0);
    const again = await harden(["build", root]);
    expect(again.all).not.toMatch(/disabled|removed/);
  });
});

/** What PROC_FIXTURE holds: every socket the recording opened, as check-running must judge it. */
const PROC_SOCKETS = [
  "note: tcp 127.0.0.1:46554: loopback only",
  "note: tcp 127.3.2.1:46555: loopback only",
  "HOLE: tcp 0.0.0.0:46580 is open to the network",
  "note: tcp6 [::ffff:127.0.0.1]:46583: loopback only",
  "HOLE: tcp6 [::ffff:0.0.0.0]:46584 is open to the network",
  "HOLE: tcp6 [::]:46582 is open to the network",
  "note: tcp6 [::1]:46581: loopback only",
  "HOLE: udp 0.0.0.0:46569 is open to the network",
  "note: udp 127.0.0.1:46570: loopback only",
  "HOLE: udp6 [::]:46571 is open to the network",
  "note: udp6 [::1]:46572: loopback only",
].map((l) => `flussonic-harden: ${l}`);

/** The same table as a big-endian kernel prints it: each 32-bit address word byte-swapped. */
function bigEndian(text: string): string {
  const swap = (w: string) => w.match(/../g)!.reverse().join("");
  return text.replace(/\b([0-9A-F]{8}|[0-9A-F]{32}):([0-9A-F]{4})\b/g, (_m, a: string, p: string) =>
    a.match(/.{8}/g)!.map(swap).join("") + ":" + p);
}

describe("check-running: sockets in /proc/net", { timeout: 30_000 }, () => {
  it("recorded tables (IPv4, IPv6, v4-mapped, UDP; an established connection and a connected UDP socket are no listeners)", async () => {
    const r = await harden(["check-running"], { FLUSSONIC_HARDEN_PROC: PROC_FIXTURE, FLUSSONIC_HARDEN_ENDIAN: "little" });
    expect(r.exitCode, r.all).toBe(1);
    expect(r.all!.split("\n").slice(0, -1)).toEqual(PROC_SOCKETS);
    expect(r.all).toContain("5 socket(s) open to the network");
  });

  it("big-endian kernels (MIPS cameras) print the words the other way round: same verdicts", async () => {
    const dir = tempDir("procnet-be");
    try {
      mkdirSync(join(dir, "net"));
      for (const p of ["tcp", "tcp6", "udp", "udp6"])
        writeFileSync(join(dir, "net", p), bigEndian(readFileSync(join(PROC_FIXTURE, "net", p), "utf8")));
      expect(readFileSync(join(dir, "net/tcp"), "utf8")).toContain(" 7F000001:B5DA ");
      const r = await harden(["check-running"], { FLUSSONIC_HARDEN_PROC: dir, FLUSSONIC_HARDEN_ENDIAN: "big" });
      expect(r.all!.split("\n").slice(0, -1)).toEqual(PROC_SOCKETS);
    } finally {
      cleanup(dir);
    }
  });

  it("ports allowed by FLUSSONIC_HARDEN_ALLOW_LISTEN are notes (tcp:N covers tcp6 too)", async () => {
    const r = await harden(["check-running"], {
      FLUSSONIC_HARDEN_PROC: PROC_FIXTURE, FLUSSONIC_HARDEN_ENDIAN: "little",
      FLUSSONIC_HARDEN_ALLOW_LISTEN: "tcp:46580 tcp:46582 tcp:46584 udp:46569 udp:46571",
    });
    expect(r.exitCode, r.all).toBe(0);
    expect(r.all).toContain("note: tcp6 [::]:46582: open to the network, allowed by FLUSSONIC_HARDEN_ALLOW_LISTEN");
    expect(r.all).toContain("no socket open to the network");
  });

  it("refuses to report \"nothing open\" when it cannot read /proc/net", async () => {
    const r = await harden(["check-running"], { FLUSSONIC_HARDEN_PROC: "/nonexistent" });
    expect(r.exitCode).toBe(2);
    expect(r.all).toContain("cannot read /nonexistent/net/tcp");
  });
});

/**
 * This host's live /proc/net, in a network namespace of its own (unshare --net): the listener on
 * 0.0.0.0 is reachable from nowhere, and the namespace holds only this test's sockets, so the
 * verdict is exact. Checked against ss(8) from the same namespace.
 */
const LISTEN_JS = `
const net = require("node:net"), dgram = require("node:dgram"), { execFileSync } = require("node:child_process");
const tcp = (host) => new Promise((ok) => { const s = net.createServer().listen(0, host, () => ok(s.address().port)); });
const udp = (host, type) => new Promise((ok) => { const s = dgram.createSocket(type); s.bind(0, host, () => ok(s.address().port)); });
(async () => {
  const ports = { lo: await tcp("127.0.0.1"), any: await tcp("0.0.0.0"), lo6: await tcp("::1"), any6: await tcp("::"),
    ulo: await udp("127.0.0.1", "udp4"), uany: await udp("0.0.0.0", "udp4") };
  const run = (cmd, args, env = {}) => {
    try { return execFileSync(cmd, args, { encoding: "utf8", env: { ...process.env, ...env } }) + "rc=0"; }
    catch (e) { return e.stdout + "rc=" + e.status; }
  };
  console.log(JSON.stringify({ ports, pid: process.pid, harden: run("sh", [process.argv[1], "check-running"]),
    allowed: run("sh", [process.argv[1], "check-running"], { FLUSSONIC_HARDEN_ALLOW_LISTEN: "node" }),
    ss: run("ss", ["-Hlntu"]) }));
  process.exit(0);
})();`;

const root = process.getuid?.() === 0;
describe.skipIf(!root)("check-running on this host's /proc/net (own network namespace)", () => {
  it("flags the 0.0.0.0 and [::] listeners by port and program, not the loopback ones; agrees with ss", { timeout: 30_000 }, async () => {
    const r = await execa("unshare", ["--net", "sh", "-c", 'ip link set lo up && exec node -e "$0" "$1"', LISTEN_JS, HARDEN],
      { reject: false, all: true, timeout: 20_000 });
    expect(r.exitCode, r.all).toBe(0);
    const { ports, pid, harden: out, allowed, ss } = JSON.parse(r.stdout) as
      { ports: Record<string, number>; pid: number; harden: string; allowed: string; ss: string };
    expect(out).toContain("rc=1");
    expect(holes(out).sort()).toEqual([
      `flussonic-harden: HOLE: tcp 0.0.0.0:${ports.any} (node pid ${pid}) is open to the network`,
      `flussonic-harden: HOLE: tcp6 [::]:${ports.any6} (node pid ${pid}) is open to the network`,
      `flussonic-harden: HOLE: udp 0.0.0.0:${ports.uany} (node pid ${pid}) is open to the network`,
    ].sort());
    for (const p of [`tcp 127.0.0.1:${ports.lo}`, `tcp6 [::1]:${ports.lo6}`, `udp 127.0.0.1:${ports.ulo}`])
      expect(out).toContain(`note: ${p} (node pid ${pid}): loopback only`);
    // A program the maker exposes on purpose, named in FLUSSONIC_HARDEN_ALLOW_LISTEN: notes only.
    expect(allowed).toMatch(/rc=0$/);
    expect(allowed).toContain(`note: tcp 0.0.0.0:${ports.any} (node pid ${pid}): open to the network, allowed by FLUSSONIC_HARDEN_ALLOW_LISTEN`);
    // ss's view: the same ports, loopback or not.
    expect(ss).toMatch(/rc=0$/);
    const ssExposed = ss.trim().split("\n").slice(0, -1).map((l) => l.trim().split(/\s+/)[4])
      .filter((a) => !/^(127\.|\[::1\]|::1)/.test(a)).map((a) => Number(a.split(":").pop())).sort();
    expect(ssExposed).toEqual([ports.any, ports.any6, ports.uany].sort());
  });
});
if (!root) it.skip("check-running on the live /proc/net: skipped, needs root (unshare --net)", () => {});

const noChroot = chrootUnavailable();
describe.skipIf(noChroot)("check / on a running BusyBox system (chroot, own network namespace)", () => {
  let root: string;
  beforeEach(async () => {
    root = tempDir("listen-bb");
    await busyboxRoot(root);
    minimalRoot(root);
    installHarden(root);
  });
  afterEach(() => cleanup(root));

  it("BusyBox awk, ls and dd: flags the httpd on all interfaces by port and name, not the one on 127.0.0.1", { timeout: 60_000 }, async () => {
    const r = await inChroot(root, `
      ip link set lo up
      httpd -p 127.0.0.1:8080 -h /tmp
      httpd -p 8081 -h /tmp
      i=0; while [ $i -lt 50 ] && [ "$(pidof httpd | wc -w)" -lt 2 ]; do sleep 0.1; i=$((i+1)); done
      sleep 0.2
      /usr/sbin/flussonic-harden check /; echo "rc-check=$?"
    `);
    const out = r.all ?? "";
    expect(r.exitCode, out).toBe(0);
    expect(out).toContain("rc-check=1");
    // BusyBox httpd opens an IPv6 socket (it takes IPv4 too) when the kernel has IPv6.
    expect(holes(out)).toEqual([
      expect.stringMatching(/^flussonic-harden: HOLE: (tcp 0\.0\.0\.0|tcp6 \[::\]):8081 \(httpd pid \d+\) is open to the network$/),
    ]);
    expect(out).toMatch(/note: tcp 127\.0\.0\.1:8080 \(httpd pid \d+\): loopback only/);
  });

  it("boot with FLUSSONIC_HARDEN_LISTENERS=disable: removes the vendor httpd's script, stops the running one", { timeout: 60_000 }, async () => {
    write(root, "etc/default/flussonic-harden", "FLUSSONIC_HARDEN_LISTENERS=disable\n");
    write(root, "etc/init.d/S50httpd", vendorHttpd("8081"), 0o755);
    mkdirSync(join(root, "www"));
    const r = await inChroot(root, `
      ip link set lo up
      /etc/init.d/S50httpd start
      i=0; while [ $i -lt 50 ] && ! pidof httpd >/dev/null; do sleep 0.1; i=$((i+1)); done
      echo "before=$(pidof httpd | wc -w)"
      /usr/sbin/flussonic-harden boot; echo "rc-boot=$?"
      i=0; while [ $i -lt 50 ] && pidof httpd >/dev/null; do sleep 0.1; i=$((i+1)); done
      echo "after=$(pidof httpd | wc -w)"
      /usr/sbin/flussonic-harden check /; echo "rc-check=$?"
    `);
    const out = r.all ?? "";
    expect(r.exitCode, out).toBe(0);
    expect(out).toContain("before=1");
    expect(out).toContain("removed /etc/init.d/S50httpd");
    expect(out).toMatch(/stopped network daemon \(pid \d+\)/);
    expect(out).toContain("after=0");
    expect(out).toContain("rc-check=0");
    expect(existsSync(join(root, "etc/init.d/S50httpd"))).toBe(false);
  });
});
if (noChroot) it.skip(`check / under BusyBox: skipped, ${noChroot}`, () => {});
