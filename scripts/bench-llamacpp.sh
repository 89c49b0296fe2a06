#!/usr/bin/env bash
# llama.cpp beside tdb on SmolLM2-135M in fp32, prompt processing only.
#
#   LLAMA_CPP=/path/to/llama.cpp/build scripts/bench-llamacpp.sh [threads]
#
# LLAMA_CPP is a llama.cpp build folder with bin/llama-bench and
# bin/llama-quantize (any public checkout or the copy vendored in PyPI's
# llama-cpp-python sdist: cmake -B build -DGGML_NATIVE=ON -DLLAMA_CURL=OFF;
# cmake --build build --target llama-bench llama-quantize). The Q4_1 GGUF
# from scripts/setup.sh is requantized to F32 once (scripts/out/), so both
# sides compute in fp32; llama-bench reports tokens per second for prompts
# of 16, 128 and 1024 tokens (its pp test: last-token logits only), turned
# here into milliseconds per prompt. Nothing of llama.cpp is part of tdb.
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO="$(cd "$HERE/.." && pwd)"
THREADS="${1:-$(nproc)}"
: "${LLAMA_CPP:?set LLAMA_CPP to a llama.cpp build folder}"
SRC="$REPO/models/smollm2-135m/SmolLM2-135M-Instruct.Q4_1.gguf"
F32="$HERE/out/SmolLM2-135M-Instruct.F32.gguf"
mkdir -p "$HERE/out"
if [[ ! -f "$F32" ]]; then
  "$LLAMA_CPP/bin/llama-quantize" --allow-requantize "$SRC" "$F32" F32 >/dev/null 2>&1
fi
echo "llama.cpp, SmolLM2-135M F32, $THREADS threads; load average $(cut -d' ' -f1 /proc/loadavg)"
"$LLAMA_CPP/bin/llama-bench" -m "$F32" -t "$THREADS" -p 16,128,1024 -n 0 -r 5 -o json 2>/dev/null \
  | python3 -c '
import json, sys
for row in json.load(sys.stdin):
    n = row["n_prompt"]
    ms = row["avg_ns"] / 1e6 if "avg_ns" in row else 1000 * n / row["avg_ts"]
    print(f"| prompt {n} tokens | {ms:.0f} ms |")'
