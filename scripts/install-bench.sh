#!/bin/sh
# Host packages the peer benchmarks run against (bench/README.md): OpenSSH client and server,
# dropbear, stunnel, socat, OpenVPN, iproute2 (netns), time, perf (optional profiling).
# Idempotent: installed packages are skipped. The armhf peer binaries (ssh, dbclient) are not
# installed: bench/lib/armhf-peers.sh fetches their .debs with `apt-get download` into .cache/.
set -eu

PKGS="openssh-server openssh-client dropbear-bin stunnel4 socat openvpn iproute2 procps time \
qemu-user-static curl"
OPTIONAL="linux-perf"

missing=""
for p in $PKGS; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || missing="$missing $p"
done
if [ -n "$missing" ]; then
	echo "install-bench: installing:$missing"
	# A mirror mid-sync for one foreign arch must not stop the install of host packages.
	apt-get update -qq || echo "install-bench: apt-get update reported errors; continuing with the indexes it got"
	# openssh-server must not start a daemon on port 22 here: the bench runs its own sshd.
	printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d
	chmod +x /usr/sbin/policy-rc.d
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $missing || {
		rm -f /usr/sbin/policy-rc.d
		exit 1
	}
	rm -f /usr/sbin/policy-rc.d
fi
for p in $OPTIONAL; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" ||
		DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$p" ||
		echo "install-bench: optional $p not installed (profiling only)"
done
echo "install-bench: peer packages present"
