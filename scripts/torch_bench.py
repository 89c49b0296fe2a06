"""PyTorch side of the warm measurements, in one process.

    python scripts/torch_bench.py --model DIR --ids-json FILE --threads N
        --forward 16:10,128:10,1024:5 --grad 128:10 [--attn sdpa|eager]

FILE holds {"ids": [...], "target": id, "distractor": id}; prompts are its
first n ids. Prints one JSON object on stdout:
{"forward": {"16": {median_ms, min_ms, max_ms, repeat, times_ms}, ...},
 "grad": {...}, "info": {...}}

Forward: model(input_ids) under torch.no_grad(), eager PyTorch (no compile).
Grad: matches tdb's `grad (run p) blocks.0.hook_resid_pre --target A
--distractor B`: the gradient of logits[-1, A] - logits[-1, B] with respect to
the residual stream entering block 0. Parameters are frozen (no weight
gradients); the block-0 input is made a leaf that requires grad.
"""

import argparse
import json
import statistics
import sys
import time


def parse_plan(s):
    plan = []
    for part in filter(None, s.split(",")):
        n, r = part.split(":")
        plan.append((int(n), int(r)))
    return plan


def summarize(times):
    ms = [t * 1000.0 for t in times]
    return {
        "median_ms": statistics.median(ms),
        "min_ms": min(ms),
        "max_ms": max(ms),
        "repeat": len(ms),
        "times_ms": ms,
    }


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", required=True)
    ap.add_argument("--ids-json", required=True)
    ap.add_argument("--threads", type=int, required=True)
    ap.add_argument("--forward", default="")
    ap.add_argument("--grad", default="")
    ap.add_argument("--warmup", type=int, default=2)
    ap.add_argument("--attn", default=None, help="attn_implementation (default: transformers' own)")
    args = ap.parse_args()

    t0 = time.perf_counter()
    import torch
    import transformers
    from transformers import GPT2LMHeadModel

    torch.set_num_threads(args.threads)
    kw = {"attn_implementation": args.attn} if args.attn else {}
    model = GPT2LMHeadModel.from_pretrained(args.model, dtype=torch.float32, **kw).eval()
    load_s = time.perf_counter() - t0

    with open(args.ids_json) as f:
        spec = json.load(f)
    all_ids = spec["ids"]

    out = {"forward": {}, "grad": {}}

    for n, repeat in parse_plan(args.forward):
        x = torch.tensor([all_ids[:n]], dtype=torch.long)
        assert x.shape[1] == n
        times = []
        with torch.no_grad():
            for i in range(args.warmup + repeat):
                t = time.perf_counter()
                logits = model(x).logits
                dt = time.perf_counter() - t
                if i >= args.warmup:
                    times.append(dt)
        rec = summarize(times)
        rec["top1_last"] = int(logits[0, -1].argmax())
        out["forward"][str(n)] = rec

    if args.grad:
        for p in model.parameters():
            p.requires_grad_(False)
        a, b = int(spec["target"]), int(spec["distractor"])
        leaf = {}

        def make_leaf(module, fargs, fkwargs):
            # Residual stream entering block 0 (hook_resid_pre) as a grad leaf.
            if fargs:
                h = fargs[0].detach().requires_grad_(True)
                leaf["x"] = h
                return (h,) + tuple(fargs[1:]), fkwargs
            h = fkwargs["hidden_states"].detach().requires_grad_(True)
            leaf["x"] = h
            return fargs, {**fkwargs, "hidden_states": h}

        handle = model.transformer.h[0].register_forward_pre_hook(make_leaf, with_kwargs=True)
        for n, repeat in parse_plan(args.grad):
            x = torch.tensor([all_ids[:n]], dtype=torch.long)
            times = []
            for i in range(args.warmup + repeat):
                t = time.perf_counter()
                # Only the last position's two logits are needed (as tdb does).
                hidden = model.transformer(x).last_hidden_state[0, -1]
                w = model.lm_head.weight
                diff = hidden @ (w[a] - w[b])
                diff.backward()
                g = leaf["x"].grad
                dt = time.perf_counter() - t
                if i >= args.warmup:
                    times.append(dt)
            rec = summarize(times)
            rec["logit_diff"] = float(diff)
            rec["grad_shape"] = list(g.shape[1:])
            rec["grad_norm"] = float(g.norm())
            out["grad"][str(n)] = rec
        handle.remove()

    out["info"] = {
        "torch": torch.__version__,
        "transformers": transformers.__version__,
        "threads": torch.get_num_threads(),
        "cpu_capability": torch.backends.cpu.get_cpu_capability(),
        "mkl": torch.backends.mkl.is_available(),
        "mkldnn": torch.backends.mkldnn.is_available(),
        "blas": blas_info(torch),
        "attn_implementation": getattr(model.config, "_attn_implementation", None),
        "load_s": load_s,
    }
    json.dump(out, sys.stdout)
    print()


def blas_info(torch):
    import re

    m = re.search(r"BLAS_INFO=([^,\s]+)", torch.__config__.show())
    return m.group(1) if m else None


if __name__ == "__main__":
    main()
