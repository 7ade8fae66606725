#!/usr/bin/env bash
# mbedTLS (our trimmed config) vs BearSSL for the agent's TLS client, on one CPU (default armhf):
#  - size: stripped static client minus a socket-only baseline (same musl, -Os, gc-sections);
#  - speed under qemu-user: handshake and a 16 MB download from a Node TLS server on 127.0.0.1,
#    with AES-128-GCM and with ChaCha20-Poly1305 (ECDSA P-256 certificate). qemu timings are only
#    good for comparing the two libraries with each other, not for absolute camera figures.
# BearSSL comes from Debian's trixie source package, pinned like QuickJS/mbedTLS. Needs `make agent`.
# Usage: bench/tls-compare.sh [ARCH]
# Flag lists ($CFLAGS, $LINK, $ec) are split on purpose; the xargs sh -c body expands later.
# shellcheck disable=SC2086,SC2016
set -eu
cd "$(dirname "$0")/.."
ARCH=${1:-armhf}
case $ARCH in
	armhf) CC=arm-linux-musleabihf-gcc; X=arm-linux-gnueabihf-; QEMU="qemu-arm-static"; CF="-mthumb" ;;
	armel) CC=arm-linux-musleabi-gcc; X=arm-linux-gnueabi-; QEMU="qemu-arm-static -cpu arm926"; CF="-march=armv5te -marm" ;;
	aarch64) CC=aarch64-linux-musl-gcc; X=aarch64-linux-gnu-; QEMU="qemu-aarch64-static"; CF="" ;;
	mipsel) CC=mipsel-linux-musl-gcc; X=mipsel-linux-gnu-; QEMU="qemu-mipsel-static"; CF="-march=mips32r2" ;;
	*) echo "unknown ARCH $ARCH" >&2; exit 2 ;;
esac
MBEDTLS_LIB=build/native/$ARCH/lib/libmbedtls-trimmed.a
[ -f "$MBEDTLS_LIB" ] || { echo "build the agent first: make agent ARCH=$ARCH" >&2; exit 2; }
scripts/debian-source.sh bearssl 0.6+dfsg.1-4 bearssl_0.6+dfsg.1.orig.tar.xz \
	102a625bd8f6155260867a50c508df8d8c3f796985dd744df1a68e5cd1a79004 .cache/src/bearssl >/dev/null

out=build/tls-compare/$ARCH
mkdir -p "$out/bearssl"
CFLAGS="-Os -fno-pie $CF -ffunction-sections -fdata-sections"
LINK="-no-pie -static -Wl,--gc-sections"

if [ ! -f "$out/libbearssl.a" ]; then
	(cd .cache/src/bearssl/src && find . -name '*.c') | sed 's|^\./||' | xargs -P2 -I{} sh -c \
		'o='"$out"'/bearssl/$(echo {} | tr / _).o; '"$CC $CFLAGS"' -I.cache/src/bearssl/inc -I.cache/src/bearssl/src -c -o $o .cache/src/bearssl/src/{}'
	"${X}ar" rcs "$out/libbearssl.a" "$out"/bearssl/*.o
fi
printf '#include "common.h"\nint main(int c, char **v){ static char b[16384]; size_t l, t = 0; ssize_t n;\n slurp(v[2], &l); int fd = tcp_connect(atoi(v[1]));\n while ((n = recv(fd, b, sizeof b, 0)) > 0) t += n; printf("%%zu\\n", t); return 0; }\n' >"$out/baseline.c"
$CC $CFLAGS $LINK -Ibench/tls-compare -o "$out/baseline" "$out/baseline.c"
$CC $CFLAGS $LINK -Ibench/tls-compare -I.cache/src/mbedtls/include \
	-DMBEDTLS_CONFIG_FILE="\"$PWD/agent-src/native/mbedtls_config.h\"" \
	-o "$out/mbedtls" bench/tls-compare/mbedtls-client.c "$MBEDTLS_LIB"
$CC $CFLAGS $LINK -Ibench/tls-compare -I.cache/src/bearssl/inc -o "$out/bearssl-client" \
	bench/tls-compare/bearssl-client.c "$out/libbearssl.a"
for b in baseline mbedtls bearssl-client; do "${X}strip" "$out/$b"; done
base=$(stat -c %s "$out/baseline")

pki=$(mktemp -d)
srv_pid=""
cleanup() { [ -z "$srv_pid" ] || kill "$srv_pid" 2>/dev/null || true; rm -rf "$pki"; }
trap cleanup EXIT
(
	cd "$pki"
	ec="-newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes"
	openssl req -x509 $ec -keyout ca.key -out ca.pem -days 2 -subj /CN=bench-ca 2>/dev/null
	openssl req $ec -keyout s.key -out s.csr -subj /CN=localhost 2>/dev/null
	printf 'subjectAltName=DNS:localhost\n' >ext
	openssl x509 -req -in s.csr -CA ca.pem -CAkey ca.key -CAcreateserial -out s.pem -days 2 -extfile ext 2>/dev/null
)

echo "TLS client for $ARCH: size added to a static socket client (stripped), and speed under qemu-user"
printf '%-10s %10s | %-22s %10s %14s\n' library added cipher handshake "16 MB download"
for cipher in ECDHE-ECDSA-AES128-GCM-SHA256 ECDHE-ECDSA-CHACHA20-POLY1305; do
	exec 3< <(node bench/tls-compare/server.mjs "$pki/s.key" "$pki/s.pem" "$cipher" 16777216)
	srv_pid=$!
	read -r port <&3
	for lib in mbedtls bearssl-client; do
		size=$(( $(stat -c %s "$out/$lib") - base ))
		# shellcheck disable=SC2086
		read -r hs xfer bytes _ < <(timeout 300 $QEMU "$out/$lib" "$port" "$pki/ca.pem")
		[ "$bytes" = 16777216 ] || { echo "$lib: got $bytes bytes" >&2; exit 1; }
		printf '%-10s %9sK | %-22s %8s ms %11s ms\n' "${lib%-client}" $((size / 1024)) "${cipher#ECDHE-ECDSA-}" "$hs" "$xfer"
	done
	kill "$srv_pid"; srv_pid=""
done
