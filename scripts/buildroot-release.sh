#!/bin/sh
# Makes the release tarball the Buildroot package downloads when BR2_PACKAGE_FLUSSONIC_AGENT_LOCAL
# is off (upstream use), and writes its sha256 into package/flussonic-agent/flussonic-agent.hash.
#   build/release/flussonic-agent-VERSION.tar.gz: native/ (git-tracked files of agent-src/native)
#   and bundle/agent-quickjs.js (esbuild, "make bundle"): Buildroot has no esbuild.
# Reproducible (sorted, fixed mtime/owner, gzip -n): same sources give the same hash.
# Release: run this, commit the .hash, publish the tarball at FLUSSONIC_AGENT_SITE.
set -eu

cd "$(dirname "$0")/.."
MK=package/flussonic-agent/flussonic-agent.mk
HASH=package/flussonic-agent/flussonic-agent.hash
VERSION=$(sed -n 's/^FLUSSONIC_AGENT_VERSION = //p' "$MK")
PKG_VERSION=$(node -p 'require("./package.json").version')
if [ "$VERSION" != "$PKG_VERSION" ]; then
	echo "buildroot-release: $MK says $VERSION, package.json says $PKG_VERSION" >&2
	exit 1
fi

make --no-print-directory bundle
NAME=flussonic-agent-$VERSION
STAGE=build/release/$NAME
rm -rf "$STAGE" "build/release/$NAME.tar.gz"
mkdir -p "$STAGE/bundle"
git ls-files agent-src/native | while IFS= read -r f; do
	mkdir -p "$STAGE/native/$(dirname "${f#agent-src/native/}")"
	cp "$f" "$STAGE/native/${f#agent-src/native/}"
done
cp build/bundle/agent-quickjs.js "$STAGE/bundle/"
cp LICENSE "$STAGE/LICENSE"
tar --sort=name --mtime=@0 --owner=0 --group=0 --numeric-owner -C build/release -cf - "$NAME" |
	gzip -n -9 >"build/release/$NAME.tar.gz"
SUM=$(sha256sum "build/release/$NAME.tar.gz" | cut -d' ' -f1)
printf '%s\n' "# Locally computed by scripts/buildroot-release.sh" "sha256  $SUM  $NAME.tar.gz" \
	"# Locally computed" "sha256  $(sha256sum LICENSE | cut -d' ' -f1)  LICENSE" >"$HASH"
echo "buildroot-release: build/release/$NAME.tar.gz sha256 $SUM (written to $HASH)"
