#!/usr/bin/env python3
"""Write a random-weight GPT-2 small in Hugging Face layout, with numpy only.

    python3 scripts/make-random-gpt2.py [OUT_DIR]   (default scripts/out/gpt2-small-random-np)

config.json + model.safetensors (F32, N(0, 0.02) weights, LayerNorms at 1/0,
tied embeddings) + vocab.json / merges.txt copied from models/tdb-demo. For
benchmarks of GPT-2 small's shapes without a download; the outputs mean nothing.
"""

import json
import os
import shutil
import struct
import sys

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
OUT = sys.argv[1] if len(sys.argv) > 1 else os.path.join(HERE, "out", "gpt2-small-random-np")
L, H, C, T, V = 12, 12, 768, 1024, 50257


def tensors():
    rng = np.random.default_rng(1234)
    normal = lambda *shape: rng.normal(0, 0.02, size=shape).astype(np.float32)
    yield "wte.weight", normal(V, C)
    yield "wpe.weight", normal(T, C)
    for l in range(L):
        p = f"h.{l}."
        yield p + "ln_1.weight", np.ones(C, np.float32)
        yield p + "ln_1.bias", np.zeros(C, np.float32)
        yield p + "attn.c_attn.weight", normal(C, 3 * C)
        yield p + "attn.c_attn.bias", np.zeros(3 * C, np.float32)
        yield p + "attn.c_proj.weight", normal(C, C)
        yield p + "attn.c_proj.bias", np.zeros(C, np.float32)
        yield p + "ln_2.weight", np.ones(C, np.float32)
        yield p + "ln_2.bias", np.zeros(C, np.float32)
        yield p + "mlp.c_fc.weight", normal(C, 4 * C)
        yield p + "mlp.c_fc.bias", np.zeros(4 * C, np.float32)
        yield p + "mlp.c_proj.weight", normal(4 * C, C)
        yield p + "mlp.c_proj.bias", np.zeros(C, np.float32)
    yield "ln_f.weight", np.ones(C, np.float32)
    yield "ln_f.bias", np.zeros(C, np.float32)


def main():
    if os.path.exists(os.path.join(OUT, "model.safetensors")):
        print(OUT)
        return
    os.makedirs(OUT, exist_ok=True)
    shapes, offset = {}, 0
    for name, t in tensors():  # first pass: the header (shapes only)
        shapes[name] = {"dtype": "F32", "shape": list(t.shape), "data_offsets": [offset, offset + t.nbytes]}
        offset += t.nbytes
    shapes["__metadata__"] = {"format": "pt"}
    header = json.dumps(shapes).encode()
    header += b" " * (-len(header) % 8)
    tmp = os.path.join(OUT, "model.safetensors.tmp")
    with open(tmp, "wb") as f:
        f.write(struct.pack("<Q", len(header)))
        f.write(header)
        for _, t in tensors():  # second pass: the same values (same seed), written one at a time
            f.write(t.tobytes())
    os.replace(tmp, os.path.join(OUT, "model.safetensors"))
    config = dict(
        model_type="gpt2", n_layer=L, n_head=H, n_embd=C, n_positions=T, n_ctx=T, vocab_size=V,
        activation_function="gelu_new", layer_norm_epsilon=1e-5, bos_token_id=50256, eos_token_id=50256,
        tie_word_embeddings=True,
    )
    with open(os.path.join(OUT, "config.json"), "w") as f:
        json.dump(config, f, indent=1)
    for name in ("vocab.json", "merges.txt"):
        shutil.copy(os.path.join(REPO, "models", "tdb-demo", name), OUT)
    print(OUT)


if __name__ == "__main__":
    main()
