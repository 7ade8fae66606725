#!/bin/sh
# mbedTLS sources for the static agent: Debian trixie source package `mbedtls`, pinned.
# Built from source (not bookworm's libmbedtls-dev 2.28) so a trimmed configuration
# (agent-src/native/mbedtls_config.h) keeps only what a TLS 1.2 client needs: docs/native.md.
set -eu
root=$(cd "$(dirname "$0")/.." && pwd)
exec "$root/scripts/debian-source.sh" mbedtls 3.6.6-0.1~deb13u1 mbedtls_3.6.6.orig.tar.bz2 \
	8fb65fae8dcae5840f793c0a334860a411f884cc537ea290ce1c52bb64ca007a \
	"${1:-$root/.cache/src/mbedtls}"
