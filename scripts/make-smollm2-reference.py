#!/usr/bin/env python3
"""Reference values for SmolLM2-135M-Instruct (GGUF Q4_1, dequantized to fp32
by transformers' GGUF loader) -> Tests/Fixtures/smollm2/reference.safetensors.

    python scripts/make-smollm2-reference.py [OUT_FILE]

Keys: see Tests/Fixtures/smollm2/README.md.
"""

import os
import sys

import torch

torch.set_num_threads(1)
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import tdbref  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
out = sys.argv[1] if len(sys.argv) > 1 else os.path.join(ROOT, "Tests/Fixtures/smollm2/reference.safetensors")
os.makedirs(os.path.dirname(out), exist_ok=True)
model = tdbref.load_smollm2_gguf()
tdbref.write_smollm2_reference(model, out)
