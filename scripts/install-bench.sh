#!/bin/sh
# Host packages the peer benchmarks run against (bench/README.md): OpenSSH client and server,
# dropbear, stunnel, socat, OpenVPN, iproute2 (netns), time, perf (optional profiling).
# Idempotent: installed packages are skipped. The armhf peer binaries (ssh, dbclient) are not
# installed: bench/lib/armhf-peers.sh fetches their .debs with `apt-get download` into .cache/.
set -eu
# shellcheck disable=SC1091 # sourced from this script's own directory
. "$(dirname "$0")/lib/apt.sh"

PKGS="openssh-server openssh-client dropbear-bin stunnel4 socat openvpn iproute2 procps time \
qemu-user-static curl"
OPTIONAL="linux-perf"

# shellcheck disable=SC2086 # a list of package names
missing=$(apt_missing $PKGS)
if [ -n "$missing" ]; then
	echo "install-bench: installing:$missing"
	# A mirror mid-sync for one foreign arch must not stop the install of host packages.
	apt_update install-bench
	# openssh-server must not start a daemon on port 22 here: the bench runs its own sshd.
	# (A policy-rc.d that is already there, e.g. in a container, is left alone.)
	ours_policy=""
	if [ ! -e /usr/sbin/policy-rc.d ]; then
		printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d
		chmod +x /usr/sbin/policy-rc.d
		ours_policy=1
	fi
	status=0
	# shellcheck disable=SC2086 # a list of package names
	apt_get install -y -qq --no-install-recommends $missing || status=$?
	[ -z "$ours_policy" ] || rm -f /usr/sbin/policy-rc.d
	[ "$status" -eq 0 ] || exit "$status"
fi
for p in $(apt_missing $OPTIONAL); do
	apt_get install -y -qq --no-install-recommends "$p" ||
		echo "install-bench: optional $p not installed (profiling only)"
done
echo "install-bench: peer packages present"
