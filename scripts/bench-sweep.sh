#!/usr/bin/env bash
# Sweep benchmark (issue 4): tdb's head-ablation and residual-patching sweeps
# on the demo model against the same sweeps in PyTorch + transformers.
#
#   scripts/bench-sweep.sh [--repeat N] [--threads N] [--model DIR]
#
# Uses scripts/.venv (made by scripts/bench.sh) and .build/release/tdb
# (built here if absent). Prints a Markdown table on stdout.
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO="$(cd "$HERE/.." && pwd)"
if [[ ! -x "$HERE/.venv/bin/python" ]]; then
  echo "bench-sweep: run scripts/bench.sh once first (it creates scripts/.venv)" >&2
  exit 1
fi
if [[ ! -x "$REPO/.build/release/tdb" ]]; then
  (cd "$REPO" && swift build -c release --product tdb >/dev/null)
fi
exec "$HERE/.venv/bin/python" "$HERE/bench_sweep.py" --tdb "$REPO/.build/release/tdb" "$@"
