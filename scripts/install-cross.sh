#!/bin/sh
# Cross toolchains, musl for each camera CPU, and qemu-user for running the static agent on the host.
# Idempotent: only missing packages are installed. Debian 12 (bookworm) packages only.
# Never installs gcc-multilib: on Debian 12 it removes the cross compilers.
set -eu
# shellcheck disable=SC1091 # sourced from this script's own directory
. "$(dirname "$0")/lib/apt.sh"

# Debian arch name per our ARCH name: armhf armel arm64(aarch64) mipsel
FOREIGN="armhf armel arm64 mipsel"
# libmbedtls-dev (2.28): the host test probe that compiles tls.c against mbedTLS 2.x (mk/native.mk).
PKGS="gcc-arm-linux-gnueabihf gcc-arm-linux-gnueabi gcc-aarch64-linux-gnu gcc-mipsel-linux-gnu \
qemu-user-static musl-tools dpkg-dev xz-utils openssl libmbedtls-dev \
musl-dev:armhf musl-dev:armel musl-dev:arm64 musl-dev:mipsel"

need_update=0
for a in $FOREIGN; do
	if ! dpkg --print-foreign-architectures | grep -qx "$a"; then
		dpkg --add-architecture "$a"
		need_update=1
	fi
done

# shellcheck disable=SC2086 # a list of package names
missing=$(apt_missing $PKGS)
if [ -n "$missing" ]; then
	# shellcheck disable=SC2086
	apt_install install-cross $missing
elif [ "$need_update" = 1 ]; then
	apt_update install-cross
fi
echo "install-cross: cross toolchains, musl and qemu-user present"
