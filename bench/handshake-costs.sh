#!/usr/bin/env bash
# Where the camera's first TLS handshake goes: each public-key step of a full TLS 1.2 handshake,
# client side, with the agent's mbedTLS build (build/native/ARCH/lib), in thread CPU ms under
# qemu-user (ARM926 for armel). Only ratios carry over to a real camera CPU.
#   bench/handshake-costs.sh [ARCH] [N]      (make agent ARCH=... first)
# The end-to-end handshake, the agent's own code against a Node server, is the bench's
# armv5-handshake row.
# Flags and key options are word lists on purpose.
# shellcheck disable=SC2086
set -eu
cd "$(dirname "$0")/.."
ARCH=${1:-armel}
N=${2:-10}
case $ARCH in
	armhf) CC=arm-linux-musleabihf-gcc; QEMU="qemu-arm-static"; CF="-mthumb" ;;
	armel) CC=arm-linux-musleabi-gcc; QEMU="qemu-arm-static -cpu arm926"; CF="-march=armv5te -marm" ;;
	aarch64) CC=aarch64-linux-musl-gcc; QEMU="qemu-aarch64-static"; CF="" ;;
	mipsel) CC=mipsel-linux-musl-gcc; QEMU="qemu-mipsel-static"; CF="-march=mips32r2" ;;
	*) echo "unknown ARCH $ARCH" >&2; exit 2 ;;
esac
# MBEDTLS_LIB: another build of the library to compare (e.g. an older build/native/ARCH/lib).
LIB=${MBEDTLS_LIB:-build/native/$ARCH/lib/libmbedtls-trimmed.a}
[ -f "$LIB" ] || { echo "build the agent first: make agent ARCH=$ARCH" >&2; exit 2; }
out=$(mktemp -d)
mkdir -p "$out"
LIBS=""; [ "$ARCH" = armel ] || [ "$ARCH" = mipsel ] && LIBS=-latomic
$CC -Os -fno-pie $CF -no-pie -static -I.cache/src/mbedtls/include \
	-DMBEDTLS_CONFIG_FILE="\"$PWD/agent-src/native/mbedtls_config.h\"" \
	-o "$out/handshake-costs" bench/tls-compare/handshake-costs.c "$LIB" $LIBS

pki=$(mktemp -d)
trap 'rm -rf "$pki" "$out"' EXIT
(
	cd "$pki"
	ec="-newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes"
	rsa="-newkey rsa:2048 -nodes"
	printf 'subjectAltName=DNS:localhost\n' >ext
	openssl req -x509 $ec -keyout ca.key -out ca.pem -days 2 -subj /CN=bench-ca 2>/dev/null
	openssl req $ec -keyout ec.key -out ec.csr -subj /CN=localhost 2>/dev/null
	openssl x509 -req -in ec.csr -CA ca.pem -CAkey ca.key -CAcreateserial -out ec.pem -days 2 -extfile ext 2>/dev/null
	openssl req -x509 $rsa -keyout rca.key -out rca.pem -days 2 -subj /CN=bench-rsa-ca 2>/dev/null
	openssl req $rsa -keyout rsa.key -out rsa.csr -subj /CN=localhost 2>/dev/null
	openssl x509 -req -in rsa.csr -CA rca.pem -CAkey rca.key -CAcreateserial -out rsar.pem -days 2 -extfile ext 2>/dev/null
	printf 'a handshake transcript' >msg
	openssl dgst -sha256 -sign ec.key -out ec.sig msg && openssl pkey -in ec.key -pubout -out ec.pub
	openssl dgst -sha256 -sign rsa.key -out rsa.sig msg && openssl pkey -in rsa.key -pubout -out rsa.pub
)
echo "client CPU per step of a full TLS 1.2 handshake, $ARCH under qemu-user, mean of $N (thread CPU ms)"
# shellcheck disable=SC2086
$QEMU "$out/handshake-costs" "$pki" "$N" | awk -F'|' '{ printf "  %-40s %8s ms\n", $1, $2 }'
