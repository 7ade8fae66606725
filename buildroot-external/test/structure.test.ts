// The external tree follows Buildroot's conventions (what utils/check-package and `make` rely on),
// checked without a Buildroot checkout: CI has none. scripts/buildroot-check.sh does the real thing.
import { execa } from "execa";
import { createHash } from "node:crypto";
import { existsSync, lstatSync, readFileSync, readdirSync, readlinkSync, realpathSync, statSync } from "node:fs";
import { basename, dirname, join, relative } from "node:path";
import { describe, expect, it } from "vitest";
import { HARDEN_PKG, PKG, REPO } from "./rootfs";

const EXT = join(REPO, "buildroot-external");
const read = (p: string) => readFileSync(p, "utf8");
const packages = readdirSync(join(REPO, "package")).filter((n) => statSync(join(REPO, "package", n)).isDirectory());
const defconfigs = readdirSync(join(REPO, "configs")).filter((n) => n.endsWith("_defconfig"));
const mk = read(join(PKG, "flussonic-agent.mk"));
const configIn = read(join(PKG, "Config.in"));
const hardenMk = read(join(HARDEN_PKG, "flussonic-harden.mk"));
const hardenConfigIn = read(join(HARDEN_PKG, "Config.in"));
/** Each package: its directory, .mk, Config.in and variable prefix. */
const PACKAGES = [
  { name: "flussonic-agent", dir: PKG, mk, configIn, prefix: "FLUSSONIC_AGENT" },
  { name: "flussonic-harden", dir: HARDEN_PKG, mk: hardenMk, configIn: hardenConfigIn, prefix: "FLUSSONIC_HARDEN" },
];

describe("BR2_EXTERNAL root", () => {
  it("external.desc names the tree FLUSSONIC_AGENT and describes it", () => {
    const desc = read(join(EXT, "external.desc"));
    expect(desc).toMatch(/^name: FLUSSONIC_AGENT$/m);
    expect(desc).toMatch(/^desc: \S.+$/m);
  });

  it("package/ and board/ are relative links to the top level; every defconfig is linked in configs/", () => {
    for (const d of ["package", "board"]) {
      expect(lstatSync(join(EXT, d)).isSymbolicLink()).toBe(true);
      expect(readlinkSync(join(EXT, d))).toBe(`../${d}`);
    }
    // A real directory: `make list-defconfigs` runs find, which does not enter a linked one.
    expect(lstatSync(join(EXT, "configs")).isDirectory()).toBe(true);
    const linked = readdirSync(join(EXT, "configs"));
    expect(linked.sort()).toEqual([...defconfigs].sort());
    for (const n of linked) {
      expect(readlinkSync(join(EXT, "configs", n)).startsWith("../")).toBe(true);
      expect(realpathSync(join(EXT, "configs", n))).toBe(join(REPO, "configs", n));
    }
  });

  it("Config.in sources every package's Config.in, through BR2_EXTERNAL_FLUSSONIC_AGENT_PATH", () => {
    const sources = [...read(join(EXT, "Config.in")).matchAll(/^source "(.+)"$/gm)].map((m) => m[1]);
    for (const p of packages) {
      expect(sources).toContain(`$BR2_EXTERNAL_FLUSSONIC_AGENT_PATH/package/${p}/Config.in`);
    }
    for (const s of sources) expect(existsSync(s.replace("$BR2_EXTERNAL_FLUSSONIC_AGENT_PATH", EXT)), s).toBe(true);
  });

  it("external.mk includes every package's .mk", () => {
    expect(read(join(EXT, "external.mk"))).toContain("include $(sort $(wildcard $(BR2_EXTERNAL_FLUSSONIC_AGENT_PATH)/package/*/*.mk))");
    for (const p of packages) expect(existsSync(join(REPO, "package", p, `${p}.mk`)), p).toBe(true);
  });
});

describe.each(PACKAGES)("package/$name: Buildroot conventions", ({ name, dir, mk, configIn, prefix }) => {
  it(".mk: Buildroot header, every variable and define prefixed with the package's name, generic-package last", () => {
    const lines = mk.split("\n");
    const bar = "#".repeat(80);
    expect(lines.slice(0, 5)).toEqual([bar, "#", `# ${name}`, "#", bar]);
    const assigned = lines.flatMap((l) => {
      const m = /^(?:define\s+)?([A-Za-z0-9_]+)\s*(?:[+:?]?=|$)/.exec(l);
      return m && !l.startsWith("endef") && !l.startsWith("ifeq") && !l.startsWith("else") && !l.startsWith("endif")
        ? [m[1]] : [];
    });
    expect(assigned.length).toBeGreaterThan(3);
    for (const v of assigned) expect(v, v).toMatch(new RegExp(`^${prefix}_[A-Z0-9_]+$`));
    expect(lines.filter(Boolean).at(-1)).toBe("$(eval $(generic-package))");
  });

  it(".mk uses only Config.in symbols that exist", () => {
    const defined = new Set([...configIn.matchAll(new RegExp(`^config (BR2_PACKAGE_${prefix}\\w*)$`, "gm"))].map((m) => m[1]));
    const used = new Set([...mk.matchAll(/\b(BR2_PACKAGE_FLUSSONIC_\w*)/g)].map((m) => m[1]));
    expect(used.size).toBeGreaterThan(3);
    for (const u of used) expect(defined, u).toContain(u);
  });

  it("Config.in: help text is <tab><2 spaces><= 62 chars", () => {
    let inHelp = false;
    let helpLines = 0;
    for (const l of configIn.split("\n")) {
      if (l.trim() === "help") { inHelp = true; continue; }
      if (/^\S/.test(l)) inHelp = false; // the next entry (config, choice, if, comment...)
      if (inHelp && l.trim()) { expect(l, l).toMatch(/^\t  .{1,62}$/); helpLines++; }
    }
    expect(helpLines).toBeGreaterThan(20);
  });

  it("init scripts: S<NN><DAEMON>, not executable in the tree, installed with -m 0755", () => {
    const scripts = readdirSync(dir).filter((n) => /^S\d\d/.test(n));
    expect(scripts.length).toBe(1);
    for (const s of scripts) {
      const text = read(join(dir, s));
      const daemon = /^DAEMON="([^"/]+)"$/m.exec(text)?.[1];
      expect(s).toBe(`S${s.slice(1, 3)}${daemon}`);
      expect(statSync(join(dir, s)).mode & 0o111, `${s} must not be executable`).toBe(0);
      expect(mk).toMatch(new RegExp(`\\$\\(INSTALL\\) -D -m 0755 \\$\\(${prefix}_PKGDIR\\)/${s} \\\\\\n\\t+\\$\\(TARGET_DIR\\)/etc/init.d/${s}`));
      const pid = /^PIDFILE="(.*)"$/m.exec(text)?.[1];
      if (pid) expect(pid).toBe("/var/run/$DAEMON.pid");
      expect(text).toMatch(/start\|stop\|restart\|reload/);
      for (const l of text.split("\n")) expect(l, `${s}: indent with tabs`).not.toMatch(/^\t* /);
    }
  });
});

describe("package/flussonic-harden", () => {
  it("is its own choice: the agent does not select it, the defconfigs do", () => {
    expect(configIn).not.toMatch(/BR2_PACKAGE_FLUSSONIC_HARDEN/);
    expect(mk).not.toMatch(/HARDEN/);
    expect(hardenConfigIn).toMatch(/^config BR2_PACKAGE_FLUSSONIC_HARDEN$/m);
  });

  it("runs as rootfs policy: a rootfs pre-command hook (after overlays and post-build scripts), not a finalize hook", () => {
    expect(hardenMk).toMatch(/^FLUSSONIC_HARDEN_ROOTFS_PRE_CMD_HOOKS \+= FLUSSONIC_HARDEN_ROOTFS_HARDEN$/m);
    expect(hardenMk).not.toMatch(/FINALIZE_HOOKS/);
    const hook = /^define FLUSSONIC_HARDEN_ROOTFS_HARDEN\n([\s\S]*?)^endef/m.exec(hardenMk)![1];
    expect(hook.trim().split("\n").map((l) => l.trim())).toEqual([
      "$(FLUSSONIC_HARDEN_PKGDIR)/flussonic-harden build $(TARGET_DIR)",
      "$(FLUSSONIC_HARDEN_PKGDIR)/flussonic-harden check $(TARGET_DIR)",
    ]);
    // Other packages' listeners fail the build only when the package's own option says so.
    expect(hardenMk).toContain("'FLUSSONIC_HARDEN_CHECK_LISTENERS=$(if $(BR2_PACKAGE_FLUSSONIC_HARDEN_FAIL_ON_LISTENERS),fail,warn)'");
  });
});

describe("package/flussonic-agent", () => {
  it(".mk links the quickjs/mbedtls packages' staging libraries; sources are compiled only with _OWN_SOURCES", () => {
    const staging = mk.slice(mk.indexOf("FLUSSONIC_AGENT_DEPENDENCIES += quickjs mbedtls"), mk.indexOf("endif", mk.indexOf("FLUSSONIC_AGENT_DEPENDENCIES += quickjs mbedtls")));
    expect(staging).toContain("QUICKJS_LIBS=$(STAGING_DIR)/usr/lib/quickjs/libquickjs.a");
    expect(staging).toContain('MBEDTLS_LIBS="-lmbedtls -lmbedx509 -lmbedcrypto"');
    expect(staging).not.toMatch(/QUICKJS_SRC=|MBEDTLS_SRC=/);
  });

  it(".mk version is package.json's, and the local site is this repository's agent-src", () => {
    const version = JSON.parse(read(join(REPO, "package.json"))).version;
    expect(mk).toMatch(new RegExp(`^FLUSSONIC_AGENT_VERSION = ${version.replace(/\./g, "\\.")}$`, "m"));
    expect(mk).toContain("FLUSSONIC_AGENT_SITE = $(BR2_EXTERNAL_FLUSSONIC_AGENT_PATH)/../agent-src");
    expect(existsSync(join(REPO, "agent-src/native/Makefile"))).toBe(true);
  });


  it("Config.in: selected packages' dependencies are repeated", () => {
    expect(configIn).toMatch(/select BR2_PACKAGE_QUICKJS/);
    expect(configIn).toMatch(/select BR2_PACKAGE_MBEDTLS/);
    for (const dep of ["BR2_USE_MMU", "!BR2_STATIC_LIBS", "!BR2_TOOLCHAIN_USES_UCLIBC", "BR2_TOOLCHAIN_GCC_AT_LEAST_4_9"]) {
      expect(configIn).toContain(`depends on ${dep}`);
    }
  });

  it(".hash: '<type>  <hex>  <file>' lines for this version's release tarball", () => {
    const lines = read(join(PKG, "flussonic-agent.hash")).split("\n").filter((l) => l && !l.startsWith("#"));
    expect(lines.length).toBeGreaterThan(0);
    const len: Record<string, number> = { md5: 32, sha1: 40, sha224: 56, sha256: 64, sha384: 96, sha512: 128 };
    const version = /^FLUSSONIC_AGENT_VERSION = (.+)$/m.exec(mk)![1];
    for (const l of lines) {
      const m = /^(\w+)  ([0-9a-f]+)  (\S+)$/.exec(l);
      expect(m, l).not.toBeNull();
      expect(m![2].length, l).toBe(len[m![1]]);
      if (m![3] === "LICENSE") {
        // legal-info checks the licence file against this line.
        expect(m![2]).toBe(createHash(m![1]).update(readFileSync(join(REPO, "LICENSE"))).digest("hex"));
      } else expect(m![3]).toBe(`flussonic-agent-${version}.tar.gz`);
    }
    expect(lines.map((l) => l.split("  ")[2]).sort()).toEqual(["LICENSE", `flussonic-agent-${version}.tar.gz`]);
    expect(mk).toMatch(/^FLUSSONIC_AGENT_LICENSE_FILES = LICENSE$/m);
    expect(mk).toMatch(/^FLUSSONIC_AGENT_LICENSE = MIT, MIT \(QuickJS\), Apache-2.0 \(mbed TLS\)$/m);
  });

  it("systemd units exist and restart the agent forever", () => {
    const unit = read(join(PKG, "flussonic-agent.service"));
    // Same settings as the init script: FLUSSONIC_AGENT_ARGS from /etc/default/flussonic-agent.
    expect(unit).toMatch(/^ExecStart=\/usr\/bin\/flussonic-agent \$FLUSSONIC_AGENT_ARGS$/m);
    expect(unit).toMatch(/^EnvironmentFile=-\/etc\/default\/flussonic-agent$/m);
    expect(unit).toMatch(/^Environment="FLUSSONIC_AGENT_ARGS=--config \/etc\/flussonic-agent\/agent.json"$/m);
    expect(unit).toMatch(/^Restart=always$/m);
    expect(unit).toMatch(/^StartLimitIntervalSec=0$/m);
    // Its own user, with no password and no shell (mkusers' users table), home = state directory.
    expect(unit).toMatch(/^User=flussonic-agent$/m);
    expect(unit).toMatch(/^StateDirectory=flussonic-agent$/m);
    expect(mk).toMatch(/^define FLUSSONIC_AGENT_USERS\n\tflussonic-agent -1 flussonic-agent -1 \* \/var\/lib\/flussonic-agent - - .+\nendef$/m);
    expect(read(join(HARDEN_PKG, "flussonic-harden.service"))).toMatch(/^ExecStart=\/usr\/sbin\/flussonic-harden boot$/m);
  });

  it("ships the Mirai default-credential list as data, identical to the shared test data", () => {
    const data = (t: string) => t.split("\n").filter((l) => l && !l.startsWith("#"));
    const ours = data(read(join(HARDEN_PKG, "default-credentials.tsv")));
    expect(ours.length).toBeGreaterThanOrEqual(60);
    for (const l of ours) expect(l.split("\t").length, l).toBe(3);
    const shared = join(REPO, "../shared/testdata/mirai-credentials.tsv");
    if (existsSync(shared)) expect(ours).toEqual(data(read(shared)));
  });

  it("every shell script passes shellcheck (as check-package runs it)", async () => {
    const files = [
      ...[PKG, HARDEN_PKG].flatMap((d) => readdirSync(d)
        .filter((n) => /^S\d\d|^flussonic-(harden|listeners|agent-supervise)$|^flussonic-harden-common\.sh$/.test(n)).map((n) => join(d, n))),
      join(REPO, "scripts/buildroot-check.sh"),
      join(REPO, "scripts/install-buildroot-deps.sh"),
    ];
    const r = await execa("shellcheck", ["--external-sources", ...files], { reject: false, all: true });
    expect(r.exitCode, r.all).toBe(0);
  });
});

describe("configs/ and board/", () => {
  it("four QEMU defconfigs mirroring Buildroot's and CI's arm virt one, with the agent, hardening and overlay", () => {
    expect(defconfigs.sort()).toEqual([
      "flussonic_qemu_aarch64_virt_defconfig", "flussonic_qemu_arm_versatile_defconfig",
      "flussonic_qemu_arm_vexpress_defconfig", "flussonic_qemu_arm_virt_defconfig",
      "flussonic_qemu_mips32r2el_malta_defconfig"]);
    for (const d of defconfigs) {
      const text = read(join(REPO, "configs", d));
      expect(text, d).toMatch(/^BR2_PACKAGE_FLUSSONIC_AGENT=y$/m);
      expect(text, d).toMatch(/^BR2_PACKAGE_FLUSSONIC_HARDEN=y$/m);
      expect(text, d).toMatch(/^BR2_DOWNLOAD_FORCE_CHECK_HASHES=y$/m);
      expect(text, d).toMatch(/^BR2_TOOLCHAIN_BUILDROOT_MUSL=y$/m); // quickjs: no uClibc
      expect(text, d).toMatch(/^BR2_SYSTEM_DHCP="eth0"$/m);
      // Paths into this tree exist.
      for (const m of text.matchAll(/\$\(BR2_EXTERNAL_FLUSSONIC_AGENT_PATH\)\/([^" ]+)/g)) {
        expect(existsSync(join(EXT, m[1])), `${d}: ${m[1]}`).toBe(true);
      }
      for (const l of text.split("\n").filter(Boolean)) expect(l, d).toMatch(/^(BR2_\w+=.+|# BR2_\w+ is not set)$/);
    }
  });

  it("a pinned kernel's hash comes from this tree: newer Buildroot releases drop it from board/qemu/patches", () => {
    let pinned = 0;
    for (const d of defconfigs) {
      const text = read(join(REPO, "configs", d));
      const v = /^BR2_LINUX_KERNEL_CUSTOM_VERSION_VALUE="(.+)"$/m.exec(text)?.[1];
      if (!v) continue;
      pinned++;
      // Buildroot checks a download against every <global patch dir>/linux/linux.hash.
      const dirs = /^BR2_GLOBAL_PATCH_DIR="(.+)"$/m.exec(text)![1].split(" ")
        .filter((p) => p.startsWith("$(BR2_EXTERNAL_FLUSSONIC_AGENT_PATH)/"))
        .map((p) => join(EXT, p.replace("$(BR2_EXTERNAL_FLUSSONIC_AGENT_PATH)/", "")));
      const listed = dirs.some((dir) => existsSync(join(dir, "linux/linux.hash")) &&
        new RegExp(`^sha256  [0-9a-f]{64}  linux-${v.replace(/\./g, "\\.")}\\.tar\\.xz$`, "m").test(read(join(dir, "linux/linux.hash"))));
      expect(listed, `${d}: linux-${v}.tar.xz in a linux.hash of this tree`).toBe(true);
    }
    expect(pinned).toBe(4);
  });

  it("readme.txt tells how to build and boot each defconfig in QEMU", () => {
    const readme = read(join(REPO, "board/flussonic/readme.txt"));
    for (const d of defconfigs) {
      expect(readme).toContain(`make BR2_EXTERNAL=`);
      expect(readme, d).toMatch(new RegExp(`qemu-system-\\w+ .*# ${d}$`, "m"));
    }
  });

  it("overlay has only plain files", () => {
    const walk = (d: string): string[] => readdirSync(d).flatMap((n) =>
      statSync(join(d, n)).isDirectory() ? walk(join(d, n)) : [join(d, n)]);
    const files = walk(join(REPO, "board/flussonic/rootfs-overlay")).map((f) => relative(join(REPO, "board/flussonic/rootfs-overlay"), f));
    expect(files.sort()).toEqual(["etc/default/flussonic-agent", "etc/flussonic-agent/agent.json"]);
    const cfg = JSON.parse(read(join(REPO, "board/flussonic/rootfs-overlay/etc/flussonic-agent/agent.json")));
    expect(cfg.state_file).toBe("/var/lib/flussonic-agent/state.json");
    expect(Object.keys(cfg.targets).sort()).toEqual(["http", "rtsp"]);
  });
});
