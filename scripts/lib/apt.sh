# Shared by scripts/install-*.sh (sourced, POSIX sh). Debian packages only; never gcc-multilib.

# apt_missing PKG...: prints the packages (space-separated) that are not installed yet.
apt_missing() {
	for p in "$@"; do
		dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || printf ' %s' "$p"
	done
}

# apt_get ARGS...: apt-get that waits (bounded) for another installer's dpkg lock instead of failing.
apt_get() {
	DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=600 "$@"
}

# apt_update WHO: a mirror mid-sync can fail one index (seen: bookworm-security armhf) while the
# main archive still has everything we need, so a partial update is not fatal.
apt_update() {
	apt_get update -qq || echo "$1: apt-get update reported errors; continuing with the indexes it got" >&2
}

# apt_install WHO PKG...: update, then install without recommends.
apt_install() {
	who=$1
	shift
	echo "$who: installing: $*"
	apt_update "$who"
	apt_get install -y -qq --no-install-recommends "$@"
}
