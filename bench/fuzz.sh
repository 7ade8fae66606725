#!/bin/sh
# Longer fuzzing than CI's fixed-seed runs:
#  1. codec/session: random and mutated frames (agent-src/test/unit/fuzz.test.ts; CI: 100k frames)
#  2. server: mutated HTTP/RTSP from viewers, a hostile camera behind a real agent, malformed frames
#     after AUTH, against a real streamer with a real viewer playing
#     (agent-src/test/hostile/server-fuzz.test.ts; CI: 300 cases / 12 s per phase)
# Usage: bench/fuzz.sh [FRAMES] [SEED]   (defaults: 3 000 000 frames, a seed from the clock)
# Server knobs (environment):
#   SERVER_FUZZ_CASES    cases per phase             (default 1 000 000)
#   SERVER_FUZZ_SECONDS  time cap per phase           (default 3600)
#   SERVER_FUZZ_PHASES   subset, e.g. "http,rtsp"     (default all: http,rtsp,camera,frames,backchannel)
#   SERVER_FUZZ_SEED     default: SEED
#   SERVER_FUZZ_FIRST    first case index; with SERVER_FUZZ_CASES=FIRST+1 replays one case
#   SERVER_FUZZ_RSS_GROWTH_MIB  allowed streamer RSS growth over its baseline (default 150)
#   FUZZ_ONLY=codec|server  run one of the two
# Prints the seeds so any failure can be replayed with the same arguments.
set -eu
cd "$(dirname "$0")/.."
frames=${1:-3000000}
seed=${2:-$(date +%s)}
only=${FUZZ_ONLY:-}
status=0
if [ "$only" != server ]; then
  echo "fuzz codec: $frames frames, seed $seed"
  FUZZ_FRAMES=$frames FUZZ_SEED=$seed npx vitest run --reporter=verbose agent-src/test/unit/fuzz.test.ts || status=1
fi
if [ "$only" != codec ]; then
  export SERVER_FUZZ_SEED="${SERVER_FUZZ_SEED:-$seed}"
  export SERVER_FUZZ_CASES="${SERVER_FUZZ_CASES:-1000000}"
  export SERVER_FUZZ_SECONDS="${SERVER_FUZZ_SECONDS:-3600}"
  echo "fuzz server: $SERVER_FUZZ_CASES cases or $SERVER_FUZZ_SECONDS s per phase, seed $SERVER_FUZZ_SEED" \
    "(replay: SERVER_FUZZ_SEED=$SERVER_FUZZ_SEED SERVER_FUZZ_CASES=$SERVER_FUZZ_CASES bench/fuzz.sh $frames $seed)"
  # The streamer and the fuzz hold thousands of sockets: raise the soft file limit to the hard one.
  ulimit -n "$(ulimit -Hn)"
  make --no-print-directory bundle
  npx vitest run --reporter=verbose agent-src/test/hostile/server-fuzz.test.ts || status=1
fi
exit $status
