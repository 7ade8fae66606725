#!/bin/sh
# QuickJS sources for the static agent: Debian trixie source package `quickjs`, pinned.
# Why this one: the newest Bellard QuickJS reachable from a registry here (docs/native.md).
# Debian's two patches only touch upstream's Makefile (multiarch paths, -latomic), which we do
# not use: agent-src/native/Makefile compiles the C files itself.
set -eu
root=$(cd "$(dirname "$0")/.." && pwd)
exec "$root/scripts/debian-source.sh" quickjs 2025.04.26-1 quickjs_2025.04.26.orig.tar.xz \
	ec81da5b3249ed648dbc7df4a1654988910e66a118d9b71cb63534216efcfbbe \
	"${1:-$root/.cache/src/quickjs}"
