#!/bin/sh
# Installs the host packages the Buildroot external tree needs, from Debian's registry. Idempotent.
#   (no argument)  what `make test-buildroot` needs: busybox-static (real BusyBox start-stop-daemon,
#                  mkpasswd and sh for the init-script and hardening tests) and shellcheck.
#   --check        also what scripts/buildroot-check.sh needs against a Buildroot checkout:
#                  utils/check-package's python3-magic/python3-flake8, Buildroot's host tools and
#                  Debian's armhf cross gcc for the wrapper toolchain.
# Never installs gcc-multilib: on Debian 12 it removes the cross compilers.
set -eu

PKGS="busybox-static shellcheck"
if [ "${1:-}" = "--check" ]; then
	PKGS="$PKGS python3-magic python3-flake8 file rsync bc cpio unzip wget patch perl \
build-essential gcc-arm-linux-gnueabihf g++-arm-linux-gnueabihf libc6-dev-armhf-cross \
linux-libc-dev-armhf-cross"
fi

missing=""
for p in $PKGS; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || missing="$missing $p"
done
if [ -n "$missing" ]; then
	echo "install-buildroot-deps: installing:$missing"
	# A half-synced mirror makes update fail on one index; the install below still works.
	apt-get update -qq || echo "install-buildroot-deps: apt-get update reported errors, trying anyway"
	# shellcheck disable=SC2086 # one word per package
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $missing
fi
echo "install-buildroot-deps: host packages present"
