#!/bin/sh
# Installs the host packages the build and the tests need, from Debian's registry.
# Idempotent: packages already present are skipped by apt; safe to run on every CI start.
# Never installs gcc-multilib: on Debian 12 it removes the cross compilers.
set -eu
# shellcheck disable=SC1091 # sourced from this script's own directory
. "$(dirname "$0")/lib/apt.sh"

PKGS="ffmpeg socat openssl curl ca-certificates python3-gi gir1.2-gst-rtsp-server-1.0 \
gstreamer1.0-plugins-base gstreamer1.0-plugins-good gstreamer1.0-plugins-bad gstreamer1.0-plugins-ugly \
gstreamer1.0-libav gstreamer1.0-tools iproute2 procps psmisc"

# shellcheck disable=SC2086 # a list of package names
missing=$(apt_missing $PKGS)
# shellcheck disable=SC2086
[ -z "$missing" ] || apt_install install-deps $missing
echo "install-deps: host packages present"
