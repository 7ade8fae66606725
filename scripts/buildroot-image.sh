#!/bin/bash
# Builds a complete camera root filesystem (rootfs.cpio) with Buildroot, our external tree and our
# defconfig, offline: what `make image` and the QEMU suites boot.
#
# Usage: scripts/buildroot-image.sh [--stock] ARCH OUT_DIR
#   ARCH      armhf (configs/flussonic_qemu_arm_virt_defconfig), aarch64 (…_aarch64_virt_defconfig)
#   --stock   the same defconfig without our package, board overlay, post-build script and BusyBox
#             fragment, plus BusyBox telnetd: Buildroot's skeleton as camera firmware ships it
#             (empty root password, telnetd on 23 from Buildroot's S50telnet)
#   OUT_DIR   gets rootfs.cpio, defconfig (what was built) and build.log
# Environment:
#   BUILDROOT_DIR        an existing Buildroot tree; else BUILDROOT_VERSION (default 2025.02.16)
#                        is unpacked from BUILDROOT_TARBALLS (default ../shared/buildroot), checked
#                        against its SHA256SUMS, into .cache/buildroot/
#   BR_IMAGE_OVERLAY     extra rootfs overlay, after the board's (the test rig's: CA, token...)
#   BR_IMAGE_POST_BUILD  extra post-build script, after the board's
#   BR_IMAGE_WORK        Buildroot output folder (default build/buildroot-image/ARCH-VARIANT-VERSION);
#                        kept between runs, rebuilt from scratch when the configuration changes
#
# Offline: nothing is downloaded from Buildroot's sites (BR2_PRIMARY_SITE_ONLY points at a folder
# that does not exist, so an attempted download fails the build at once). Sources come from
# Debian source packages at pinned versions and sha256 (scripts/debian-source.sh): into the
# download folder when Debian's orig tarball is byte-identical to Buildroot's (Buildroot checks
# its own hash), else as <PKG>_OVERRIDE_SRCDIR. host-fakeroot, whose sources Debian's mirror no
# longer has, is Debian 12's fakeroot binary package. The toolchain is Debian's cross gcc
# (scripts/lib/buildroot-toolchain.sh); the kernel is Debian's, booted by the QEMU harness.
set -euo pipefail
# shellcheck disable=SC1091 # sourced from this script's own directory
. "$(dirname "$0")/lib/buildroot-toolchain.sh"

REPO=$(cd "$(dirname "$0")/.." && pwd)
say() { echo "buildroot-image: $*"; }
die() { echo "buildroot-image: FAIL: $*" >&2; exit 1; }

VARIANT=hardened
if [ "${1:-}" = --stock ]; then VARIANT=stock; shift; fi
ARCH=${1:-}
OUT=${2:-}
if [ -z "$ARCH" ] || [ -z "$OUT" ]; then die "usage: $0 [--stock] ARCH OUT_DIR"; fi
case "$ARCH" in
armhf) CROSS=arm-linux-gnueabihf DEFCONFIG=flussonic_qemu_arm_virt_defconfig ;;
aarch64) CROSS=aarch64-linux-gnu DEFCONFIG=flussonic_qemu_aarch64_virt_defconfig ;;
*) die "no Buildroot defconfig for $ARCH yet (armhf, aarch64)" ;;
esac
[ -x "/usr/bin/$CROSS-gcc" ] || die "no /usr/bin/$CROSS-gcc (scripts/install-buildroot-deps.sh --check)"

# --- Buildroot tree --------------------------------------------------------------------------------
if [ -n "${BUILDROOT_DIR:-}" ]; then
	BR=$(cd "$BUILDROOT_DIR" && pwd)
else
	VERSION=${BUILDROOT_VERSION:-2025.02.16}
	TARBALLS=${BUILDROOT_TARBALLS:-$REPO/../shared/buildroot}
	BR=$REPO/.cache/buildroot/buildroot-$VERSION
	if [ ! -f "$BR/.unpacked" ]; then
		tarball=$TARBALLS/buildroot-$VERSION.tar.xz
		[ -f "$tarball" ] || die "no $tarball (set BUILDROOT_DIR, or get it from https://buildroot.org/downloads/)"
		if [ -f "$TARBALLS/SHA256SUMS" ]; then
			(cd "$TARBALLS" && grep " buildroot-$VERSION.tar.xz\$" SHA256SUMS | sha256sum -c --quiet -) ||
				die "$tarball does not match $TARBALLS/SHA256SUMS"
		fi
		rm -rf "$BR" && mkdir -p "$BR"
		tar -xf "$tarball" -C "$BR" --strip-components=1
		touch "$BR/.unpacked"
	fi
fi
if [ ! -f "$BR/Makefile" ] || [ ! -d "$BR/package/busybox" ]; then die "$BR is not a Buildroot tree"; fi
BR_VERSION=$(sed -n "s/^export BR2_VERSION := //p" "$BR/Makefile") # (print-version would ask our git)
WORK=${BR_IMAGE_WORK:-$REPO/build/buildroot-image/$ARCH-$VARIANT-$BR_VERSION}
O=$WORK/output
DL=$REPO/.cache/buildroot-dl
SRC=$REPO/.cache/src
mkdir -p "$O" "$DL" "$OUT"
say "Buildroot $BR_VERSION ($BR), $DEFCONFIG, $VARIANT, output $O"

# --- sources, from Debian --------------------------------------------------------------------------
deb_src() { "$REPO/scripts/debian-source.sh" "$@" >/dev/null; }
# Into the download folder, under Buildroot's file name (Buildroot checks its own hash).
deb_dl() { # PKG DEBPKG VERSION ORIG SHA FILE
	deb_src --copy "$2" "$3" "$4" "$5" "$DL/$1/$6"
}
br_var() { sed -n "s/^$1 = //p" "$BR/package/$2/$2.mk"; }
deb_dl busybox busybox 1:1.37.0-6 busybox_1.37.0.orig.tar.bz2 \
	3311dff32e746499f4df0d5df04d7eb396382d7e108bb9250e7b519b837043a4 busybox-1.37.0.tar.bz2
v=$(br_var BUSYBOX_VERSION busybox)
[ -f "$DL/busybox/busybox-$v.tar.bz2" ] || die "Buildroot $BR_VERSION wants busybox $v; this script has another version"
# Overrides: versions Debian has, which build where Buildroot's would.
deb_src pkgconf 1.8.1-4 pkgconf_1.8.1.orig.tar.xz \
	644361ada2942be05655d4452eb018791647c31bba429b287f1f68deb2dc6840 "$SRC/pkgconf"
deb_src tar 1.35+dfsg-3.1 tar_1.35+dfsg.orig.tar.xz \
	9ae57e981c1e73c0eebc2b26c9b0c4497fe310ef1d516ea430efb5470b71f7a8 "$SRC/tar"
# patchelf: Buildroot's --make-rpath-relative patch, ported to 0.14.3 (3 of its hunks fail there).
PATCHELF_PATCH=$REPO/scripts/buildroot-offline/patchelf-0.14.3-make-rpath-relative.patch
PATCHELF_SRC=$SRC/patchelf-br
patch_sum=$(sha256sum "$PATCHELF_PATCH" | cut -c1-16)
if [ ! -f "$PATCHELF_SRC/.patched-$patch_sum" ]; then
	deb_src patchelf 0.14.3-1 patchelf_0.14.3.orig.tar.gz \
		827a8ca914c69413f1ca0d967a637980a24edf000a938531a77e663317c853bb "$PATCHELF_SRC"
	patch -d "$PATCHELF_SRC" -p1 -s <"$PATCHELF_PATCH"
	touch "$PATCHELF_SRC/.patched-$patch_sum"
fi
# mbedTLS: Debian's orig tarball is the upstream release (same hash), when Buildroot wants 3.6.6.
if [ "$(br_var MBEDTLS_VERSION mbedtls)" = 3.6.6 ]; then
	deb_dl mbedtls mbedtls 3.6.6-0.1~deb13u1 mbedtls_3.6.6.orig.tar.bz2 \
		8fb65fae8dcae5840f793c0a334860a411f884cc537ea290ce1c52bb64ca007a mbedtls-3.6.6.tar.bz2
else
	MBEDTLS_OVERRIDE=$SRC/mbedtls
fi
# QuickJS: the release Buildroot wants, from ../shared when it is there (bellard.org is not
# reachable offline), else the tree the native build fetched.
QJS_VERSION=$(br_var QUICKJS_VERSION quickjs)
QJS_TARBALL=$(find "${BUILDROOT_TARBALLS:-$REPO/../shared/buildroot}" -maxdepth 1 -name "quickjs-$QJS_VERSION.*tar.xz" 2>/dev/null | sort | head -1)
if [ -n "$QJS_TARBALL" ]; then
	QUICKJS_SRC=$SRC/quickjs-$QJS_VERSION
	if [ ! -f "$QUICKJS_SRC/quickjs.c" ]; then
		(cd "$(dirname "$QJS_TARBALL")" && grep " $(basename "$QJS_TARBALL")\$" SHA256SUMS | sha256sum -c --quiet -) ||
			die "$QJS_TARBALL does not match SHA256SUMS"
		rm -rf "$QUICKJS_SRC" && mkdir -p "$QUICKJS_SRC"
		tar -xf "$QJS_TARBALL" -C "$QUICKJS_SRC" --strip-components=1
	fi
else
	QUICKJS_SRC=$SRC/quickjs
	[ -f "$QUICKJS_SRC/quickjs.c" ] || "$REPO/scripts/fetch-quickjs.sh" >/dev/null
fi
# host-fakeroot: Debian 12's binary packages (the sources are gone from the mirror), installed by
# scripts/buildroot-offline/fakeroot.mk from an empty source tree.
FAKEROOT_DEBS=$REPO/.cache/buildroot-fakeroot
if [ ! -f "$FAKEROOT_DEBS/.done" ]; then
	rm -rf "$FAKEROOT_DEBS" && mkdir -p "$FAKEROOT_DEBS/debs" "$FAKEROOT_DEBS/src"
	(cd "$FAKEROOT_DEBS/debs" && apt-get download -q -o APT::Sandbox::User=root fakeroot=1.31-1.2 libfakeroot=1.31-1.2 >/dev/null)
	sha256sum -c --quiet - <<-EOF || die "fakeroot .debs: unexpected sha256"
		$(sed "s| |  $FAKEROOT_DEBS/debs/|" "$REPO/scripts/buildroot-offline/fakeroot.sha256")
	EOF
	for d in "$FAKEROOT_DEBS"/debs/*.deb; do dpkg-deb -x "$d" "$FAKEROOT_DEBS/root"; done
	touch "$FAKEROOT_DEBS/.done"
fi

# --- configuration ---------------------------------------------------------------------------------
TC=$REPO/build/buildroot-image/toolchain-$ARCH
br_toolchain "$CROSS" "$TC"
# The defconfig as the emulated camera builds it: Debian's kernel boots a rootfs.cpio. A defconfig
# that also builds a kernel and a disk image (aarch64, as Buildroot's qemu_aarch64_virt) loses those.
camera_defconfig() {
	if grep -q '^BR2_LINUX_KERNEL=y' "$1"; then
		grep -Ev '^BR2_LINUX_KERNEL|^BR2_TARGET_ROOTFS_EXT2' "$1"
		echo 'BR2_TARGET_ROOTFS_CPIO=y'
		grep -q '^BR2_TARGET_GENERIC_GETTY_PORT=' "$1" || echo 'BR2_TARGET_GENERIC_GETTY_PORT="ttyAMA0"'
	else
		cat "$1"
	fi
}
{
	if [ "$VARIANT" = stock ]; then
		camera_defconfig "$REPO/configs/$DEFCONFIG" | grep -Ev 'FLUSSONIC_(AGENT|HARDEN)|ROOTFS_POST_BUILD_SCRIPT|ROOTFS_OVERLAY|BUSYBOX_CONFIG_FRAGMENT'
		overlay="${BR_IMAGE_OVERLAY:-}"
		post="${BR_IMAGE_POST_BUILD:-}"
		# Buildroot's BusyBox configuration has no telnetd; camera firmware usually adds it.
		echo "BR2_PACKAGE_BUSYBOX_CONFIG_FRAGMENT_FILES=\"$REPO/scripts/buildroot-offline/busybox-stock-telnetd.fragment\""
	else
		camera_defconfig "$REPO/configs/$DEFCONFIG"
		overlay="\$(BR2_EXTERNAL_FLUSSONIC_AGENT_PATH)/board/flussonic/rootfs-overlay ${BR_IMAGE_OVERLAY:-}"
		post="${BR_IMAGE_POST_BUILD:-}"
	fi
	echo "# --- scripts/buildroot-image.sh: offline build on this machine ---"
	br_toolchain_defconfig "$CROSS" "$TC"
	echo "BR2_JLEVEL=$(nproc)"
	echo "BR2_DL_DIR=\"$DL\""
	echo 'BR2_PRIMARY_SITE="file:///nonexistent/buildroot-image-is-offline"'
	echo 'BR2_PRIMARY_SITE_ONLY=y'
	echo "BR2_ROOTFS_OVERLAY=\"${overlay% }\""
	echo "BR2_ROOTFS_POST_BUILD_SCRIPT=\"${post% }\""
} >"$WORK/defconfig.new"
{
	echo "HOST_PKGCONF_OVERRIDE_SRCDIR = $SRC/pkgconf"
	echo "HOST_TAR_OVERRIDE_SRCDIR = $SRC/tar"
	echo "HOST_PATCHELF_OVERRIDE_SRCDIR = $PATCHELF_SRC"
	echo "QUICKJS_OVERRIDE_SRCDIR = $QUICKJS_SRC"
	[ -z "${MBEDTLS_OVERRIDE:-}" ] || echo "MBEDTLS_OVERRIDE_SRCDIR = $MBEDTLS_OVERRIDE"
	echo "HOST_FAKEROOT_OVERRIDE_SRCDIR = $FAKEROOT_DEBS/src"
	sed "s|@FAKEROOT_ROOT@|$FAKEROOT_DEBS/root|" "$REPO/scripts/buildroot-offline/fakeroot.mk"
	cat "$REPO/scripts/buildroot-offline/patchelf.mk"
} >"$WORK/local.mk.new"
# A changed configuration (or Buildroot) starts from an empty output folder: Buildroot does not
# rebuild what a changed option affects.
if ! cmp -s "$WORK/defconfig.new" "$WORK/defconfig" || ! cmp -s "$WORK/local.mk.new" "$O/local.mk" ||
	[ ! -f "$O/.config" ]; then
	say "configuration changed: building from scratch"
	rm -rf "$O" && mkdir -p "$O"
fi
mv "$WORK/defconfig.new" "$WORK/defconfig"
mv "$WORK/local.mk.new" "$O/local.mk"
make -s -C "$BR" O="$O" BR2_EXTERNAL="$REPO/buildroot-external" BR2_DEFCONFIG="$WORK/defconfig" defconfig >/dev/null
if [ "$VARIANT" = hardened ]; then
	grep -q '^BR2_PACKAGE_FLUSSONIC_AGENT=y$' "$O/.config" || die "BR2_PACKAGE_FLUSSONIC_AGENT did not stick (dependencies?)"
	grep -q '^BR2_PACKAGE_FLUSSONIC_HARDEN=y$' "$O/.config" || die "BR2_PACKAGE_FLUSSONIC_HARDEN did not stick (BusyBox?)"
fi
cp "$WORK/defconfig" "$OUT/defconfig"

# --- build -----------------------------------------------------------------------------------------
# GNU tar's configure refuses root unless told; CI runs as root.
if [ "$(id -u)" = 0 ]; then export FORCE_UNSAFE_CONFIGURE=1; fi
# Buildroot wants tar >= 1.35 on the host (Debian 12 has 1.34) and would build host-tar in every
# output folder (~45 s each): the same Debian source, built once here and passed as TAR.
HOST_TAR_DIR=$REPO/.cache/host-tar-1.35
if [ ! -x "$HOST_TAR_DIR/bin/tar" ]; then
	say "host tar 1.35 (once, for every Buildroot build)"
	tb=$(mktemp -d "$REPO/.cache/host-tar-build-XXXXXX") # beside it: the move is a rename
	# Installed aside and moved into place: a concurrent build never sees half a tar.
	if ! (cd "$tb" && "$SRC/tar/configure" --prefix="$HOST_TAR_DIR" --without-selinux --disable-nls -q &&
		make -s -j"$(nproc)" && make -s install DESTDIR="$tb/dest") >"$tb.log" 2>&1; then
		tail -20 "$tb.log"
		rm -rf "$tb" "$tb.log"
		die "host tar 1.35 did not build"
	fi
	mv -T "$tb/dest$HOST_TAR_DIR" "$HOST_TAR_DIR" 2>/dev/null || [ -x "$HOST_TAR_DIR/bin/tar" ] ||
		die "could not install $HOST_TAR_DIR"
	rm -rf "$tb" "$tb.log"
fi
if [ "$VARIANT" = hardened ]; then
	[ -f "$REPO/build/bundle/agent-quickjs.js" ] || make -C "$REPO" --no-print-directory bundle
	# A local package is not rebuilt when its sources change: always from the current ones.
	make -s -C "$BR" O="$O" flussonic-agent-dirclean >/dev/null 2>&1 || true
fi
say "make (log: $OUT/build.log)"
start=$(date +%s)
if ! make -C "$BR" O="$O" TAR="$HOST_TAR_DIR/bin/tar" >"$OUT/build.log" 2>&1; then
	tail -40 "$OUT/build.log"
	die "Buildroot build failed (log: $OUT/build.log)"
fi
cp "$O/images/rootfs.cpio" "$OUT/rootfs.cpio"
say "rootfs.cpio $(stat -c %s "$OUT/rootfs.cpio") bytes in $(($(date +%s) - start)) s"
