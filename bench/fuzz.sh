#!/bin/sh
# Longer codec/session fuzzing than CI's fixed-seed 100k frames (agent-src/test/unit/fuzz.test.ts).
# Usage: bench/fuzz.sh [FRAMES] [SEED]   (defaults: 3 000 000 frames, a seed from the clock)
# Prints the seed so any failure can be replayed with the same arguments.
set -eu
cd "$(dirname "$0")/.."
frames=${1:-3000000}
seed=${2:-$(date +%s)}
echo "fuzz: $frames frames, seed $seed"
FUZZ_FRAMES=$frames FUZZ_SEED=$seed npx vitest run --reporter=verbose agent-src/test/unit/fuzz.test.ts
