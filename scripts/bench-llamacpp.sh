#!/usr/bin/env bash
# llama.cpp beside tdb on SmolLM2-135M in fp32, prompt processing only.
#
#   LLAMA_CPP=/path/to/llama.cpp/build scripts/bench-llamacpp.sh [threads] [repeat]
#
# LLAMA_CPP is a llama.cpp build folder with bin/llama-bench and
# bin/llama-quantize (any public checkout or the copy vendored in PyPI's
# llama-cpp-python sdist: cmake -B build -DGGML_NATIVE=ON -DLLAMA_CURL=OFF;
# cmake --build build --target llama-bench llama-quantize). The Q4_1 GGUF
# from scripts/setup.sh is requantized to F32 once (scripts/out/), so both
# sides compute in fp32. llama-bench's prompt test computes the last token's
# logits only; tdb's `predict` does the same work (every block on every
# position, the unembedding on the last), so the two are timed side by side
# on random prompts of 16, 128 and 1024 tokens: tdb's median of `repeat`
# passes after one to warm up, llama-bench's mean of `repeat`. Set TDB to a
# tdb binary (default .build/release/tdb). Nothing of llama.cpp is part of tdb.
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO="$(cd "$HERE/.." && pwd)"
THREADS="${1:-$(nproc)}"
REPEAT="${2:-5}"
TDB="${TDB:-$REPO/.build/release/tdb}"
: "${LLAMA_CPP:?set LLAMA_CPP to a llama.cpp build folder}"
SRC="$REPO/models/smollm2-135m/SmolLM2-135M-Instruct.Q4_1.gguf"
F32="$HERE/out/SmolLM2-135M-Instruct.F32.gguf"
mkdir -p "$HERE/out"
if [[ ! -f "$F32" ]]; then
  "$LLAMA_CPP/bin/llama-quantize" --allow-requantize "$SRC" "$F32" F32 >/dev/null 2>&1
fi
echo "SmolLM2-135M in fp32, $THREADS threads, last position's logits; load average $(cut -d' ' -f1 /proc/loadavg)"
llama=$("$LLAMA_CPP/bin/llama-bench" -m "$F32" -t "$THREADS" -p 16,128,1024 -n 0 -r "$REPEAT" -o json 2>/dev/null)
TDB_THREADS="$THREADS" OPENBLAS_NUM_THREADS="$THREADS" python3 - "$TDB" "$REPEAT" "$llama" <<'PY'
import json, random, subprocess, sys
tdb, repeat, llama = sys.argv[1], int(sys.argv[2]), json.loads(sys.argv[3])
llama_ms = {row["n_prompt"]: row["avg_ns"] / 1e6 if "avg_ns" in row else 1000 * row["n_prompt"] / row["avg_ts"]
            for row in llama}
rng = random.Random(0)
print("| prompt | tdb `predict` | llama.cpp | tdb / llama.cpp |")
print("|---|---|---|---|")
for n in (16, 128, 1024):
    ids = json.dumps([rng.randrange(49152) for _ in range(n)])
    script = f"let warm = predict {ids} --top 1\ntime {{ predict {ids} --top 1 }} --repeat {repeat} | select median_ms"
    out = subprocess.run([tdb, "--model", "smollm2", "--format", "json", "-c", script],
                         capture_output=True, text=True, check=True).stdout
    ms = json.loads(out.strip().splitlines()[-1])["median_ms"]
    print(f"| {n} tokens | {ms:.0f} ms | {llama_ms[n]:.0f} ms | {ms / llama_ms[n]:.2f}x |")
PY
