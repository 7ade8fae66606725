/**
 * The emulated camera built by Buildroot: configs/flussonic_qemu_arm_virt_defconfig with our
 * external tree (scripts/buildroot-image.sh, offline), plus what the test rig provisions through
 * a generated rootfs overlay and post-build script — never committed:
 *   - per-deployment data (agent.json with the guestfwd endpoint and test timings, the test CA,
 *     the activation token), as a camera maker's provisioning would;
 *   - the fake camera (the vendor's RTSP/HTTP services on loopback) and the flash helper;
 *   - Debian's kernel modules for the board (virtio-net is a module there) and a loader;
 *   - a root shell on the rig's control line (hvc0), which is on no network.
 * The kernel stays Debian's (BR2_LINUX_KERNEL off). Cached by content hash in
 * build/qemu-images/<arch>-br<version>-<variant>-<hash>/ like the Debian-assembled images.
 */
import { createHash } from "node:crypto";
import { execFileSync } from "node:child_process";
import { chmodSync, cpSync, existsSync, mkdirSync, readFileSync, readdirSync, renameSync, rmSync, statSync, writeFileSync } from "node:fs";
import { dirname, join, relative } from "node:path";
import { execa } from "execa";
import { Arch, BOARDS } from "./boards.js";
import { provisionFiles, rigFiles } from "./hardened.js";
import { fetchGuestDebs, Image, ImageFile, listFiles, Variant } from "./image.js";
import { makerOverlayAccounts } from "./maker-overlay.js";
import { resolveModules } from "./modules.js";
import { REPO } from "./paths.js";

export const BR_DEFAULT_VERSION = "2025.02.16";
const SHARED = process.env.BUILDROOT_TARBALLS ?? join(REPO, "../shared/buildroot");
const DEFCONFIG: Partial<Record<Arch, string>> = { armhf: "flussonic_qemu_arm_virt_defconfig", aarch64: "flussonic_qemu_aarch64_virt_defconfig" };
const CROSS: Partial<Record<Arch, string>> = { armhf: "arm-linux-gnueabihf", aarch64: "aarch64-linux-gnu" };
/**
 * Arches whose QEMU suites boot the Buildroot-built image: armhf by default; BUILDROOT_ARCHES=armhf,aarch64
 * adds aarch64 (opt-in: one more cold Buildroot build, several minutes; needs
 * `scripts/install-buildroot-deps.sh --check aarch64`).
 */
export const BUILDROOT_ARCHES = (process.env.BUILDROOT_ARCHES ?? "armhf").split(",").filter(Boolean) as Arch[];
const GUEST_DIR = join(REPO, "qemu-tests/guest");

/** Why a Buildroot image of this arch/version cannot be built here, or null if it can. */
export function buildrootUnavailable(arch: Arch, version = BR_DEFAULT_VERSION): string | null {
  if (!DEFCONFIG[arch]) return `no Buildroot defconfig for ${arch} (armhf, aarch64)`;
  if (!existsSync(`/usr/bin/${CROSS[arch]}-gcc`) || !existsSync(`/usr/${CROSS[arch]}/include/linux/version.h`))
    return `no Debian ${CROSS[arch]} cross gcc and libc (scripts/install-buildroot-deps.sh --check ${arch})`;
  if (process.env.BUILDROOT_DIR) return existsSync(join(process.env.BUILDROOT_DIR, "Makefile")) ? null : `BUILDROOT_DIR=${process.env.BUILDROOT_DIR} is not a Buildroot tree`;
  if (!existsSync(join(SHARED, `buildroot-${version}.tar.xz`)))
    return `no Buildroot ${version}: neither BUILDROOT_DIR nor ${join(SHARED, `buildroot-${version}.tar.xz`)}`;
  return null;
}

/**
 * Which image the QEMU suites boot for an arch: the Buildroot-built one for BUILDROOT_ARCHES (armhf;
 * aarch64 opt-in) when there is a Buildroot, else the Debian-assembled one (mipsel, raspi0 armel —
 * CPUs and NICs the Buildroot build does not cover yet; and every board in a checkout
 * without ../shared). QEMU_IMAGES=debian forces the Debian-assembled images everywhere.
 */
export function useBuildroot(arch: Arch): boolean {
  return process.env.QEMU_IMAGES !== "debian" && BUILDROOT_ARCHES.includes(arch) && buildrootUnavailable(arch) === null;
}


/** Every file the Buildroot build reads from this repository (its inputs, for the cache key). */
function repoInputs(variant: Variant): string[] {
  const tracked = execFileSync("git", ["ls-files", "buildroot-external", "package", "board", "configs", "scripts/buildroot-image.sh",
    "scripts/buildroot-offline", "scripts/lib/buildroot-toolchain.sh", "scripts/debian-source.sh", "qemu-tests/lib/buildroot.ts",
    ...(variant === "hardened" ? ["agent-src/native"] : [])], { cwd: REPO, encoding: "utf8" });
  const files = tracked.split("\n").filter(Boolean).map((f) => join(REPO, f));
  // Files not committed yet count too (a working tree's change must rebuild).
  return files.filter((f) => existsSync(f) && statSync(f).isFile());
}

const MODULE_LOADER = `#!/bin/sh
# Test rig (QEMU board with Debian's kernel): load the NIC, console and disk modules before
# S40network, in dependency order; set the clock the rig hands over (camera.time=, as NTP would).
case "$1" in
start)
	while read -r m; do
		[ -n "$m" ] && insmod "/lib/modules/$m"
	done </etc/modules.order
	for a in $(cat /proc/cmdline); do
		case "$a" in camera.time=*) date -u -s "@\${a#camera.time=}" >/dev/null ;; esac
	done
	;;
esac
exit 0
`;

export interface BuildrootSpec {
  arch: Arch;
  variant: Variant;
  /** Buildroot release (a tarball in ../shared/buildroot); BUILDROOT_DIR overrides. */
  version?: string;
  /** Extra files for the rig's overlay (hardened: after the provisioning and fake camera). */
  files?: ImageFile[];
}

export async function buildrootImage(spec: BuildrootSpec): Promise<Image & { rootfs: string; log: string }> {
  const t0 = Date.now();
  const { arch, variant } = spec;
  const version = spec.version ?? BR_DEFAULT_VERSION;
  const why = buildrootUnavailable(arch, version);
  if (why) throw new Error(`Buildroot image: ${why}`);
  const board = BOARDS[arch];
  const debs = await fetchGuestDebs(arch);
  const kernel = listFiles(join(debs, "kernel/boot")).find((p) => board.kernelGlob.test(p.split("/").pop()!))!;
  const modVerDir = join(debs, "kernel/lib/modules", readdirSync(join(debs, "kernel/lib/modules"))[0]);
  const modules = resolveModules(modVerDir, board.modules);

  const files: ImageFile[] = [
    { path: "/etc/init.d/S00modules", content: MODULE_LOADER, mode: 0o755 },
    { path: "/etc/modules.order", content: modules.join("\n") + "\n", mode: 0o644 },
    ...modules.map((m) => ({ path: `/lib/modules/${m}`, from: join(modVerDir, m), mode: 0o644 })),
    { path: "/etc/init.d/S01flash", from: join(GUEST_DIR, "common/etc/init.d/S01flash"), mode: 0o755 },
    ...(variant === "hardened"
      ? [...provisionFiles(), ...rigFiles(arch), { path: "/etc/init.d/S50fake-camera", from: join(GUEST_DIR, "hardened/etc/init.d/S50fake-camera"), mode: 0o755 },
        ...makerOverlayAccounts()]
      : []),
    ...(spec.files ?? []),
  ];
  const postBuild = `#!/bin/sh
# Test rig: a root shell on the control line (${board.controlTty}, on no network), as the last post-build
# step; once (an incremental build runs it again on the same target/).
set -e
grep -q '^${board.controlTty}::' "$1/etc/inittab" || echo '${board.controlTty}::respawn:/bin/sh' >>"$1/etc/inittab"
`;

  const h = createHash("sha256");
  const feed = (label: string, data: string | Uint8Array) => {
    h.update(label + "\0");
    h.update(data);
    h.update("\0");
  };
  feed("spec", JSON.stringify({ arch, variant, version, dir: process.env.BUILDROOT_DIR ?? "", modules }));
  feed("gcc", execFileSync(`/usr/bin/${CROSS[arch]}-gcc`, ["--version"], { encoding: "utf8" }));
  for (const f of repoInputs(variant)) feed(relative(REPO, f) + ":" + (statSync(f).mode & 0o777), readFileSync(f));
  if (variant === "hardened") feed("bundle", readFileSync(join(REPO, "build/bundle/agent-quickjs.js")));
  for (const f of files) feed(`${f.path}:${f.mode ?? 0}`, f.from ? readFileSync(f.from) : f.content ?? "");
  feed("post-build", postBuild);
  const hash = h.digest("hex").slice(0, 16);

  const outDir = join(REPO, "build/qemu-images", `${arch}-br${version}-${variant}-${hash}`);
  const rootfs = join(outDir, "rootfs.cpio");
  const image = { arch, variant, kernel, initrd: rootfs, hash, rootfs, log: join(outDir, "build.log") };
  if (existsSync(rootfs)) return { ...image, buildMs: 0 };

  // The rig's overlay and post-build script live at fixed paths (the defconfig names them), so a
  // change of content rebuilds incrementally instead of from scratch.
  const rig = join(REPO, "build/buildroot-image", `rig-${arch}-${variant}`);
  rmSync(rig, { recursive: true, force: true });
  for (const f of files) {
    const dst = join(rig, "overlay", f.path);
    mkdirSync(dirname(dst), { recursive: true });
    if (f.from) cpSync(f.from, dst);
    else writeFileSync(dst, f.content ?? "");
    if (f.mode !== undefined) chmodSync(dst, f.mode);
  }
  writeFileSync(join(rig, "post-build.sh"), postBuild, { mode: 0o755 });

  const tmp = `${outDir}.tmp-${process.pid}`;
  rmSync(tmp, { recursive: true, force: true });
  const env: Record<string, string> = {
    BR_IMAGE_OVERLAY: join(rig, "overlay"),
    BR_IMAGE_POST_BUILD: join(rig, "post-build.sh"),
    ...(process.env.BUILDROOT_DIR ? {} : { BUILDROOT_VERSION: version }),
  };
  const r = await execa("nice", ["-n", "10", join(REPO, "scripts/buildroot-image.sh"), ...(variant === "stock" ? ["--stock"] : []), arch, tmp], {
    env, reject: false, all: true, timeout: 40 * 60_000,
  });
  if (r.exitCode !== 0) throw new Error(`scripts/buildroot-image.sh ${variant} ${arch} failed:\n${r.all?.slice(-4000)}`);
  rmSync(outDir, { recursive: true, force: true });
  renameSync(tmp, outDir);
  return { ...image, buildMs: Date.now() - t0 };
}
