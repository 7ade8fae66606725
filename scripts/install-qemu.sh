#!/bin/sh
# Installs QEMU (system + user emulation) and the host tools the emulated-camera tests need.
# Idempotent: skips packages already installed; safe on every CI start.
# Never installs gcc-multilib (on Debian 12 it removes the cross compilers).
set -eu
# shellcheck disable=SC1091 # sourced from this script's own directory
. "$(dirname "$0")/lib/apt.sh"

PKGS="qemu-system-arm qemu-system-mips qemu-user-static qemu-utils socat cpio gzip xz-utils \
dpkg-dev ffmpeg busybox-static"

# shellcheck disable=SC2086 # a list of package names
missing=$(apt_missing $PKGS)
# shellcheck disable=SC2086
[ -z "$missing" ] || apt_install install-qemu $missing
echo "install-qemu: qemu $(qemu-system-arm --version | head -1 | sed 's/.*version //')"
