#!/usr/bin/env bash
# Benchmark of `collect` (issue 6): every neuron, head and SAE latent of the
# demo model over 1M tokens, peak memory at two corpus sizes (flat), and the
# same pipeline on a random-weight GPT-2 small in tokens per second.
#
#   scripts/bench-collect.sh [CORPUS] [GPT2_SMALL_DIR]
#
# CORPUS defaults to ../shared/models/tdb-demo/corpus/stories.txt (held-out
# stories, about 0.45M tokens), repeated until it holds over 1M tokens.
# GPT2_SMALL_DIR defaults to a random-weight GPT-2 small written by
# scripts/make-random-gpt2.py (numpy only, no download).
set -euo pipefail
cd "$(dirname "$0")/.."
CORPUS=${1:-../shared/models/tdb-demo/corpus/stories.txt}
GPT2=${2:-}
OUT=scripts/out/collect
mkdir -p "$OUT"

swift build -c release --product tdb >/dev/null
TDB=$(swift build -c release --show-bin-path)/tdb

# Over 1M tokens: the stories three times (windows of repeated text cost the same).
BIG="$OUT/corpus-x3.txt"
cat "$CORPUS" "$CORPUS" "$CORPUS" >"$BIG"

run() { # name tokens [extra tdb options...] -- prints the collect record and the peak RSS
  local name=$1 tokens=$2
  shift 2
  rm -f "$OUT/$name.db" "$OUT/$name.db-wal" "$OUT/$name.db-shm"
  echo "== $name: $tokens tokens"
  /usr/bin/time -f "wall %e s, cpu user %U s + sys %S s, peak RSS %M KB" \
    "$TDB" "$@" --format tsv -c "collect \"$BIG\" --tokens $tokens --db \"$OUT/$name.db\""
  ls -l "$OUT/$name.db" | awk '{printf "database %.0f MB\n", $5 / 1e6}'
}

echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)"
run demo-250k 250000
run demo-1m 1000000

if [ -z "$GPT2" ]; then GPT2=$(python3 scripts/make-random-gpt2.py); fi
echo "== gpt2-small (random weights): neurons and heads, 32768 tokens"
rm -f "$OUT/gpt2.db"*
/usr/bin/time -f "wall %e s, cpu user %U s + sys %S s, peak RSS %M KB" \
  "$TDB" --model "$GPT2" --format tsv -c "collect \"$BIG\" --tokens 32768 --kind \"neurons,heads\" --db \"$OUT/gpt2.db\""
