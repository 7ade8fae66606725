#!/bin/sh
# Downloads and unpacks, from Debian's registry, what an emulated camera is made of:
# a kernel (with its modules) and busybox-static for the guest architecture.
#   scripts/fetch-guest-debs.sh armhf|aarch64|mipsel|armel ...
# Output: .cache/guest/<arch>/{kernel,busybox}/ (dpkg-deb -x trees) and .cache/guest/<arch>/debs.txt
# (the exact .deb file names, part of the image cache key). Idempotent: nothing is fetched twice.
set -eu

ROOT=$(cd "$(dirname "$0")/.." && pwd)
CACHE="$ROOT/.cache/guest"

debarch() {
	case "$1" in
	armhf) echo armhf ;; aarch64) echo arm64 ;; mipsel) echo mipsel ;; armel) echo armel ;;
	*) echo "fetch-guest-debs: unknown arch $1" >&2; exit 2 ;;
	esac
}
# Kernel flavour per board: -M virt (armhf, arm64), malta (mipsel), raspi0 (armel = ARMv6).
kernel_meta() {
	case "$1" in
	armhf) echo linux-image-armmp ;; aarch64) echo linux-image-arm64 ;;
	mipsel) echo linux-image-4kc-malta ;; armel) echo linux-image-rpi ;;
	esac
}

apt_updated=""
ensure_arch() {
	if ! dpkg --print-foreign-architectures | grep -qx "$1" && [ "$1" != "$(dpkg --print-architecture)" ]; then
		dpkg --add-architecture "$1"
		apt_updated=""
	fi
	if [ -z "$apt_updated" ] && ! apt-cache show "busybox-static:$1" >/dev/null 2>&1; then
		apt-get -o DPkg::Lock::Timeout=600 update -qq
		apt_updated=1
	fi
}

for arch in "$@"; do
	da=$(debarch "$arch")
	dir="$CACHE/$arch"
	if [ -f "$dir/.done" ]; then
		continue
	fi
	ensure_arch "$da"
	meta=$(kernel_meta "$arch")
	# The meta-package depends on the current versioned image package (e.g. linux-image-6.1.0-50-armmp).
	kpkg=$(apt-cache depends "$meta:$da" 2>/dev/null | sed -n 's/^ *Depends: \(linux-image-[0-9][^:]*\).*/\1/p' | head -1)
	[ -n "$kpkg" ] || { echo "fetch-guest-debs: cannot resolve $meta:$da" >&2; exit 1; }
	rm -rf "$dir"; mkdir -p "$dir/dl"
	(cd "$dir/dl" && apt-get download -q "$kpkg:$da" "busybox-static:$da")
	mkdir -p "$dir/kernel" "$dir/busybox"
	dpkg-deb -x "$dir/dl/$kpkg"_*.deb "$dir/kernel"
	dpkg-deb -x "$dir/dl/busybox-static"_*.deb "$dir/busybox"
	(cd "$dir/dl" && for f in ./*.deb; do echo "${f#./}"; done) >"$dir/debs.txt"
	rm -rf "$dir/dl"
	touch "$dir/.done"
	echo "fetch-guest-debs: $arch: $(tr '\n' ' ' <"$dir/debs.txt")"
done
