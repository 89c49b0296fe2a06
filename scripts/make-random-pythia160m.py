#!/usr/bin/env python3
"""Random weights with the shapes of Pythia-160M (GPT-NeoX), saved as an F16
safetensors Hugging Face folder (~375 MB) under Pythia's own names and
config.json keys, with the SmolLM2 tokenizer files, for tdb's GPT-NeoX
benchmark entry. Not for the repository.

    python scripts/make-random-pythia160m.py [OUT_DIR] [--check]   # default scripts/out/pythia-160m-random

Config (EleutherAI/pythia-160m's): hidden 768, 12 layers, 12 heads (d_head
64), intermediate 3072, vocab 50304, max_position_embeddings 2048,
LayerNorm eps 1e-5, hidden_act "gelu" (exact), rotary_pct 0.25 (16 of 64
dims rotate), rotary_emb_base 10000, use_parallel_residual true, untied
embed_out. Weights normal(0, 0.02), biases 0.02 * randn, LayerNorm weights
1 + 0.1 * randn and biases 0.1 * randn, seed 0; each layer also has the
buffers Pythia's checkpoints carry (attention.bias, a BOOL causal mask;
attention.masked_bias; attention.rotary_emb.inv_freq), as the real file does. The tokenizer is SmolLM2's
(49152 tokens): only ids < 49152 ever occur, the rest of the embedding rows
are never used. --check loads the folder with transformers and runs a short
forward.
"""

import json
import os
import shutil
import sys

import torch

torch.set_num_threads(1)
from safetensors.torch import save_file  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TOK_DIR = "/work/shared/models/smollm2-135m/hf-tokenizer"

args = [a for a in sys.argv[1:] if not a.startswith("--")]
out = args[0] if args else os.path.join(ROOT, "scripts/out/pythia-160m-random")
os.makedirs(out, exist_ok=True)

# As the hub's config.json for EleutherAI/pythia-160m writes it (transformers 4.x keys).
config = {
    "architectures": ["GPTNeoXForCausalLM"], "bos_token_id": 0, "eos_token_id": 0, "hidden_act": "gelu",
    "hidden_size": 768, "initializer_range": 0.02, "intermediate_size": 3072, "layer_norm_eps": 1e-05,
    "max_position_embeddings": 2048, "model_type": "gpt_neox", "num_attention_heads": 12,
    "num_hidden_layers": 12, "rotary_emb_base": 10000, "rotary_pct": 0.25, "tie_word_embeddings": False,
    "torch_dtype": "float16", "transformers_version": "4.24.0", "use_cache": True, "use_parallel_residual": True,
    "vocab_size": 50304,
}
with open(os.path.join(out, "config.json"), "w") as f:
    json.dump(config, f, indent=2)
    f.write("\n")
for name in ("tokenizer.json", "tokenizer_config.json"):
    shutil.copyfile(os.path.join(TOK_DIR, name), os.path.join(out, name))

g = torch.Generator().manual_seed(0)
C, F, V = config["hidden_size"], config["intermediate_size"], config["vocab_size"]


def rand(*shape, std=0.02, mean=0.0):
    return (mean + torch.randn(*shape, generator=g) * std).to(torch.float16)


sd = {"gpt_neox.embed_in.weight": rand(V, C)}
for L in range(config["num_hidden_layers"]):
    p = f"gpt_neox.layers.{L}."
    for ln in ("input_layernorm", "post_attention_layernorm"):
        sd[p + ln + ".weight"] = rand(C, std=0.1, mean=1.0)
        sd[p + ln + ".bias"] = rand(C, std=0.1)
    # Rows per head: q_h, k_h, v_h (64 each); random either way.
    sd[p + "attention.query_key_value.weight"] = rand(3 * C, C)
    sd[p + "attention.query_key_value.bias"] = rand(3 * C)
    sd[p + "attention.dense.weight"] = rand(C, C)
    sd[p + "attention.dense.bias"] = rand(C)
    sd[p + "mlp.dense_h_to_4h.weight"] = rand(F, C)
    sd[p + "mlp.dense_h_to_4h.bias"] = rand(F)
    sd[p + "mlp.dense_4h_to_h.weight"] = rand(C, F)
    sd[p + "mlp.dense_4h_to_h.bias"] = rand(C)
    # The buffers Pythia's own checkpoints carry (transformers ignores them):
    # the causal mask as BOOL, masked_bias, and the rotary inverse frequencies.
    T, R = config["max_position_embeddings"], int(C // config["num_attention_heads"] * config["rotary_pct"])
    sd[p + "attention.bias"] = torch.ones(T, T, dtype=torch.bool).tril().view(1, 1, T, T)
    sd[p + "attention.masked_bias"] = torch.tensor(-1e9, dtype=torch.float16)
    sd[p + "attention.rotary_emb.inv_freq"] = 1.0 / (10000 ** (torch.arange(0, R, 2).float() / R))
sd["gpt_neox.final_layer_norm.weight"] = rand(C, std=0.1, mean=1.0)
sd["gpt_neox.final_layer_norm.bias"] = rand(C, std=0.1)
sd["embed_out.weight"] = rand(V, C)
n = sum(t.numel() for k, t in sd.items() if "attention.bias" not in k and "inv_freq" not in k and "masked" not in k)
save_file(sd, os.path.join(out, "model.safetensors"), metadata={"format": "pt"})
del sd
print(f"wrote {out}: {n / 1e6:.1f} M parameters, "
      f"{os.path.getsize(os.path.join(out, 'model.safetensors')) / 1e6:.0f} MB, files {sorted(os.listdir(out))}")

if "--check" in sys.argv:
    import time
    from tokenizers import Tokenizer
    from transformers import AutoModelForCausalLM
    t0 = time.time()
    model = AutoModelForCausalLM.from_pretrained(out, dtype=torch.float32, attn_implementation="eager").eval()
    assert model.config.use_parallel_residual and model.config.rope_parameters["partial_rotary_factor"] == 0.25
    assert not torch.equal(model.lm_head.weight, model.gpt_neox.embed_in.weight), "embed_out not loaded"
    tok = Tokenizer.from_file(os.path.join(out, "tokenizer.json"))
    ids = tok.encode("When Mary and John went to the store, John gave a drink to").ids
    with torch.no_grad():
        logits = model(input_ids=torch.tensor([ids]), use_cache=False).logits[0]
    assert torch.isfinite(logits).all()
    print(f"check: loaded and ran {len(ids)} tokens in {time.time() - t0:.1f} s; "
          f"logits shape {tuple(logits.shape)}, std {logits.std():.3f}, "
          f"top id at last position {int(logits[-1].argmax())}, logit {float(logits[-1].max()):.4f}")
