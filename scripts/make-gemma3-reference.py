#!/usr/bin/env python3
"""Reference values for Gemma 3 270M (GGUF Q4_K_M, dequantized to fp32 by
transformers' GGUF loader, loaded as Gemma3ForCausalLM with eager attention)
-> Tests/Fixtures/gemma3/reference.safetensors.

    python3 scripts/make-gemma3-reference.py [OUT_FILE]

Run after `bash scripts/setup.sh` (it puts the GGUF in models/gemma3-270m/).
Keys: see Tests/Fixtures/gemma3/README.md.
"""

import json
import os
import sys

import torch
from safetensors.torch import save_file
from transformers import AutoModelForCausalLM, AutoTokenizer

torch.set_num_threads(1)
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DIR = os.path.join(ROOT, "models", "gemma3-270m")
GGUF = "gemma-3-270m-q4_k_m.gguf"
out = sys.argv[1] if len(sys.argv) > 1 else os.path.join(ROOT, "Tests/Fixtures/gemma3/reference.safetensors")

# A story long enough to pass the 512-token sliding window of the local layers.
LONG = " ".join(
    f"On day {i} of the trip, {name} walked to the {place} and counted {i * 3} {thing}."
    for i, (name, place, thing) in enumerate(
        [("Mary", "market", "apples"), ("John", "harbour", "boats"), ("Anna", "library", "books"),
         ("Tom", "station", "trains"), ("Lily", "garden", "roses"), ("Sam", "bakery", "loaves")] * 9))
PROMPTS = [
    "The capital of France is",
    "The capital of Japan is the city of",
    "When Mary and John went to the store, John gave a drink to",
    LONG + " On the last day, Mary walked to the",
]
FULL = 3  # prompts before this keep every position; the long one keeps its last WINDOW_TAIL
TAIL = 16
LAYERS = [0, 5, 6, 11, 17]  # block 5, 11, 17 are global; others local

tok = AutoTokenizer.from_pretrained(DIR, gguf_file=GGUF)
model = AutoModelForCausalLM.from_pretrained(DIR, gguf_file=GGUF, dtype=torch.float32,
                                             attn_implementation="eager").eval()
print(type(model).__name__, model.config.layer_types)
one = lambda s: tok(s, add_special_tokens=False).input_ids[0]
special = {w: one(w) for w in [" Paris", " London", " Tokyo", " Kyoto", " Mary", " John", " market"]}
V = model.config.vocab_size
g = torch.Generator().manual_seed(13)
cols = [c for c in torch.randperm(V, generator=g).tolist() if c not in special.values()][:512 - len(special)]
cols = torch.tensor(sorted(cols + list(special.values())), dtype=torch.int64)
ref = {"logit_columns": cols, "metric": torch.tensor([special[" Mary"], special[" John"]], dtype=torch.int64)}

for i, text in enumerate(PROMPTS):
    ids = tok(text).input_ids
    T = len(ids)
    x = torch.tensor([ids])
    grads_needed = i == 2
    with torch.set_grad_enabled(grads_needed):
        out_ = model(input_ids=x, output_hidden_states=True, use_cache=False)
    logits = out_.logits[0]
    hidden = out_.hidden_states  # [0] = scaled embeddings = blocks.0.hook_resid_pre; [l] = blocks.l.hook_resid_pre
    keep = slice(0, T) if i < FULL else slice(T - TAIL, T)
    top = tok.decode([int(logits[-1].argmax())])
    print(f"p{i} T={T} top {top!r} {logits[-1].max().item():.3f}")
    ref[f"p{i}.tokens"] = torch.tensor(ids, dtype=torch.int64)
    ref[f"p{i}.last_logits"] = logits[-1].detach().clone()
    ref[f"p{i}.logits"] = logits[keep][:, cols].detach().clone()
    for l in LAYERS:
        ref[f"p{i}.blocks.{l}.hook_resid_pre"] = hidden[l][0, keep].detach().clone()
    if grads_needed:
        metric = logits[-1, special[" Mary"]] - logits[-1, special[" John"]]
        for h in hidden:
            h.retain_grad()
        # hidden_states are the tensors the layers consumed, so their grads are total derivatives.
        chosen = [hidden[l] for l in LAYERS]
        grads = torch.autograd.grad(metric, chosen)
        for l, gr in zip(LAYERS, grads):
            ref[f"p2.grad.blocks.{l}.hook_resid_pre"] = gr[0].detach().clone()
        ref["p2.logitdiff"] = torch.tensor([metric.item()])
        print(f"  logit(' Mary') - logit(' John') = {metric.item():+.5f}")
        # Query head 2 of block 6 knocked out at the last position: o_proj input columns 512..767.
        D = model.config.head_dim
        def zero_head(module, args):
            (z,) = args
            z = z.clone()
            z[0, -1, 2 * D:3 * D] = 0
            return (z,)
        handle = model.model.layers[6].self_attn.o_proj.register_forward_pre_hook(zero_head)
        with torch.no_grad():
            abl = model(input_ids=x, use_cache=False).logits[0, -1]
        handle.remove()
        ref["p2.ablated_L6H2_logitdiff"] = torch.tensor([(abl[special[" Mary"]] - abl[special[" John"]]).item()])
        print(f"  with L6H2 zeroed at the last position {ref['p2.ablated_L6H2_logitdiff'].item():+.5f}")

ref = {k: (v.to(torch.float32) if v.is_floating_point() else v).contiguous() for k, v in ref.items()}
save_file(ref, out, metadata={"prompts": json.dumps(PROMPTS), "layers": json.dumps(LAYERS), "tail": str(TAIL),
                              "full": str(FULL), "special": json.dumps(special)})
print(f"wrote {out} ({os.path.getsize(out) / 1e6:.1f} MB)")
