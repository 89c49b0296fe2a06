#!/usr/bin/env python3
"""SmolLM2-135M-Instruct dequantized from the GGUF (Q4_1) by transformers and
saved as a BF16 safetensors Hugging Face folder, for checking tdb's HF-folder
path on a real model. Not committed.

    python scripts/smollm2-to-hf-folder.py OUT_DIR

OUT_DIR gets config.json, generation_config.json, model.safetensors (BF16,
tied: no lm_head.weight), tokenizer.json, tokenizer_config.json, and
reference.safetensors: the keys of Tests/Fixtures/smollm2/reference.safetensors
computed from the folder's own BF16 weights (loaded back and upcast to fp32).
"""

import os
import shutil
import sys

import torch

torch.set_num_threads(1)
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import tdbref  # noqa: E402
from transformers import AutoModelForCausalLM  # noqa: E402

if len(sys.argv) != 2:
    sys.exit(__doc__)
out = sys.argv[1]
os.makedirs(out, exist_ok=True)
gguf_model = tdbref.load_smollm2_gguf()
# transformers marks a GGUF-loaded model as quantized and refuses to save it:
# rebuild a plain model from its config and copy the (dequantized) weights.
cfg = gguf_model.config.to_dict()
for k in ("quantization_config", "_name_or_path", "_model_name_or_path"):
    cfg.pop(k, None)
cfg = type(gguf_model.config).from_dict(cfg)
model = type(gguf_model)(cfg).eval()
missing, unexpected = model.load_state_dict(gguf_model.state_dict(), strict=False)
assert not unexpected and all(k == "lm_head.weight" for k in missing), (missing, unexpected)
model.tie_weights()
assert torch.equal(model.lm_head.weight, gguf_model.lm_head.weight)
del gguf_model
model.to(torch.bfloat16).save_pretrained(out)
for f in ("tokenizer.json", "tokenizer_config.json"):
    shutil.copyfile(os.path.join(tdbref.SMOLLM2_DIR, "hf-tokenizer", f), os.path.join(out, f))
del model
back = AutoModelForCausalLM.from_pretrained(out, dtype=torch.float32, attn_implementation="eager").eval()
tdbref.write_smollm2_reference(back, os.path.join(out, "reference.safetensors"), fd=False)
print("wrote", out, sorted(os.listdir(out)))
