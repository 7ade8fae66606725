#!/bin/sh
# Debian's chromium for the browser tests (agent-src/test/browser/): puppeteer-core drives
# /usr/bin/chromium; no browser is ever downloaded from anywhere else. Fonts so screenshots have text.
# Idempotent: installed packages are skipped.
set -eu
# shellcheck disable=SC1091 # sourced from this script's own directory
. "$(dirname "$0")/lib/apt.sh"

PKGS="chromium fonts-dejavu-core"

# shellcheck disable=SC2086 # a list of package names
missing=$(apt_missing $PKGS)
# shellcheck disable=SC2086
[ -z "$missing" ] || apt_install install-browser $missing
echo "install-browser: $(/usr/bin/chromium --version 2>/dev/null || echo 'chromium missing')"
