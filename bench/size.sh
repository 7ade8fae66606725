#!/usr/bin/env bash
# Stripped size of the static agent per CPU, and where the bytes go: QuickJS (engine + quickjs-libc),
# mbedTLS, our C module, the agent bytecode, musl libc/libgcc. The breakdown sums the input sections
# the linker kept (from the link map of each build, after --gc-sections), excluding .bss.
# Usage: bench/size.sh [ARCH...]   (build first: make agents)
set -eu
cd "$(dirname "$0")/.."
arches=("$@")
[ ${#arches[@]} -gt 0 ] || arches=(armhf armel aarch64 mipsel)

printf '%-8s %10s %10s | %9s %9s %9s %9s %9s\n' arch stripped "(MB)" QuickJS mbedTLS native bytecode libc+gcc
for a in "${arches[@]}"; do
	bin=build/agent/$a/flussonic-agent
	map=$bin.map
	if [ ! -f "$bin" ] || [ ! -f "$map" ]; then
		echo "$a: not built (make agent ARCH=$a)" >&2
		continue
	fi
	size=$(stat -c %s "$bin")
	python3 - "$map" "$a" "$size" <<'PY'
import re, sys
path, arch, size = sys.argv[1], sys.argv[2], int(sys.argv[3])
cats = {"QuickJS": 0, "mbedTLS": 0, "native": 0, "bytecode": 0, "libc+gcc": 0}
def cat(f):
    if "/qjs/" in f: return "QuickJS"
    if "mbedtls" in f: return "mbedTLS"
    if f.endswith("bytecode.o"): return "bytecode"
    if re.search(r"/(main|native(-[a-z]+)?|log|tls)\.o$", f): return "native"
    return "libc+gcc"
lines = open(path, errors="replace").read().split("\n")
start = next(i for i, l in enumerate(lines) if l.startswith("Linker script and memory map"))
out_sec = None
pending = None
skip = (".bss", ".tbss", ".comment", ".debug", ".ARM.attributes", ".note", ".stab", ".pdr", ".gnu.attributes", ".MIPS.abiflags", ".reginfo")
for l in lines[start:]:
    m = re.match(r"^(\.\S+)", l)
    if m:
        out_sec = m.group(1)
        continue
    if out_sec is None or out_sec.startswith(skip):
        continue
    # " .text.foo  0xADDR  0xSIZE file"  or " .text.longname\n                0xADDR 0xSIZE file"
    m = re.match(r"^ (\S+)\s+0x[0-9a-f]+\s+0x([0-9a-f]+)\s+(\S+)", l)
    if m and not m.group(1).startswith("*"):
        cats[cat(m.group(3))] += int(m.group(2), 16)
        continue
    m = re.match(r"^\s+0x[0-9a-f]+\s+0x([0-9a-f]+)\s+(/\S+|\S+\.o\)?)$", l)
    if m and pending:
        cats[cat(m.group(2))] += int(m.group(1), 16)
    pending = re.match(r"^ (\.\S+)$", l)
fmt = lambda n: f"{n/1024:8.0f}K"
print(f"{arch:<8} {size:>10} {size/1048576:>9.2f}M | " + " ".join(fmt(cats[k]) for k in cats))
PY
done
