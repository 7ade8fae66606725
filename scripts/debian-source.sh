#!/bin/sh
# Shared helper: fetch one Debian *source* package at a pinned version from bookworm or trixie,
# check the sha256 of its upstream tarball, and unpack the pristine upstream tree into .cache/src/.
# Uses a private apt configuration (deb-src only, lists under .cache/apt) so the system's sources
# stay untouched: no binary package can ever be pulled in by it.
#   usage: scripts/debian-source.sh PACKAGE VERSION ORIG_TARBALL SHA256 DESTDIR
#          scripts/debian-source.sh --copy PACKAGE VERSION ORIG_TARBALL SHA256 FILE
#   --copy: no unpacking, the checked tarball is copied to FILE (a Buildroot download folder entry
#   for a package whose upstream tarball is byte-identical to Debian's orig tarball).
set -eu

copy=
if [ "$1" = --copy ]; then
	copy=1
	shift
fi
pkg=$1 version=$2 orig=$3 sha=$4 dest=$5
root=$(cd "$(dirname "$0")/.." && pwd)
cache=$root/.cache
aptdir=$cache/apt
dl=$cache/debsrc

if [ -f "$dest/.fetched-$version" ] || { [ -n "$copy" ] && [ -f "$dest" ]; }; then
	exit 0
fi

mkdir -p "$aptdir/lists/partial" "$aptdir/cache/archives/partial" "$dl"
for suite in bookworm trixie; do
	echo "deb-src [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] http://deb.debian.org/debian $suite main"
done >"$aptdir/sources.list.new"
# A new list of suites makes the index stale.
cmp -s "$aptdir/sources.list.new" "$aptdir/sources.list" || rm -f "$aptdir/.updated"
mv "$aptdir/sources.list.new" "$aptdir/sources.list"
set -- -o Dir::Etc::SourceList="$aptdir/sources.list" -o Dir::Etc::SourceParts=/dev/null \
	-o Dir::State::Lists="$aptdir/lists" -o Dir::Cache="$aptdir/cache" -o APT::Sandbox::User=root

if [ ! -f "$dl/$orig" ]; then
	# Refresh the private source index at most once per fetch run.
	if [ ! -f "$aptdir/.updated" ] || [ -n "$(find "$aptdir/.updated" -mmin +60)" ]; then
		apt-get "$@" update -qq
		touch "$aptdir/.updated"
	fi
	# Only the orig tarball is fetched (the mirror may lack a .dsc or the Debian patches, which
	# are not used): its URI from the signed index, then apt's own downloader checks the pinned
	# sha256. A mirror mid-sync fails now and then: retry a few times before giving up.
	uri=$(apt-get "$@" source --print-uris "$pkg=$version" | awk -v f="$orig" '$2 == f { gsub("\047", "", $1); print $1 }')
	[ -n "$uri" ] || { echo "debian-source: no $orig in $pkg $version" >&2; exit 1; }
	tries=0
	until /usr/lib/apt/apt-helper -o APT::Sandbox::User=root download-file "$uri" "$dl/$orig.part" "SHA256:$sha" >/dev/null; do
		tries=$((tries + 1))
		[ "$tries" -lt 3 ] || exit 1
		sleep 5
	done
	mv "$dl/$orig.part" "$dl/$orig"
fi

echo "$sha  $dl/$orig" | sha256sum -c --quiet - || {
	echo "debian-source: sha256 mismatch for $orig (expected $sha)" >&2
	exit 1
}

if [ -n "$copy" ]; then
	mkdir -p "$(dirname "$dest")"
	cp "$dl/$orig" "$dest.tmp"
	mv "$dest.tmp" "$dest"
	echo "debian-source: $pkg $version: $dest"
	exit 0
fi

rm -rf "$dest.tmp"
mkdir -p "$dest.tmp"
tar -xf "$dl/$orig" -C "$dest.tmp" --strip-components=1
rm -rf "$dest"
mv "$dest.tmp" "$dest"
touch "$dest/.fetched-$version"
echo "debian-source: $pkg $version unpacked in $dest"
