#!/usr/bin/env bash
# The peers' armhf binaries, straight from Debian's armhf packages: OpenSSH's `ssh` and dropbear's
# `dbclient` (Debian ships no static dbclient), with the shared libraries they load, unpacked into
# a sysroot that qemu-arm-static runs them from (-L). `apt-get download` + `dpkg-deb -x`: nothing
# is installed on the host. Idempotent; prints the sysroot path.
# Usage: bench/armhf-peers.sh [SYSROOT]   (default .cache/bench/armhf-sysroot)
set -eu
cd "$(dirname "$0")/.."
root=${1:-.cache/bench/armhf-sysroot}
debs=.cache/bench/armhf-debs
pkgs="openssh-client libc6 libssl3 zlib1g libselinux1 libpcre2-8-0 libgssapi-krb5-2 libkrb5-3 libk5crypto3
libcom-err2 libkrb5support0 libkeyutils1 libedit2 libbsd0 libmd0 libtinfo6 libfido2-1 libcbor0.8 libudev1
libcrypt1 dropbear-bin libtomcrypt1 libtommath1 libgmp10"
if [ -x "$root/usr/bin/ssh" ] && [ -x "$root/usr/bin/dbclient" ]; then
	echo "$root"
	exit 0
fi
dpkg --print-foreign-architectures | grep -qx armhf || dpkg --add-architecture armhf
mkdir -p "$debs" "$root"
(
	cd "$debs"
	need=""
	for p in $pkgs; do ls "${p}"_*_armhf.deb >/dev/null 2>&1 || need="$need $p:armhf"; done
	if [ -n "$need" ]; then
		# shellcheck disable=SC2086 # a list of package names
		apt-get download $need >/dev/null 2>&1 || { apt-get update -qq || true; apt-get download $need >/dev/null; }
	fi
)
for d in "$debs"/*_armhf.deb; do dpkg-deb -x "$d" "$root"; done
test -x "$root/usr/bin/ssh" && test -x "$root/usr/bin/dbclient"
echo "$root"
