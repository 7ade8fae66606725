#!/usr/bin/env bash
# A static, stripped dropbear `dbclient` for armhf, the size peer of bench/README.md: Debian ships
# dbclient only dynamically linked, so build it from Debian's dropbear source package (trixie,
# pinned version + sha256, via scripts/debian-source.sh) with the same musl cross toolchain and
# -Os as our agent. Prints the binary's path. Idempotent.
# Usage: bench/dbclient-static.sh [OUTDIR]   (default build/bench/dbclient-armhf)
set -eu
cd "$(dirname "$0")/.."
out=${1:-build/bench/dbclient-armhf}
src=.cache/src/dropbear
if [ -x "$out/dbclient" ]; then
	echo "$out/dbclient"
	exit 0
fi
command -v bzip2 >/dev/null || DEBIAN_FRONTEND=noninteractive apt-get install -y -qq bzip2 >/dev/null
scripts/debian-source.sh dropbear 2025.89-1~deb13u1 dropbear_2025.89.orig.tar.bz2 \
	0d1f7ca711cfc336dc8a85e672cab9cfd8223a02fe2da0a4a7aeb58c9e113634 "$src" >&2
rm -rf "$out.build"
cp -a "$src" "$out.build"
(
	cd "$out.build"
	# No zlib (ours has no compression either); static; the client only.
	CC=arm-linux-musleabihf-gcc CFLAGS="-Os -mthumb -ffunction-sections -fdata-sections" \
		LDFLAGS="-static -no-pie -Wl,--gc-sections" \
		./configure --host=arm-linux-gnueabihf --disable-zlib --disable-syslog --disable-lastlog \
		--disable-utmp --disable-utmpx --disable-wtmp --disable-wtmpx --disable-pututline --disable-pututxline \
		--enable-static >/dev/null
	# Only the client is built: the server's password option (needs crypt()) is off.
	echo '#define DROPBEAR_SVR_PASSWORD_AUTH 0' >localoptions.h
	make -j2 PROGRAMS=dbclient STATIC=1 >/dev/null 2>build.log || { tail -20 build.log >&2; exit 1; }
	arm-linux-gnueabihf-strip dbclient
)
mkdir -p "$out"
cp "$out.build/dbclient" "$out/dbclient"
rm -rf "$out.build"
echo "$out/dbclient"
