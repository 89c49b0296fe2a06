#!/usr/bin/env python3
"""Reference ids for the Gemma 3 270M tokenizer (the GGUF's SentencePiece
`llama` model, 262,144 tokens, byte fallback) -> Tests/Fixtures/tokenizers/gemma3/cases.json.

The reference is Hugging Face transformers' tokenizer converted from the same
GGUF (AutoTokenizer.from_pretrained(DIR, gguf_file=...)), as transformers loads it
for Gemma3ForCausalLM. The strings are make-tokenizer-fixtures.py's few hundred
cases plus byte-fallback characters and runs of spaces.

Run from the repository root after `bash scripts/setup.sh`:
    python3 scripts/make-gemma3-tokenizer-cases.py
"""

import importlib.util
import json
import os
import random

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
spec = importlib.util.spec_from_file_location("fixtures", os.path.join(ROOT, "scripts", "make-tokenizer-fixtures.py"))
fixtures = importlib.util.module_from_spec(spec)
spec.loader.exec_module(fixtures)

from transformers import AutoTokenizer  # noqa: E402

tokenizer = AutoTokenizer.from_pretrained(os.path.join(ROOT, "models", "gemma3-270m"),
                                          gguf_file="gemma-3-270m-q4_k_m.gguf")
rng = random.Random(3)
rare = ["\U0001F9EC", "\U00013000", "\u0FD5", "\U0001D11E", "\u2A6A", "\uFFFD", "\u0000", "\u0007", "\U0010FFFD",
        "\U0001FAE8", "\u1680", "\u0F3A\u0F3B"]
extra = ["   ", "    four", "a    b", " " * 31 + "x", "\n\n\n\n", "\t\t  \t", "x" * 40, "  \n  \n",
         " ".join(rare), "".join(rare), "<start_of_turn>user\nHi<end_of_turn>", "<bos>", "<unk> <pad>",
         "The capital of Japan is the city of", "When Mary and John went to the store, John gave a drink to"]
extra += ["".join(rng.choice(rare + [" ", "  ", "a", "ü", "\n", "1"]) for _ in range(rng.randint(1, 12))) for _ in range(40)]
texts = fixtures.strings() + extra
cases = []
for text in texts:
    ids = tokenizer(text).input_ids
    plain = tokenizer(text, add_special_tokens=False).input_ids
    cases.append({"text": text, "ids": ids, "ids_plain": plain,
                  "decoded": tokenizer.decode(ids, skip_special_tokens=False),
                  "decoded_plain": tokenizer.decode(plain, skip_special_tokens=False)})
out = os.path.join(ROOT, "Tests", "Fixtures", "tokenizers", "gemma3")
os.makedirs(out, exist_ok=True)
with open(os.path.join(out, "cases.json"), "w", encoding="utf-8") as f:
    json.dump({"source": "transformers AutoTokenizer from models/gemma3-270m/gemma-3-270m-q4_k_m.gguf",
               "cases": cases}, f, ensure_ascii=False, indent=0)
print(f"wrote {len(cases)} cases to {out}/cases.json")
