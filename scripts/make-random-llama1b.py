#!/usr/bin/env python3
"""Random weights with the shapes of Llama-3.2-1B, saved as a BF16 safetensors
Hugging Face folder (~2.5 GB) with the SmolLM2 tokenizer files, for tdb's
1B-class memory/speed check. Not for the repository.

    python scripts/make-random-llama1b.py OUT_DIR [--check]

Config: hidden 2048, 16 layers, 32 heads, 8 key/value heads (head_dim 64),
intermediate 8192, vocab 128256, RMSNorm eps 1e-5, rope theta 500000 with
rope_scaling llama3 (factor 32, low_freq_factor 1, high_freq_factor 4,
original_max_position_embeddings 8192), max_position_embeddings 131072,
tied embeddings (no lm_head.weight). Weights normal(0, 0.02), norm weights
1 + 0.1 * randn, seed 0. The tokenizer is SmolLM2's (49152 tokens): only ids
< 49152 ever occur, the rest of the embedding rows are never used.
--check loads the folder with transformers and runs a short forward.
"""

import os
import shutil
import sys

import torch

torch.set_num_threads(1)
from safetensors.torch import save_file  # noqa: E402
from transformers import LlamaConfig  # noqa: E402

TOK_DIR = "/work/shared/models/smollm2-135m/hf-tokenizer"

args = [a for a in sys.argv[1:] if not a.startswith("--")]
if len(args) != 1:
    sys.exit(__doc__)
out = args[0]
os.makedirs(out, exist_ok=True)

cfg = LlamaConfig(
    vocab_size=128256, hidden_size=2048, intermediate_size=8192, num_hidden_layers=16,
    num_attention_heads=32, num_key_value_heads=8, head_dim=64, hidden_act="silu",
    max_position_embeddings=131072, rms_norm_eps=1e-5, tie_word_embeddings=True,
    rope_parameters=dict(rope_type="llama3", rope_theta=500000.0, factor=32.0, low_freq_factor=1.0,
                         high_freq_factor=4.0, original_max_position_embeddings=8192),
    bos_token_id=1, eos_token_id=2, attention_bias=False, mlp_bias=False)
cfg.architectures = ["LlamaForCausalLM"]
cfg.dtype = torch.bfloat16
cfg.save_pretrained(out)
for f in ("tokenizer.json", "tokenizer_config.json"):
    shutil.copyfile(os.path.join(TOK_DIR, f), os.path.join(out, f))

g = torch.Generator().manual_seed(0)
C, F, D = cfg.hidden_size, cfg.intermediate_size, cfg.head_dim
H, KV = cfg.num_attention_heads, cfg.num_key_value_heads


def mat(*shape):
    return (torch.randn(*shape, generator=g) * 0.02).to(torch.bfloat16)


def norm():
    return (1 + 0.1 * torch.randn(C, generator=g)).to(torch.bfloat16)


sd = {"model.embed_tokens.weight": mat(cfg.vocab_size, C)}
for L in range(cfg.num_hidden_layers):
    p = f"model.layers.{L}."
    sd[p + "input_layernorm.weight"] = norm()
    sd[p + "self_attn.q_proj.weight"] = mat(H * D, C)
    sd[p + "self_attn.k_proj.weight"] = mat(KV * D, C)
    sd[p + "self_attn.v_proj.weight"] = mat(KV * D, C)
    sd[p + "self_attn.o_proj.weight"] = mat(C, H * D)
    sd[p + "post_attention_layernorm.weight"] = norm()
    sd[p + "mlp.gate_proj.weight"] = mat(F, C)
    sd[p + "mlp.up_proj.weight"] = mat(F, C)
    sd[p + "mlp.down_proj.weight"] = mat(C, F)
sd["model.norm.weight"] = norm()
n = sum(t.numel() for t in sd.values())
save_file(sd, os.path.join(out, "model.safetensors"), metadata={"format": "pt"})
del sd
print(f"wrote {out}: {n / 1e9:.3f} B parameters, "
      f"{os.path.getsize(os.path.join(out, 'model.safetensors')) / 1e9:.2f} GB, files {sorted(os.listdir(out))}")

if "--check" in sys.argv:
    import time
    from tokenizers import Tokenizer
    from transformers import AutoModelForCausalLM
    t0 = time.time()
    model = AutoModelForCausalLM.from_pretrained(out, dtype=torch.bfloat16, attn_implementation="eager").eval()
    assert model.lm_head.weight.data_ptr() == model.model.embed_tokens.weight.data_ptr(), "lm_head not tied"
    tok = Tokenizer.from_file(os.path.join(out, "tokenizer.json"))
    ids = tok.encode("When Mary and John went to the store, John gave a drink to").ids
    with torch.no_grad():
        logits = model(input_ids=torch.tensor([ids]), use_cache=False).logits[0].float()
    assert torch.isfinite(logits).all()
    print(f"check: loaded and ran {len(ids)} tokens in {time.time() - t0:.1f} s; "
          f"logits shape {tuple(logits.shape)}, std {logits.std():.3f}, "
          f"top id at last position {int(logits[-1].argmax())}")
