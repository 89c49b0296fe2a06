#!/usr/bin/env bash
# The BLAS choice, measured: every BLAS build Debian has on this machine on
# tdb's own matrix shapes, plus a large square sgemm (each library's ceiling).
#
#   scripts/bench-blas.sh [--model gpt2|smollm2] [--threads N] [--repeat R]
#
# Compiles scripts/bench-blas.c into scripts/out/ and runs it once per library
# found: OpenBLAS (pthreads, the one tdb links; OpenMP), BLIS (OpenMP,
# pthreads), serial BLIS split by columns over the threads (what tdb does
# for products of up to 40 rows on a weight's first use), and tdb's own
# products on weights packed once by oneDNN (what tdb does from a weight's
# second use; needs libdnnl-dev, which scripts/setup.sh installs). Install the others to compare them:
# apt-get install libopenblas0-openmp libblis4-openmp libblis4-pthread libblis4-serial.
# Prints a Markdown table of milliseconds per pass's products (lower is faster).
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
OUT="$HERE/out"
mkdir -p "$OUT"
cc -O2 -o "$OUT/bench-blas" "$HERE/bench-blas.c" -ldl -lpthread
# tdb's own packed products (Sources/CPacked) beside the libraries.
cc -O2 -DPACKED -I"$HERE/../Sources/CPacked/include" -o "$OUT/bench-blas-packed" "$HERE/bench-blas.c" \
  "$HERE/../Sources/CPacked/PackedProducts.c" -ldl -lpthread -ldnnl -lgomp

lib="/usr/lib/$(gcc -print-multiarch 2>/dev/null || echo x86_64-linux-gnu)"
candidates=(
  "OpenBLAS, pthreads (tdb's)|$lib/openblas-pthread/libopenblas.so.0|"
  "OpenBLAS, OpenMP|$lib/openblas-openmp/libopenblas.so.0|"
  "BLIS, OpenMP|$lib/blis-openmp/libblis.so.4|"
  "BLIS, pthreads|$lib/blis-pthread/libblis.so.4|"
  "BLIS serial, columns split over the threads (tdb up to 40 rows)|$lib/blis-serial/libblis.so.4|--split"
  "oneDNN matmul on weights packed once (tdb, from a weight's second use)|$lib/openblas-pthread/libopenblas.so.0|--packed"
)
echo "bench-blas: $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg), $(date -u +%F)" >&2
results=()
for c in "${candidates[@]}"; do
  IFS='|' read -r name path flag <<<"$c"
  if [[ ! -f "$path" ]]; then
    echo "bench-blas: $name: $path is not installed, skipped" >&2
    continue
  fi
  echo "bench-blas: $name" >&2
  binary="$OUT/bench-blas"
  [[ "$flag" == --packed ]] && binary="$OUT/bench-blas-packed"
  results+=("$name" "$("$binary" "$path" $flag "$@")")
done

python3 - "${results[@]}" <<'PY'
import sys
args = sys.argv[1:]
columns = [("forward total", n) for n in (16, 32, 48, 128, 1024)] + [("backward total", n) for n in (16, 128, 1024)]
print("| library | square sgemm GFLOP/s | " + " | ".join(
    f"{what.split()[0]} {n} tok (ms)" for what, n in columns) + " |")
print("|---" * (2 + len(columns)) + "|")
for name, output in zip(args[0::2], args[1::2]):
    rows = {}
    square = ""
    for line in output.splitlines():
        what, tokens, ms, gflops = line.split("\t")
        if what.startswith("square"):
            square = gflops
        rows[(what, int(tokens))] = ms
    print(f"| {name} | {square} | " + " | ".join(rows.get(c, "") for c in columns) + " |")
PY
