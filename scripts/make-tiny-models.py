#!/usr/bin/env python3
"""Random-weight tiny Hugging Face models of every family tdb supports, with
reference hook values and gradients computed by transformers.

    python scripts/make-tiny-models.py [OUT_DIR] [--only NAME,NAME]   # default Tests/Fixtures/tiny-models

Writes OUT_DIR/<name>/{config.json, weights, reference.safetensors} for
llama, llama3, mistral, qwen2, qwen3, gpt2, gemma, gemma2, gemma3, neox,
neox-seq (or only the named ones) and OUT_DIR/tokenizer/ (the SmolLM2
tokenizer, shared by all). See OUT_DIR/README.md for the layout.
"""

import copy
import json
import os
import shutil
import sys

import torch

torch.set_num_threads(1)

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import tdbref  # noqa: E402
from safetensors.torch import save_file  # noqa: E402
from tokenizers import Tokenizer  # noqa: E402
from transformers import (  # noqa: E402
    AutoModelForCausalLM,
    Gemma2Config,
    Gemma2ForCausalLM,
    Gemma3ForCausalLM,
    Gemma3TextConfig,
    GemmaConfig,
    GemmaForCausalLM,
    GPT2Config,
    GPT2LMHeadModel,
    GPTNeoXConfig,
    GPTNeoXForCausalLM,
    LlamaConfig,
    LlamaForCausalLM,
    MistralConfig,
    MistralForCausalLM,
    Qwen2Config,
    Qwen2ForCausalLM,
    Qwen3Config,
    Qwen3ForCausalLM,
)

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TOK_DIR = "/work/shared/models/smollm2-135m/hf-tokenizer"
ARGS = [a for a in sys.argv[1:] if not a.startswith("--only")]
ONLY = next((a.split("=", 1)[1].split(",") for a in sys.argv[1:] if a.startswith("--only=")), None)
OUT = ARGS[0] if ARGS else os.path.join(ROOT, "Tests/Fixtures/tiny-models")

PROMPTS = [
    "The capital of France is",
    "When Mary and John went to the store, John gave a drink to",
    "In the morning the children walked along the river to school, and in the evening they all came back home again for dinner",
]
V = 49152
COMMON = dict(vocab_size=V, hidden_size=32, num_hidden_layers=2, intermediate_size=64,
              max_position_embeddings=128, rms_norm_eps=1e-5, initializer_range=0.2,
              bos_token_id=1, eos_token_id=2)

MODELS = [
    # name, class, config, save dtype, config style, extra save kwargs
    ("llama", LlamaForCausalLM,
     LlamaConfig(**COMMON, num_attention_heads=4, num_key_value_heads=2, rope_theta=10000.0,
                 tie_word_embeddings=False),
     torch.bfloat16, "4.x", {}),
    ("llama3", LlamaForCausalLM,
     LlamaConfig(**COMMON, num_attention_heads=4, num_key_value_heads=4, tie_word_embeddings=True,
                 rope_parameters=dict(rope_type="llama3", rope_theta=500000.0, factor=8.0,
                                      low_freq_factor=1.0, high_freq_factor=4.0,
                                      original_max_position_embeddings=16)),
     torch.bfloat16, "5.x", {}),
    ("mistral", MistralForCausalLM,
     MistralConfig(**COMMON, num_attention_heads=4, num_key_value_heads=1, sliding_window=None,
                   rope_theta=10000.0, tie_word_embeddings=True),
     torch.float32, "5.x", {"max_shard_size": "5MB"}),
    ("qwen2", Qwen2ForCausalLM,
     Qwen2Config(**COMMON, num_attention_heads=4, num_key_value_heads=2, rope_theta=1000000.0,
                 tie_word_embeddings=True, use_sliding_window=False),
     torch.float16, "4.x", {}),
    ("qwen3", Qwen3ForCausalLM,
     Qwen3Config(**COMMON, num_attention_heads=4, num_key_value_heads=2, head_dim=16,
                 rope_theta=1000000.0, tie_word_embeddings=False, use_sliding_window=False),
     torch.bfloat16, "5.x", {}),
    ("gpt2", GPT2LMHeadModel,
     GPT2Config(vocab_size=V, n_embd=32, n_layer=2, n_head=4, n_positions=128,
                initializer_range=0.2, bos_token_id=1, eos_token_id=2, tie_word_embeddings=True),
     torch.float32, "5.x", {}),
    # Gemma: (1 + w) RMSNorms, GeGLU, embeddings times sqrt(d_model). Gemma 2 adds
    # post-norms, soft-caps and a sliding window (4, so the prompts pass it) on
    # alternate layers; Gemma 3 q/k norms and local layers with their own rope.
    ("gemma", GemmaForCausalLM,
     GemmaConfig(**COMMON, num_attention_heads=4, num_key_value_heads=1, head_dim=8,
                 hidden_activation="gelu_pytorch_tanh", rope_theta=10000.0),
     torch.bfloat16, "5.x", {}),
    ("gemma2", Gemma2ForCausalLM,
     Gemma2Config(**COMMON, num_attention_heads=4, num_key_value_heads=2, head_dim=8, query_pre_attn_scalar=12,
                  sliding_window=4, attn_logit_softcapping=2.0, final_logit_softcapping=5.0,
                  hidden_activation="gelu_pytorch_tanh", rope_theta=10000.0),
     torch.float32, "5.x", {}),
    ("gemma3", Gemma3ForCausalLM,
     Gemma3TextConfig(**COMMON, num_attention_heads=4, num_key_value_heads=2, head_dim=16, query_pre_attn_scalar=8,
                      sliding_window=4, layer_types=["sliding_attention", "full_attention"],
                      rope_parameters={"full_attention": dict(rope_type="linear", factor=2.0, rope_theta=1000000.0),
                                       "sliding_attention": dict(rope_type="default", rope_theta=10000.0)}),
     torch.bfloat16, "5.x", {}),
    # Pythia's layout: parallel attention and MLP, a quarter (here half) of
    # each head rotating, exact-erf GELU, LayerNorms and biases everywhere,
    # an untied embed_out; config.json as Pythia's (rotary_pct, rotary_emb_base).
    ("neox", GPTNeoXForCausalLM,
     GPTNeoXConfig(vocab_size=V, hidden_size=32, num_hidden_layers=2, num_attention_heads=4,
                   intermediate_size=128, max_position_embeddings=128, layer_norm_eps=1e-5,
                   rotary_pct=0.5, rotary_emb_base=10000, use_parallel_residual=True, hidden_act="gelu",
                   tie_word_embeddings=False, initializer_range=0.2, bos_token_id=1, eos_token_id=2),
     torch.float16, "neox", {}),
    # The sequential variant, without attention biases, 2 of 8 dims rotating.
    ("neox-seq", GPTNeoXForCausalLM,
     GPTNeoXConfig(vocab_size=V, hidden_size=32, num_hidden_layers=2, num_attention_heads=4,
                   intermediate_size=128, max_position_embeddings=128, layer_norm_eps=1e-5,
                   rope_parameters=dict(rope_type="default", rope_theta=1000.0, partial_rotary_factor=0.25),
                   use_parallel_residual=False, attention_bias=False, hidden_act="gelu",
                   tie_word_embeddings=False, initializer_range=0.2, bos_token_id=1, eos_token_id=2),
     torch.float16, "5.x", {}),
]


def randomize(model, seed):
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, p in model.named_parameters():
            n = torch.randn(p.shape, generator=g)
            if "norm" in name or ".ln_" in name:
                p.copy_(1 + 0.1 * n if name.endswith("weight") else 0.1 * n)
            elif name.endswith("bias"):
                p.copy_(0.1 * n)
            else:
                p.copy_(0.2 * n)


def to_4x_style(path, drop_head_dim):
    """Rewrite config.json as transformers 4.x writes it."""
    with open(path) as f:
        c = json.load(f)
    out = {}
    for k, v in c.items():
        if k == "rope_parameters":
            rp = dict(v)
            out["rope_theta"] = rp.pop("rope_theta")
            rp.pop("rope_type", None) if rp.get("rope_type") == "default" else None
            out["rope_scaling"] = rp if rp else None
        elif k == "dtype":
            out["torch_dtype"] = v
        elif k == "head_dim" and drop_head_dim:
            continue
        elif k == "transformers_version":
            out[k] = "4.57.1"
        else:
            out[k] = v
    with open(path, "w") as f:
        json.dump(out, f, indent=2, sort_keys=True)
        f.write("\n")


def to_neox_style(path):
    """Rewrite config.json as Pythia's: rotary_pct and rotary_emb_base."""
    with open(path) as f:
        c = json.load(f)
    rp = c.pop("rope_parameters")
    c["rotary_pct"] = rp["partial_rotary_factor"]
    c["rotary_emb_base"] = rp["rope_theta"]
    c["torch_dtype"] = c.pop("dtype")
    c["transformers_version"] = "4.57.1"
    with open(path, "w") as f:
        json.dump(c, f, indent=2, sort_keys=True)
        f.write("\n")


def main():
    os.makedirs(OUT, exist_ok=True)
    tokdir = os.path.join(OUT, "tokenizer")
    os.makedirs(tokdir, exist_ok=True)
    for f in ("tokenizer.json", "tokenizer_config.json"):
        shutil.copyfile(os.path.join(TOK_DIR, f), os.path.join(tokdir, f))
    tok = Tokenizer.from_file(os.path.join(TOK_DIR, "tokenizer.json"))
    prompts = [tok.encode(p).ids for p in PROMPTS]
    a, b = tok.encode(" Mary").ids[0], tok.encode(" John").ids[0]
    g = torch.Generator().manual_seed(7)
    cols = torch.randperm(V, generator=g)[:254].tolist()
    cols = sorted(set(cols) - {a, b})[:254] + [a, b]
    cols = torch.tensor(sorted(cols), dtype=torch.int64)
    assert cols.numel() == 256

    for mi, (name, cls, cfg, dtype, style, save_kw) in enumerate(MODELS):
        if ONLY is not None and name not in ONLY:
            continue
        print(f"== {name}")
        d = os.path.join(OUT, name)
        shutil.rmtree(d, ignore_errors=True)
        torch.manual_seed(1000 + mi)
        cfg._attn_implementation = "eager"
        model = cls(cfg).eval()
        randomize(model, 1000 + mi)
        model.to(dtype).save_pretrained(d, **save_kw)
        if style == "4.x":
            to_4x_style(os.path.join(d, "config.json"), drop_head_dim=(name == "llama"))
        if style == "neox":
            to_neox_style(os.path.join(d, "config.json"))
        files = sorted(os.listdir(d))
        print("   files:", files)
        if name == "mistral":
            assert sum(f.endswith(".safetensors") for f in files) == 2, files

        # The reference: the model as saved, loaded back in fp32.
        eager = AutoModelForCausalLM.from_pretrained(d, dtype=torch.float32, attn_implementation="eager").eval()
        if name == "llama3":
            print("   rope:", eager.config.rope_parameters)
        if style in ("4.x", "neox") and name != "gpt2":
            print("   rope (from 4.x config):", eager.config.rope_parameters)
        hooked = copy.deepcopy(eager)
        tdbref.attach(hooked)
        names = tdbref.hook_names(hooked.config)
        ref = {"metric": torch.tensor([a, b], dtype=torch.int64), "logit_columns": cols}
        for i, toks in enumerate(prompts):
            with torch.no_grad():
                want = eager(input_ids=torch.tensor([toks]), use_cache=False).logits[0]
            logits, vals, grads, metric = tdbref.forward(hooked, toks, (a, b))
            diff = (logits - want).abs().max().item()
            print(f"   p{i} T={len(toks)} metric {metric:+.5f}  |hooked - eager| = {diff:.2e}")
            assert diff == 0.0, diff
            ref[f"p{i}.tokens"] = torch.tensor(toks, dtype=torch.int64)
            ref[f"p{i}.logits"] = logits[:, cols].contiguous()
            for n in names:
                ref[f"p{i}.{n}"] = vals[n].contiguous()
                ref[f"p{i}.grad.{n}"] = grads[n].contiguous()
            tdbref.R.ablate = (1, 1, len(toks) - 1)
            abl = tdbref.metric_of(hooked, toks, (a, b))
            tdbref.R.ablate = None
            ref[f"p{i}.ablated_logitdiff"] = torch.tensor([abl], dtype=torch.float32)
            print(f"      ablated L1H1 at last position: {abl:+.5f}")
            if i == 1:
                m64 = tdbref.fd_model(hooked)
                T = len(toks)
                checks = [("hook_embed", (T - 3, 5)),
                          ("blocks.0.hook_resid_pre", (2, 7)),
                          ("blocks.0.ln1.hook_scale", (T - 1, 0)),
                          ("blocks.0.attn.hook_q", (T - 1, 2, 1)),
                          ("blocks.1.attn.hook_attn_scores", (1, T - 1, 3)),
                          ("blocks.1.attn.hook_pattern", (3, T - 1, T - 2)),
                          ("blocks.1.attn.hook_z", (T - 1, 1, 0)),
                          ("blocks.1.hook_resid_pre", (T - 2, 3)),
                          ("blocks.1.ln2.hook_normalized", (T - 1, 17)),
                          ("blocks.1.mlp.hook_pre", (T - 1, 9)),
                          ("blocks.1.hook_resid_post", (T - 1, 4)),
                          ("ln_final.hook_scale", (T - 1, 0))]
                neox = name.startswith("neox")
                if not getattr(cfg, "use_parallel_residual", False):
                    checks += [("blocks.1.hook_resid_mid", (T - 1, 30))]
                if name != "gpt2":
                    checks += [("blocks.0.attn.hook_rot_k", (3, 0, 2))]
                if name != "gpt2" and not neox:
                    checks += [("blocks.1.mlp.hook_pre_linear", (T - 1, 11))]
                if neox:  # a dimension that rotates and one that does not; the key side of block 0
                    checks += [("blocks.0.attn.hook_rot_q", (T - 1, 1, 0)),
                               ("blocks.0.attn.hook_rot_q", (T - 1, 1, 6)),
                               ("blocks.0.attn.hook_k", (T - 4, 2, 5)),
                               ("blocks.0.attn.hook_v", (T - 4, 3, 2)),
                               ("blocks.0.ln2.hook_scale", (T - 2, 0)),
                               ("blocks.0.mlp.hook_pre", (T - 2, 100))]
                worst = tdbref.finite_difference_checks(m64, toks, (a, b), grads, checks)
                print(f"      worst FD relative error {worst:.1e}")
                assert worst < 1e-3
        ref = {k: (v.to(torch.float32) if v.is_floating_point() else v) for k, v in ref.items()}
        save_file(ref, os.path.join(d, "reference.safetensors"), metadata={
            "model": name, "prompts": json.dumps(PROMPTS), "metric": "logits[T-1, metric[0]] - logits[T-1, metric[1]]",
            "ablation": "blocks.1.attn.hook_z[T-1, head 1, :] = 0"})
    total = sum(os.path.getsize(os.path.join(r, f)) for r, _, fs in os.walk(OUT) for f in fs)
    print(f"total size of {OUT}: {total / 1e6:.1f} MB")


if __name__ == "__main__":
    main()
