#!/bin/sh
# Installs the host packages the Buildroot external tree needs, from Debian's registry. Idempotent.
#   (no argument)  what `make test-buildroot` needs: busybox-static (real BusyBox start-stop-daemon,
#                  mkpasswd and sh for the init-script and hardening tests), shellcheck, and
#                  iproute2 (ip, ss: the live-socket test in a network namespace of its own) and
#                  dropbear-bin (dropbear, dbclient: logins into hardened images in a chroot).
#   --check        also what scripts/buildroot-check.sh needs against a Buildroot checkout:
#                  utils/check-package's python3-magic/python3-flake8, Buildroot's host tools and
#                  Debian's armhf cross gcc for the wrapper toolchain.
#   --check aarch64  also Debian's arm64 cross gcc and libc (the opt-in aarch64 Buildroot image).
# Never installs gcc-multilib: on Debian 12 it removes the cross compilers.
set -eu
# shellcheck disable=SC1091 # sourced from this script's own directory
. "$(dirname "$0")/lib/apt.sh"

PKGS="busybox-static shellcheck iproute2 dropbear-bin"
if [ "${1:-}" = "--check" ]; then
	PKGS="$PKGS python3-magic python3-flake8 file rsync bc cpio unzip wget patch perl \
build-essential gcc-arm-linux-gnueabihf g++-arm-linux-gnueabihf libc6-dev-armhf-cross \
linux-libc-dev-armhf-cross"
	case " $* " in *" aarch64 "*) PKGS="$PKGS gcc-aarch64-linux-gnu libc6-dev-arm64-cross linux-libc-dev-arm64-cross" ;; esac
fi

# shellcheck disable=SC2086 # a list of package names
missing=$(apt_missing $PKGS)
# shellcheck disable=SC2086
[ -z "$missing" ] || apt_install install-buildroot-deps $missing
echo "install-buildroot-deps: host packages present"
