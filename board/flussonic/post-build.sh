#!/bin/sh
# Post-build script of the flussonic_qemu_* defconfigs. Runs after the rootfs overlays, so it
# hardens and checks again whatever an overlay may have brought back (a telnetd, a password).
# The build stops here if a hole remains.
set -eu

TARGET_DIR=$1
HARDEN="$(dirname "$0")/../../package/flussonic-agent/flussonic-harden"

"$HARDEN" build "$TARGET_DIR"
"$HARDEN" check "$TARGET_DIR"
