#!/bin/sh
# Makes the release tarball the Buildroot package downloads when BR2_PACKAGE_FLUSSONIC_AGENT_LOCAL
# is off (upstream use), and writes its sha256 into package/flussonic-agent/flussonic-agent.hash.
#   build/release/flussonic-agent-VERSION.tar.gz: native/ (git-tracked files of agent-src/native),
#   bundle/agent-quickjs.js (esbuild: Buildroot has no esbuild) and LICENSE.
# Reproducible (sorted names, fixed mtime/owner/modes, GNU format, gzip -n): the same sources give
# the same bytes whatever the clock, user, umask or checkout path. The .hash names the commit the
# release was made from, so it can be checked later however far the agent has moved on.
#
# Usage: scripts/buildroot-release.sh [--check]
#   (none)   release from HEAD (agent-src, LICENSE and package.json must be committed): writes the
#            tarball and the .hash. Then commit the .hash, publish the tarball at
#            FLUSSONIC_AGENT_SITE. A new release bumps the version in package.json and the .mk.
#   --check  rebuild the tarball from the commit the .hash names (git archive, in a temporary
#            folder) and compare: exit 0 if the .hash matches, 1 if not, 2 if it cannot check.
set -eu

cd "$(dirname "$0")/.."
REPO=$(pwd)
MK=package/flussonic-agent/flussonic-agent.mk
HASH=package/flussonic-agent/flussonic-agent.hash
INPUTS="agent-src LICENSE package.json"
die() { echo "buildroot-release: $1" >&2; exit "${2:-1}"; }

CHECK=""
if [ "${1:-}" = --check ]; then CHECK=1; fi

if [ -n "$CHECK" ]; then
	COMMIT=$(sed -n 's/^# Locally computed by scripts\/buildroot-release.sh from \([0-9a-f]\{40\}\)$/\1/p' "$HASH")
	[ -n "$COMMIT" ] || die "$HASH names no source commit" 2
	git cat-file -e "$COMMIT^{commit}" 2>/dev/null || die "commit $COMMIT (from $HASH) is not in this clone" 2
else
	# shellcheck disable=SC2086 # INPUTS is a list of paths
	git diff --quiet HEAD -- $INPUTS || die "uncommitted changes in $INPUTS: commit them first (the .hash names the commit)"
	COMMIT=$(git rev-parse HEAD)
fi

# The release's sources, as committed, in a temporary folder (this checkout's node_modules).
SRC=$(mktemp -d "${TMPDIR:-/tmp}/buildroot-release.XXXXXX")
trap 'rm -rf "$SRC"' EXIT
# shellcheck disable=SC2086 # INPUTS is a list of paths
git archive "$COMMIT" $INPUTS | tar -x -C "$SRC"
ln -s "$REPO/node_modules" "$SRC/node_modules"

VERSION=$(sed -n 's/^FLUSSONIC_AGENT_VERSION = //p' "$MK")
PKG_VERSION=$(cd "$SRC" && node -p 'require("./package.json").version')
if [ "$VERSION" != "$PKG_VERSION" ]; then
	die "$MK says $VERSION, package.json (at ${COMMIT%"${COMMIT#???????}"}) says $PKG_VERSION"
fi

NAME=flussonic-agent-$VERSION
STAGE=$SRC/stage/$NAME
mkdir -p "$STAGE/bundle" build/release
(cd "$SRC" && node agent-src/build.mjs "$SRC/bundle" >/dev/null)
cp -R "$SRC/agent-src/native" "$STAGE/native"
cp "$SRC/bundle/agent-quickjs.js" "$STAGE/bundle/"
cp "$SRC/LICENSE" "$STAGE/LICENSE"
OUT=build/release/$NAME.tar.gz
LC_ALL=C tar --format=gnu --sort=name --mtime=@0 --owner=0 --group=0 --numeric-owner \
	--mode=u=rwX,go=rX -C "$SRC/stage" -cf - "$NAME" | gzip -n -9 >"$OUT"
SUM=$(sha256sum "$OUT" | cut -d' ' -f1)

if [ -n "$CHECK" ]; then
	grep -q "^sha256  $SUM  $NAME.tar.gz\$" "$HASH" ||
		die "$OUT (from $COMMIT) has sha256 $SUM, not the one in $HASH: the release is not reproducible"
	echo "buildroot-release: $OUT from $COMMIT: sha256 $SUM matches $HASH"
	exit 0
fi
printf '%s\n' "# Locally computed by scripts/buildroot-release.sh from $COMMIT" "sha256  $SUM  $NAME.tar.gz" \
	"# Locally computed" "sha256  $(sha256sum LICENSE | cut -d' ' -f1)  LICENSE" >"$HASH"
echo "buildroot-release: $OUT sha256 $SUM (written to $HASH)"
