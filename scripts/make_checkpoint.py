"""Write a random-weight GPT-2 small checkpoint in Hugging Face layout (no download).

    scripts/.venv/bin/python scripts/make_checkpoint.py [--out DIR] [--seed N] [--force]

The folder gets config.json and model.safetensors (F32, GPT2LMHeadModel key
names, Conv1D weights [in, out], tied lm_head so no lm_head key) from
transformers' own save_pretrained, plus vocab.json / merges.txt copied from
models/tdb-demo (GPT-2's byte-level BPE). Cached: a folder whose stamp matches
the seed and config is left as it is.
"""

import argparse
import json
import os
import shutil
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
DEFAULT_OUT = os.path.join(HERE, "out", "gpt2-small-random")
TOKENIZER_SRC = os.path.join(REPO, "models", "tdb-demo")

CONFIG = dict(
    n_layer=12,
    n_head=12,
    n_embd=768,
    n_positions=1024,
    vocab_size=50257,
    activation_function="gelu_new",
    layer_norm_epsilon=1e-5,
    # Inference-only checkpoint: no dropout (eval() disables it anyway).
    resid_pdrop=0.0,
    embd_pdrop=0.0,
    attn_pdrop=0.0,
    bos_token_id=50256,
    eos_token_id=50256,
    tie_word_embeddings=True,
)
STAMP = ".bench-stamp.json"


def stamp_for(seed):
    return {"seed": seed, "config": CONFIG, "writer": 1}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", default=DEFAULT_OUT)
    ap.add_argument("--seed", type=int, default=1234)
    ap.add_argument("--force", action="store_true")
    args = ap.parse_args()

    out = args.out
    want = stamp_for(args.seed)
    stamp_path = os.path.join(out, STAMP)
    weights = os.path.join(out, "model.safetensors")
    cached = False
    if not args.force and os.path.exists(stamp_path) and os.path.exists(weights):
        with open(stamp_path) as f:
            cached = json.load(f) == want

    if not cached:
        import torch
        from transformers import GPT2Config, GPT2LMHeadModel

        torch.manual_seed(args.seed)
        config = GPT2Config(**CONFIG)
        model = GPT2LMHeadModel(config).float().eval()
        os.makedirs(out, exist_ok=True)
        if os.path.exists(stamp_path):
            os.remove(stamp_path)
        try:
            model.save_pretrained(out, safe_serialization=True)
        except TypeError:  # newer transformers: safetensors is the only format
            model.save_pretrained(out)
        with open(stamp_path, "w") as f:
            json.dump(want, f, indent=1)

    for name in ("vocab.json", "merges.txt"):
        shutil.copyfile(os.path.join(TOKENIZER_SRC, name), os.path.join(out, name))

    check(out)
    print(f"checkpoint {'cached' if cached else 'written'}: {out}", file=sys.stderr)


def check(out):
    """Fail loudly if the file is not what tdb is meant to read."""
    from safetensors import safe_open

    with safe_open(os.path.join(out, "model.safetensors"), framework="np") as f:
        keys = list(f.keys())
        dtypes = {f.get_slice(k).get_dtype() for k in keys}
        shape = f.get_slice("transformer.h.0.attn.c_attn.weight").get_shape()
    assert "transformer.h.0.attn.c_attn.weight" in keys, keys[:5]
    assert "transformer.h.11.mlp.c_proj.weight" in keys
    assert "lm_head.weight" not in keys, "lm_head should be tied, not saved"
    assert dtypes == {"F32"}, dtypes
    assert list(shape) == [768, 2304], shape  # Conv1D: [in, out]
    with open(os.path.join(out, "config.json")) as f:
        cfg = json.load(f)
    for k in ("n_layer", "n_head", "n_embd", "n_positions", "vocab_size",
              "activation_function", "layer_norm_epsilon"):
        assert cfg[k] == CONFIG[k], (k, cfg[k])


if __name__ == "__main__":
    main()
