#!/bin/sh
# Shared helper: fetch one Debian *source* package at a pinned version from trixie, check the
# sha256 of its upstream tarball, and unpack the pristine upstream tree into .cache/src/.
# Uses a private apt configuration (deb-src for trixie only, lists under .cache/apt) so the
# system's sources stay untouched: no trixie binary packages can ever be pulled in by it.
#   usage: scripts/debian-source.sh PACKAGE VERSION ORIG_TARBALL SHA256 DESTDIR
set -eu

pkg=$1 version=$2 orig=$3 sha=$4 dest=$5
root=$(cd "$(dirname "$0")/.." && pwd)
cache=$root/.cache
aptdir=$cache/apt
dl=$cache/debsrc

if [ -f "$dest/.fetched-$version" ]; then
	exit 0
fi

mkdir -p "$aptdir/lists/partial" "$aptdir/cache/archives/partial" "$dl"
echo "deb-src [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] http://deb.debian.org/debian trixie main" \
	>"$aptdir/sources.list"
set -- -o Dir::Etc::SourceList="$aptdir/sources.list" -o Dir::Etc::SourceParts=/dev/null \
	-o Dir::State::Lists="$aptdir/lists" -o Dir::Cache="$aptdir/cache" -o APT::Sandbox::User=root

if [ ! -f "$dl/$orig" ]; then
	# Refresh the private source index at most once per fetch run.
	if [ ! -f "$aptdir/.updated" ] || [ -n "$(find "$aptdir/.updated" -mmin +60)" ]; then
		apt-get "$@" update -qq
		touch "$aptdir/.updated"
	fi
	# A mirror mid-sync fails now and then: retry a few times before giving up.
	tries=0
	until (cd "$dl" && apt-get "$@" source --download-only "$pkg=$version"); do
		tries=$((tries + 1))
		[ "$tries" -lt 3 ] || exit 1
		sleep 5
	done
fi

echo "$sha  $dl/$orig" | sha256sum -c --quiet - || {
	echo "debian-source: sha256 mismatch for $orig (expected $sha)" >&2
	exit 1
}

rm -rf "$dest.tmp"
mkdir -p "$dest.tmp"
tar -xf "$dl/$orig" -C "$dest.tmp" --strip-components=1
rm -rf "$dest"
mv "$dest.tmp" "$dest"
touch "$dest/.fetched-$version"
echo "debian-source: $pkg $version unpacked in $dest"
