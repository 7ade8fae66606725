#!/bin/sh
# Installs QEMU (system + user emulation) and the host tools the emulated-camera tests need.
# Idempotent: skips packages already installed; safe on every CI start.
# Never installs gcc-multilib (on Debian 12 it removes the cross compilers).
set -eu

PKGS="qemu-system-arm qemu-system-mips qemu-user-static qemu-utils socat cpio gzip xz-utils \
dpkg-dev ffmpeg busybox-static"

missing=""
for p in $PKGS; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || missing="$missing $p"
done
if [ -n "$missing" ]; then
	echo "install-qemu: installing:$missing"
	# apt may be busy with another installer on the same machine: wait for the lock (bounded).
	DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=600 update -qq
	# shellcheck disable=SC2086 # word splitting of the package list is intended
	DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=600 install -y -qq \
		--no-install-recommends $missing
fi
echo "install-qemu: qemu $(qemu-system-arm --version | head -1 | sed 's/.*version //')"
