/**
 * The camera built by Buildroot (configs/flussonic_qemu_arm_virt_defconfig, our external tree):
 *   - stock: the same defconfig without our package — Buildroot's skeleton as it comes, BusyBox
 *     telnetd on 23 and root without a password: the holes must show (the detector can see them);
 *   - ours: what the QEMU suites boot for armhf (mirai-hardened, e2e, faults run on it): the
 *     package's files are in the rootfs, telnetd is gone, flussonic-harden check passes on it;
 *   - Buildroot 2026.02.3 builds the same image (when ../shared/buildroot has that tarball).
 * Without a Buildroot (no ../shared/buildroot, no BUILDROOT_DIR) these suites are skipped, with
 * the reason printed; the other QEMU suites then boot the Debian-assembled images.
 */
import { execa } from "execa";
import { mkdtempSync, readFileSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { buildrootImage, buildrootUnavailable } from "./lib/buildroot.js";
import { testArches } from "./lib/env.js";
import { MAKER_ADMIN } from "./lib/maker-overlay.js";
import { consoleLogin } from "./lib/mirai.js";
import { REPO } from "./lib/paths.js";
import { bootGuest, freePort, Guest } from "./lib/qemu.js";
import { portOpen, telnetLogin } from "./lib/telnet.js";

const NEXT = "2026.02.3";
const armhf = testArches().includes("armhf");
const why = armhf ? buildrootUnavailable("armhf") : "QEMU_ARCHES has no armhf";
// BUILDROOT_NEXT=0 leaves the second Buildroot build out (a cold one costs ~4-10 min of CI).
const whyNext = !armhf ? "QEMU_ARCHES has no armhf" : process.env.BUILDROOT_NEXT === "0" ? "BUILDROOT_NEXT=0" : buildrootUnavailable("armhf", NEXT);
if (why) console.log(`buildroot.test.ts: SKIPPED (Buildroot-built camera): ${why}`);
if (whyNext) console.log(`buildroot.test.ts: SKIPPED (Buildroot ${NEXT} build): ${whyNext}`);

/** Unpacks a rootfs.cpio (as a normal user: no device nodes) and returns its directory. */
async function unpack(cpio: string): Promise<string> {
  const dir = mkdtempSync(join(tmpdir(), "br-rootfs-"));
  await execa("sh", ["-c", `cpio -idm --no-absolute-filenames --quiet -E /dev/null < "${cpio}" 2>/dev/null || cpio -idm --no-absolute-filenames --quiet < "${cpio}"`], { cwd: dir, reject: false });
  return dir;
}

describe.skipIf(!!why)("Buildroot stock camera armhf (our defconfig without flussonic-agent)", () => {
  let guest: Guest | undefined;
  let port23 = 0;

  beforeAll(async () => {
    port23 = await freePort();
    const image = await buildrootImage({ arch: "armhf", variant: "stock" });
    guest = await bootGuest({ image, hostfwd: [{ host: port23, guest: 23 }] });
    console.log(`[armhf] Buildroot stock image ${image.hash} (build ${image.buildMs} ms), boot ${guest.bootMs} ms`);
  }, 45 * 60_000);
  afterAll(async () => {
    await guest?.stop();
  }, 30_000);

  it("runs BusyBox telnetd on 23 (Buildroot's S50telnet)", async () => {
    expect(await guest!.run("pidof telnetd | wc -w")).toMatch(/1/);
    expect(await portOpen(port23)).toBe(true);
  }, 60_000);

  it("root logs in over telnet with no password", async () => {
    expect(await telnetLogin(port23, "root", "")).toBe("shell");
  }, 60_000);

  it("root logs in on the serial console with no password", async () => {
    expect(await consoleLogin(guest!.console, { user: "root", pass: "" })).toBe("shell");
  }, 120_000);
});

describe.skipIf(!!why)("Buildroot camera armhf with flussonic-agent (what the QEMU suites boot)", () => {
  let root = "";
  let log = "";
  beforeAll(async () => {
    const image = await buildrootImage({ arch: "armhf", variant: "hardened" });
    root = await unpack(image.rootfs);
    log = image.log;
  }, 45 * 60_000);
  afterAll(() => {
    if (root) rmSync(root, { recursive: true, force: true });
  });

  it("is Buildroot's skeleton with the package's files, built by our defconfig", () => {
    expect(readFileSync(join(root, "usr/lib/os-release"), "utf8")).toMatch(/Buildroot 2025\.02\.16/);
    for (const f of ["usr/bin/flussonic-agent", "usr/sbin/flussonic-harden", "usr/sbin/flussonic-listeners", "usr/share/flussonic-harden/flussonic-harden-common.sh", "etc/init.d/S60flussonic-agent", "etc/init.d/S05flussonic-harden", "etc/init.d/S40network"])
      expect(readFileSync(join(root, f)).length, f).toBeGreaterThan(0);
  });

  it("has no telnetd and no usable root password in the image", () => {
    expect(readFileSync(join(root, "etc/inittab"), "utf8")).not.toMatch(/^[^#]*telnetd/m);
    const rootHash = readFileSync(join(root, "etc/shadow"), "utf8").split("\n").find((l) => l.startsWith("root:"))!.split(":")[1];
    expect(rootHash.startsWith("!") || rootHash === "*").toBe(true);
  });

  it("locks, at build time, the admin account a rootfs overlay added with a default password", async () => {
    // The rig's overlay ships its own /etc/passwd and /etc/shadow with admin/admin (maker-overlay.ts):
    // hardening that ran before the overlays (a target-finalize hook) would have left it usable.
    const shadow = Object.fromEntries(readFileSync(join(root, "etc/shadow"), "utf8").trim().split("\n")
      .map((l) => [l.split(":")[0], l.split(":")[1]]));
    expect(readFileSync(join(root, "etc/passwd"), "utf8")).toMatch(/^admin:x:500:/m);
    expect(shadow[MAKER_ADMIN.user]).toBe("*");
    expect(readFileSync(log, "utf8")).toContain(`flussonic-harden: locked ${MAKER_ADMIN.user}`);
    // The agent's own user from the package's users table (mkusers runs before the hook): no
    // password, no shell, owns its state directory.
    expect(shadow["flussonic-agent"]).toBe("*");
    const agent = readFileSync(join(root, "etc/passwd"), "utf8").split("\n").find((l) => l.startsWith("flussonic-agent:"))!.split(":");
    expect(agent[5]).toBe("/var/lib/flussonic-agent");
    expect(agent[6]).toBe("/bin/false");
    expect(Number(agent[2])).toBeGreaterThan(0);
    expect(statSync(join(root, "var/lib/flussonic-agent")).uid).toBe(Number(agent[2]));
  });

  it("links the agent against Buildroot's mbedtls and quickjs packages instead of compiling their sources", async () => {
    const needed = (await execa("readelf", ["-d", join(root, "usr/bin/flussonic-agent")])).stdout;
    for (const lib of ["libmbedtls", "libmbedx509", "libmbedcrypto"]) expect(needed, lib).toMatch(new RegExp(`\\(NEEDED\\).*\\[${lib}\\.so`));
    // The package's shared libraries are in the image; libquickjs.a was linked in statically.
    expect((await execa("sh", ["-c", `ls '${root}'/usr/lib/libmbedtls.so.*`])).stdout).toMatch(/libmbedtls\.so\./);
  });

  it("passes flussonic-harden check on the rootfs", async () => {
    const r = await execa("sh", [join(REPO, "package/flussonic-harden/flussonic-harden"), "check", root], { reject: false, all: true });
    console.log(r.all);
    expect(r.exitCode).toBe(0);
  }, 120_000);
});

describe.skipIf(!!whyNext)(`Buildroot ${NEXT}`, () => {
  it("builds the same armhf camera from the same defconfig", async () => {
    const image = await buildrootImage({ arch: "armhf", variant: "hardened", version: NEXT });
    console.log(`[armhf] Buildroot ${NEXT} image ${image.hash} (build ${image.buildMs} ms)`);
    const root = await unpack(image.rootfs);
    try {
      expect(readFileSync(join(root, "usr/lib/os-release"), "utf8")).toMatch(/Buildroot 2026\.02\.3/);
      expect(readFileSync(join(root, "usr/bin/flussonic-agent")).length).toBeGreaterThan(100_000);
      const r = await execa("sh", [join(REPO, "package/flussonic-harden/flussonic-harden"), "check", root], { reject: false, all: true });
      expect(r.exitCode, r.all).toBe(0);
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
  }, 45 * 60_000);
});
