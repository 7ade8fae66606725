#!/bin/bash
# The Makefile fragments (mk/*.mk) must mean the same in any include order: a fragment uses only
# the names the top Makefile sets before the include, and its own. This reads the build twice,
# fragments in name order and in reverse order, and compares make's database (rules with their
# expanded prerequisites and recipes, variables). Only what an include order may legitimately
# change is left out: MAKEFILE_LIST, the order of the suites in TEST_SUITES and of .PHONY.
set -euo pipefail
cd "$(dirname "$0")/.."
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
reversed=$(printf '%s\n' mk/*.mk | sort -r | tr '\n' ' ')
sed "s|^include mk/\*\.mk\$|include $reversed|" Makefile >"$tmp/Makefile.reversed"
grep -q "^include $reversed" "$tmp/Makefile.reversed" || { echo "check-make-order: no 'include mk/*.mk' line in Makefile" >&2; exit 1; }

database() {
	env -u MAKEFLAGS -u MFLAGS -u MAKELEVEL make -pn -f "$1" help 2>/dev/null | sed "s|$tmp/Makefile.reversed|Makefile|g" | python3 -c '
import re, sys
skip = re.compile(r"^(#|MAKEFILE_LIST|MAKEFILES|MAKEFLAGS|GNUMAKEFLAGS|MFLAGS|MAKELEVEL|\.VARIABLES|__|\.SHELLSTATUS)")
lines = []
for l in sys.stdin.read().split("\n"):
    if skip.match(l):
        continue
    if l.startswith((".PHONY:", "TEST_SUITES :=")):
        head, _, words = l.partition(":")
        l = head + ":" + " ".join([""] + sorted(set(words.lstrip("= ").split())))
    lines.append(l)
assign = re.compile(r"^(define |TEST_SUITES :|[^\t#][^=]* (:|::|\+|\?)?= )")
def norm(b):
    # make prints its variables in hash-table order, which can change with the definition order:
    # a block of variables (one-line assignments and define...endef) is compared as a set.
    # Rules keep their line order.
    units, cur = [], None
    for x in b.split("\n"):
        if cur is not None:
            cur.append(x)
            if x == "endef":
                units.append("\n".join(cur))
                cur = None
        elif x.startswith("define "):
            cur = [x]
        else:
            units.append(x)
    if cur is not None or not all(assign.match(u) or not u for u in units):
        return b
    return "\n".join(sorted(units))
print("\n\n".join(sorted(norm(b) for b in "\n".join(lines).split("\n\n") if b.strip())))'
}
database Makefile >"$tmp/in-order"
database "$tmp/Makefile.reversed" >"$tmp/reversed"
if ! diff -u "$tmp/in-order" "$tmp/reversed" >"$tmp/diff"; then
	echo "check-make-order: mk/*.mk mean something else when included in reverse order:" >&2
	head -40 "$tmp/diff" >&2
	exit 1
fi
echo "check-make-order: mk/*.mk read the same in name order and in reverse ($(wc -l <"$tmp/in-order") lines of make's database)"
