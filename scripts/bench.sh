#!/usr/bin/env bash
# tdb vs PyTorch + Hugging Face transformers, side by side on this machine.
#
#   scripts/bench.sh [--quick] [more options for scripts/bench.py]
#
# Creates scripts/.venv once (torch CPU, transformers, safetensors, numpy,
# psutil), writes a random-weight GPT-2 small checkpoint to
# scripts/out/gpt2-small-random/, builds .build/release/tdb if it is absent,
# then runs scripts/bench.py: a Markdown table on stdout and
# scripts/out/bench.json. Rows whose tdb side is missing or fails read
# "n/a (tdb: ...)". Environment: TDB=/path/to/tdb to use another binary,
# BENCH_THREADS=N (default: nproc), BENCH_NO_BUILD=1 to skip swift build.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO="$(cd "$HERE/.." && pwd)"
VENV="$HERE/.venv"
PY="$VENV/bin/python"
OUT="$HERE/out"
STAMP="$VENV/.bench-ready"
PKGS="transformers safetensors numpy psutil"

log() { echo "bench: $*" >&2; }

# --- 1. virtual environment (cached) --------------------------------------
if [[ ! -f "$STAMP" ]]; then
  log "creating $VENV (once; torch is large, this takes a while)"
  python3 -m venv "$VENV"
  # PyPI's default Linux torch wheel pulls the CUDA packages (GBs). If pip can
  # see a CPU-only build (a local version "+cpu", e.g. from a find-links
  # folder configured for pip), prefer it; otherwise take the default wheel.
  TORCH_SPEC="torch"
  CPU_VER="$("$VENV/bin/pip" index versions torch 2>/dev/null \
    | sed -n 's/^Available versions: //p' | tr ',' '\n' | tr -d ' ' \
    | grep '+cpu$' | head -n1 || true)"
  if [[ -n "$CPU_VER" ]]; then TORCH_SPEC="torch==$CPU_VER"; fi
  log "pip install $TORCH_SPEC $PKGS"
  "$VENV/bin/pip" install --quiet "$TORCH_SPEC" $PKGS
  "$PY" -c 'import torch, transformers, safetensors, numpy, psutil' 
  echo "$TORCH_SPEC $PKGS" > "$STAMP"
fi

# --- hyperfine (optional; bench.py falls back to perf_counter) ------------
if ! command -v hyperfine >/dev/null 2>&1 && [[ $(id -u) == 0 ]] && command -v apt-get >/dev/null; then
  log "installing hyperfine from Debian (optional)"
  apt-get install -y -q hyperfine >/dev/null 2>&1 \
    || { apt-get update -q >/dev/null 2>&1 && apt-get install -y -q hyperfine >/dev/null 2>&1; } \
    || log "hyperfine unavailable; timing cold runs with perf_counter"
fi

# --- 2. random-weight GPT-2 small checkpoint (cached) ---------------------
mkdir -p "$OUT"
"$PY" "$HERE/make_checkpoint.py" --out "$OUT/gpt2-small-random"

# --- tdb binary ---------------------------------------------------------
TDB_BIN="${TDB:-$REPO/.build/release/tdb}"
if [[ ! -x "$TDB_BIN" && -z "${TDB:-}" && -z "${BENCH_NO_BUILD:-}" ]]; then
  log "building tdb: swift build -c release --product tdb"
  if ! (cd "$REPO" && swift build -c release --product tdb >"$OUT/swift-build.log" 2>&1); then
    log "swift build failed (see $OUT/swift-build.log); tdb rows will be n/a"
  fi
fi

# --- 3/4. measure and report ----------------------------------------------
exec "$PY" "$HERE/bench.py" --tdb "$TDB_BIN" --model "$OUT/gpt2-small-random" \
  --out "$OUT/bench.json" "$@"
