# flussonic-harden-common.sh: what flussonic-harden and flussonic-listeners share, sourced by
# both (from beside the script on the build host, /usr/share/flussonic-harden on a camera) once
# they have set PROG, the name their messages start with. Plain POSIX sh.
# shellcheck shell=sh disable=SC2016,SC2034 # awk's $1 is literal; the scripts use the rest

# The name flussonic-harden writes into the lines it disables ("# flussonic-harden: ...",
# ": # flussonic-harden: ...") and of its settings file: the same whichever script reads them.
TAG=flussonic-harden
MARK="# $TAG:"

die() { echo "$PROG: $*" >&2; exit 2; }
say() { echo "$PROG: $*"; }

usage() {
	sed -n 's/^#   //p' "$0" >&2
	exit 2
}

holes=0
hole() { echo "$PROG: HOLE: $*"; holes=$((holes + 1)); }

# read_settings FILE: takes our KEY=value / KEY="value" lines from FILE. The file is parsed, never
# run: on the build host it belongs to the image tree, whose files must not execute there.
read_settings() {
	[ -r "$1" ] || return 0
	while IFS= read -r line || [ -n "$line" ]; do
		line=${line#export }
		case "$line" in FLUSSONIC_HARDEN_*=*) ;; *) continue ;; esac
		key=${line%%=*}
		val=${line#*=}
		case "$val" in
		\"*\") val=${val#\"}; val=${val%\"} ;;
		\'*\') val=${val#\'}; val=${val%\'} ;;
		esac
		case "$key" in
		FLUSSONIC_HARDEN_ROOT_PASSWORD) FLUSSONIC_HARDEN_ROOT_PASSWORD=$val ;;
		FLUSSONIC_HARDEN_KEEP_USERS) FLUSSONIC_HARDEN_KEEP_USERS=$val ;;
		FLUSSONIC_HARDEN_LISTENERS) FLUSSONIC_HARDEN_LISTENERS=$val ;;
		FLUSSONIC_HARDEN_CHECK_LISTENERS) FLUSSONIC_HARDEN_CHECK_LISTENERS=$val ;;
		FLUSSONIC_HARDEN_ALLOW_LISTEN) FLUSSONIC_HARDEN_ALLOW_LISTEN=$val ;;
		FLUSSONIC_HARDEN_SECRET_CMD) FLUSSONIC_HARDEN_SECRET_CMD=$val ;;
		*) say "WARNING: $1: unknown setting $key" ;;
		esac
	done <"$1"
}

# open_root DIR: ROOT becomes DIR's absolute path, "" for / (paths are written "$ROOT/etc/..."),
# and the settings are read from its etc/default/flussonic-harden.
open_root() {
	[ -d "$1" ] || die "no such directory: $1"
	ROOT=$(cd "$1" && pwd)
	[ "$ROOT" = / ] && ROOT=""
	read_settings "$ROOT/etc/default/$TAG"
}

# Lines that start a telnet daemon: telnetd/utelnetd/in.telnetd as a word.
TELNETD_RE='(^|[^[:alnum:]_.-])(u?telnetd|in\.telnetd)([^[:alnum:]_.-]|$)'
# inetd.conf services on the telnet ports.
INETD_TELNET='$1 == "telnet" || $1 == "23" || $1 == "2323" || $1 ~ /:(23|2323)$/'

# Scripts and tables that may start a daemon: our own files are left alone.
startup_files() {
	for f in "$ROOT/etc/inittab" "$ROOT/etc/rc.local" "$ROOT"/etc/init.d/* "$ROOT"/etc/rc.d/*; do
		[ -f "$f" ] || continue
		case "$f" in *flussonic*) continue ;; esac
		echo "$f"
	done
}

allowed() {
	for a in ${FLUSSONIC_HARDEN_ALLOW_LISTEN:-}; do [ "$a" = "$1" ] && return 0; done
	return 1
}

# active_lines FILE...: lines that are not comments (ours included).
active_lines() {
	cat "$@" 2>/dev/null | awk "/^[[:space:]]*#/ || /^[[:space:]]*: # $TAG/ { next } { print }"
}
