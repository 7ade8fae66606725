/**
 * `make image ARCH=armhf [VARIANT=hardened|stock] [BUILDROOT_VERSION=2025.02.16]`: the Buildroot-built
 * camera the QEMU suites boot (qemu-tests/lib/buildroot.ts), cached by content hash. Prints where
 * the rootfs.cpio and the Debian kernel it boots with are. Exits 3 with the reason when this
 * checkout has no Buildroot (no ../shared/buildroot tarball and no BUILDROOT_DIR).
 */
import { buildrootImage, buildrootUnavailable, BR_DEFAULT_VERSION } from "../lib/buildroot.js";
import type { Arch } from "../lib/boards.js";

const arch = (process.env.ARCH || "armhf") as Arch;
const variants = (process.env.VARIANT || "hardened").split(/[ ,]+/) as ("hardened" | "stock")[];
const version = process.env.BUILDROOT_VERSION || BR_DEFAULT_VERSION;
const why = buildrootUnavailable(arch, version);
if (why) {
  console.log(`make image: SKIPPED: ${why}`);
  process.exit(3);
}
for (const variant of variants) {
  const img = await buildrootImage({ arch, variant, version });
  console.log(`make image: ${arch} ${variant} Buildroot ${version}: ${img.rootfs} (${img.buildMs ? `built in ${Math.round(img.buildMs / 1000)} s` : "cached"}); kernel ${img.kernel}`);
}
