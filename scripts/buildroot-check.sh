#!/bin/bash
# Checks this repository's Buildroot external tree against a real Buildroot checkout (2025.02.x):
#   1. utils/check-package on every file of the tree: must report nothing;
#   2. `make list-defconfigs` with BR2_EXTERNAL lists our defconfigs;
#   3. `make flussonic-agent` for ARM Cortex-A7 (armhf) with a local toolchain, then target/ must
#      hold the static agent, the init scripts and the hardening, and a hardened copy of target/
#      must pass `flussonic-harden check`.
#
# Usage: scripts/buildroot-check.sh BUILDROOT_DIR      (or BUILDROOT_DIR=... in the environment)
#   BUILDROOT_CHECK_DIR  work directory (default build/buildroot-check): output, toolchain
#   QUICKJS_SRC, MBEDTLS_SRC  source trees for Buildroot's quickjs/mbedtls packages
#                        (default .cache/src/{quickjs,mbedtls}, fetched by the native build)
#
# Offline on purpose: the toolchain is Debian's armhf cross gcc behind small wrappers with a
# sysroot of their own (Buildroot refuses a compiler configured --with-sysroot=/), and packages
# whose upstream tarballs cannot be downloaded get <PKG>_OVERRIDE_SRCDIR in local.mk: quickjs and
# mbedtls, host-pkgconf, and host-tar (Buildroot wants tar >= 1.35, Debian 12 has 1.34), all
# from Debian trixie source packages at pinned versions and sha256 (scripts/debian-source.sh).
set -euo pipefail
# shellcheck disable=SC1091 # sourced from this script's own directory
. "$(dirname "$0")/lib/buildroot-toolchain.sh"

REPO=$(cd "$(dirname "$0")/.." && pwd)
BR=${1:-${BUILDROOT_DIR:-}}
WORK=${BUILDROOT_CHECK_DIR:-$REPO/build/buildroot-check}
QUICKJS_SRC=${QUICKJS_SRC:-$REPO/.cache/src/quickjs}
MBEDTLS_SRC=${MBEDTLS_SRC:-$REPO/.cache/src/mbedtls}
CROSS=arm-linux-gnueabihf

say() { echo "buildroot-check: $*"; }
die() { echo "buildroot-check: FAIL: $*" >&2; exit 1; }

[ -n "$BR" ] || die "usage: $0 BUILDROOT_DIR"
BR=$(cd "$BR" && pwd)
if [ ! -f "$BR/Makefile" ] || [ ! -x "$BR/utils/check-package" ]; then die "$BR is not a Buildroot tree"; fi
say "Buildroot $(make -s -C "$BR" --no-print-directory print-version 2>/dev/null || echo '?') in $BR"

# --- 1. check-package ----------------------------------------------------------------------------
cd "$REPO"
mapfile -t FILES < <(find buildroot-external package configs board -type f | sort)
# utils/check-package needs Debian's python3 (python3-magic, flake8), not a pyenv/venv one.
out=$(/usr/bin/python3 "$BR/utils/check-package" -b "${FILES[@]}" 2>&1) || true
echo "$out" | tail -2
if ! echo "$out" | grep -q "^0 warnings generated"; then
	echo "$out"
	die "check-package reported warnings"
fi
say "check-package: ${#FILES[@]} files, 0 warnings"

# --- 2. list-defconfigs --------------------------------------------------------------------------
OUT=$WORK/output
mkdir -p "$OUT"
listed=$(make -s -C "$BR" O="$OUT" BR2_EXTERNAL="$REPO/buildroot-external" list-defconfigs)
for d in configs/*_defconfig; do
	grep -q "^  $(basename "$d") " <<<"$listed" || die "list-defconfigs does not list $(basename "$d")"
done
say "list-defconfigs lists: $(cd configs && echo *_defconfig)"

# --- 3. package build ----------------------------------------------------------------------------
[ -x "/usr/bin/$CROSS-gcc" ] || die "no /usr/bin/$CROSS-gcc (scripts/install-buildroot-deps.sh --check)"
[ -f "$QUICKJS_SRC/quickjs.c" ] || die "no QuickJS sources in $QUICKJS_SRC (scripts/fetch-quickjs.sh)"
[ -f "$MBEDTLS_SRC/library/ssl_tls.c" ] || die "no mbedTLS sources in $MBEDTLS_SRC (scripts/fetch-mbedtls.sh)"
[ -f "$REPO/build/bundle/agent-quickjs.js" ] || make -C "$REPO" --no-print-directory bundle

# Wrapper toolchain: a copy of Debian's armhf sysroot, gcc told to use it.
TC=$WORK/toolchain-armhf
br_toolchain "$CROSS" "$TC"

cat >"$WORK/check_defconfig" <<EOF
BR2_arm=y
BR2_cortex_a7=y
BR2_ARM_FPU_NEON_VFPV4=y
BR2_JLEVEL=2
$(br_toolchain_defconfig "$CROSS" "$TC")
BR2_PACKAGE_FLUSSONIC_AGENT=y
BR2_PACKAGE_FLUSSONIC_HARDEN=y
BR2_PACKAGE_FLUSSONIC_AGENT_ENDPOINTS="endpoint.example.com:7443 [2001:db8::1]:7443"
BR2_PACKAGE_FLUSSONIC_AGENT_SPKI_PINS="47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU="
EOF

# host-pkgconf (a dependency of every cmake package, here mbedtls): Debian's pkgconf sources.
PKGCONF_SRC=$REPO/.cache/src/pkgconf
"$REPO/scripts/debian-source.sh" pkgconf 1.8.1-4 pkgconf_1.8.1.orig.tar.xz \
	644361ada2942be05655d4452eb018791647c31bba429b287f1f68deb2dc6840 "$PKGCONF_SRC"
{
	echo "QUICKJS_OVERRIDE_SRCDIR = $QUICKJS_SRC"
	echo "MBEDTLS_OVERRIDE_SRCDIR = $MBEDTLS_SRC"
	echo "HOST_PKGCONF_OVERRIDE_SRCDIR = $PKGCONF_SRC"
} >"$OUT/local.mk"
# Buildroot >= 2024.05 builds host-tar when the system tar is older than 1.35.
if [ -n "$(sed -n 's/^tar (GNU tar) 1\.\(3[0-4]\|[12][0-9]\)\b.*/old/p' <(tar --version))" ]; then
	TAR_SRC=$REPO/.cache/src/tar
	"$REPO/scripts/debian-source.sh" tar 1.35+dfsg-3.1 tar_1.35+dfsg.orig.tar.xz \
		9ae57e981c1e73c0eebc2b26c9b0c4497fe310ef1d516ea430efb5470b71f7a8 "$TAR_SRC"
	echo "HOST_TAR_OVERRIDE_SRCDIR = $TAR_SRC" >>"$OUT/local.mk"
fi

# Buildroot < 2025.02 ships QuickJS/mbedTLS too old for the agent: use the package's own-sources mode.
BR_MBEDTLS=$(sed -n 's/^MBEDTLS_VERSION = //p' "$BR/package/mbedtls/mbedtls.mk")
BR_QUICKJS=$(sed -n 's/^QUICKJS_VERSION = //p' "$BR/package/quickjs/quickjs.mk")
if [ "${BR_MBEDTLS%%.*}" -lt 3 ] || [[ "$BR_QUICKJS" < 2025-04-26 ]]; then
	say "Buildroot's quickjs $BR_QUICKJS / mbedtls $BR_MBEDTLS too old: BR2_PACKAGE_FLUSSONIC_AGENT_OWN_SOURCES"
	printf '%s\n' BR2_PACKAGE_FLUSSONIC_AGENT_OWN_SOURCES=y \
		"BR2_PACKAGE_FLUSSONIC_AGENT_QUICKJS_SRCDIR=\"$QUICKJS_SRC\"" \
		"BR2_PACKAGE_FLUSSONIC_AGENT_MBEDTLS_SRCDIR=\"$MBEDTLS_SRC\"" >>"$WORK/check_defconfig"
fi

say "configuring ($WORK/check_defconfig, $OUT/local.mk)"
make -s -C "$BR" O="$OUT" BR2_EXTERNAL="$REPO/buildroot-external" \
	BR2_DEFCONFIG="$WORK/check_defconfig" defconfig >/dev/null
grep -q '^BR2_PACKAGE_FLUSSONIC_AGENT=y$' "$OUT/.config" || die "BR2_PACKAGE_FLUSSONIC_AGENT did not stick (dependencies?)"
grep -q '^BR2_PACKAGE_FLUSSONIC_HARDEN=y$' "$OUT/.config" || die "BR2_PACKAGE_FLUSSONIC_HARDEN did not stick (BusyBox?)"

# GNU tar's configure refuses root unless told; CI runs as root.
if [ "$(id -u)" = 0 ]; then export FORCE_UNSAFE_CONFIGURE=1; fi
say "make flussonic-agent flussonic-harden (log: $WORK/build.log)"
start=$(date +%s)
# Always from the current sources: a local package is otherwise not rebuilt when they change.
make -s -C "$BR" O="$OUT" flussonic-agent-dirclean flussonic-harden-dirclean >/dev/null 2>&1 || true
if ! make -C "$BR" O="$OUT" flussonic-agent flussonic-harden >"$WORK/build.log" 2>&1; then
	tail -40 "$WORK/build.log"
	die "make flussonic-agent flussonic-harden failed"
fi
say "make flussonic-agent flussonic-harden: OK in $(($(date +%s) - start)) s"

T=$OUT/target
bin=$T/usr/bin/flussonic-agent
[ -x "$bin" ] || die "no $bin"
info=$(file -b "$bin")
say "agent: $info"
grep -q "ELF 32-bit LSB executable, ARM" <<<"$info" || die "agent is not an ARM executable"
# Linked as the toolchain is: this glibc one has shared libraries, so the agent is dynamic.
grep -q "dynamically linked" <<<"$info" || die "agent is static on a shared-library toolchain"
"$TC/bin/$CROSS-strip" -o "$WORK/flussonic-agent.stripped" "$bin"
say "agent size: $(stat -c %s "$bin") bytes, stripped $(stat -c %s "$WORK/flussonic-agent.stripped")"
if command -v qemu-arm-static >/dev/null 2>&1; then
	say "agent --version under qemu-arm-static: $(qemu-arm-static -L "$TC/sysroot" "$bin" --version 2>&1 | tr '\n' ' ')"
fi
for f in etc/init.d/S60flussonic-agent etc/init.d/S05flussonic-harden usr/sbin/flussonic-agent-supervise \
	usr/sbin/flussonic-harden usr/sbin/flussonic-listeners; do
	[ "$(stat -c %a "$T/$f" 2>/dev/null)" = 755 ] || die "$f missing or not 0755 in target/"
done
for f in usr/share/flussonic-harden/default-credentials.tsv usr/share/flussonic-harden/flussonic-harden-common.sh \
	etc/default/flussonic-harden \
	etc/default/flussonic-agent etc/flussonic-agent/agent.json; do
	[ -f "$T/$f" ] || die "$f missing in target/"
done
node -e 'JSON.parse(require("fs").readFileSync(process.argv[1], "utf8"))' "$T/etc/flussonic-agent/agent.json" ||
	die "target/etc/flussonic-agent/agent.json is not JSON"
say "target/: agent, S60flussonic-agent, S05flussonic-harden, supervisor, hardening, agent.json present"

# Rootfs policy: hardening runs on each filesystem's final tree (after overlays, post-build
# scripts and the users tables), from fs/common.mk's pre-command hooks.
hooks=$(make -s -C "$BR" O="$OUT" printvars VARS=ROOTFS_PRE_CMD_HOOKS)
grep -q 'FLUSSONIC_HARDEN_ROOTFS_HARDEN' <<<"$hooks" ||
	die "FLUSSONIC_HARDEN_ROOTFS_HARDEN is not a rootfs pre-command hook: $hooks"
say "rootfs pre-command hooks: FLUSSONIC_HARDEN_ROOTFS_HARDEN"

# The rootfs hook runs only for a full image: harden a copy of target/ the same way.
rm -rf "$WORK/target-copy"
cp -a "$T" "$WORK/target-copy"
"$REPO/package/flussonic-harden/flussonic-harden" build "$WORK/target-copy" >/dev/null
"$REPO/package/flussonic-harden/flussonic-harden" check "$WORK/target-copy" || die "hardened target/ has holes"
say "PASS"
