#!/bin/sh
# Bounded fuzz of the relay pump's input (native-pump.c and its JS driver in platform/quickjs.ts)
# on an x86-64 AddressSanitizer build of the same C: the pump probe (agent-src/test/native/
# pump-probe.ts) between a hostile camera and a hostile streamer, driven by
# agent-src/test/native/pump-fuzz.test.ts. Not part of make test.
#   bench/pump-fuzz.sh            PUMP_FUZZ_CASES (default 300), PUMP_FUZZ_SEED (default 1)
set -eu
cd "$(dirname "$0")/.."
ROOT=$(pwd)
OUT=$ROOT/build/host/asan
mkdir -p "$OUT"
make --no-print-directory native-tools >/dev/null
node agent-src/test/native/bundle.mjs agent-src/test/native/pump-probe.ts "$OUT/pump-probe.js"
make --no-print-directory -C agent-src/native -j2 CC=cc AR=ar STRIP=strip \
	CFLAGS="-O1 -g -fsanitize=address -fno-omit-frame-pointer" LDFLAGS="-fsanitize=address" STATIC=0 \
	QJSC="$ROOT/build/host/qjsc" QUICKJS_SRC="$ROOT/.cache/src/quickjs" MBEDTLS_SRC="$ROOT/.cache/src/mbedtls" \
	LIB_OBJDIR="$OUT/lib" BUNDLE="$OUT/pump-probe.js" OUT="$OUT/pump-probe" TEST_SERVER=1 ARCH_NAME=x86_64-asan >/dev/null
PUMP_FUZZ=1 PUMP_FUZZ_BIN="$OUT/pump-probe.unstripped" npx vitest run agent-src/test/native/pump-fuzz.test.ts
