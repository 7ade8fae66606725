#!/bin/sh
# Installs the host packages the build and the tests need, from Debian's registry.
# Idempotent: packages already present are skipped by apt; safe to run on every CI start.
# Never installs gcc-multilib: on Debian 12 it removes the cross compilers.
set -eu

PKGS="ffmpeg socat openssl curl ca-certificates python3-gi gir1.2-gst-rtsp-server-1.0 \
gstreamer1.0-plugins-base gstreamer1.0-plugins-good gstreamer1.0-plugins-bad gstreamer1.0-plugins-ugly \
gstreamer1.0-libav gstreamer1.0-tools iproute2 procps psmisc"

missing=""
for p in $PKGS; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || missing="$missing $p"
done
if [ -n "$missing" ]; then
	echo "install-deps: installing:$missing"
	# A mirror hiccup on one index (e.g. a foreign architecture's) must not stop the install.
	apt-get update -qq || echo "install-deps: apt-get update reported errors; trying the install anyway" >&2
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $missing
fi
echo "install-deps: host packages present"
