#!/bin/sh
# Cross toolchains, musl for each camera CPU, and qemu-user for running the static agent on the host.
# Idempotent: only missing packages are installed. Debian 12 (bookworm) packages only.
# Never installs gcc-multilib: on Debian 12 it removes the cross compilers.
set -eu

# Debian arch name per our ARCH name: armhf armel arm64(aarch64) mipsel
FOREIGN="armhf armel arm64 mipsel"
PKGS="gcc-arm-linux-gnueabihf gcc-arm-linux-gnueabi gcc-aarch64-linux-gnu gcc-mipsel-linux-gnu \
qemu-user-static musl-tools dpkg-dev xz-utils openssl \
musl-dev:armhf musl-dev:armel musl-dev:arm64 musl-dev:mipsel"

apt_update() {
	# A mirror mid-sync can fail one index (seen: bookworm-security armhf); the main archive
	# still carries everything we need, so a partial update is not fatal.
	apt_get update -qq || echo "install-cross: apt-get update reported errors; continuing" >&2
}

apt_get() {
	# Other installers may hold the dpkg lock (parallel CI steps): wait for it instead of failing.
	DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=600 "$@"
}

need_update=0
for a in $FOREIGN; do
	if ! dpkg --print-foreign-architectures | grep -qx "$a"; then
		dpkg --add-architecture "$a"
		need_update=1
	fi
done

missing=""
for p in $PKGS; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || missing="$missing $p"
done
if [ -n "$missing" ]; then
	echo "install-cross: installing:$missing"
	apt_update
	# shellcheck disable=SC2086 # a list of package names
	apt_get install -y -qq --no-install-recommends $missing
elif [ "$need_update" = 1 ]; then
	apt_update
fi
echo "install-cross: cross toolchains, musl and qemu-user present"
