#!/usr/bin/env python3
"""Sweep benchmark (issue 4): a head-ablation sweep and a residual-stream
patching sweep, tdb against the same sweep in PyTorch + transformers (one
hooked forward pass per intervention, as TransformerLens' run_with_hooks
does), side by side on this machine with the same thread count.

    scripts/bench-sweep.sh            # creates the venv, then runs this
    python scripts/bench_sweep.py --tdb .build/release/tdb --repeat 7

tdb is timed inside one process with its own `time { ... } --repeat N`
(the median), twice: as shipped (runs resume from the base run's checkpoint)
and with TDB_SWEEP_REUSE=0 (every run whole). PyTorch is timed with
perf_counter around the same sweep, median of N. Prints a Markdown table.
"""
import argparse, json, os, statistics, subprocess, sys, time

import torch
from transformers import AutoTokenizer, GPT2LMHeadModel

CLEAN = "When Mary and John went to the store, John gave a drink to"
CORRUPT = "When Mary and John went to the store, Anna gave a drink to"
TARGET, DISTRACTOR = " Mary", " John"


def env(threads):
    e = dict(os.environ)
    for k in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
        e[k] = str(threads)
    return e


def tdb_median_ms(tdb, model, sweep, repeat, threads, reuse):
    metric = '{ |x| logitdiff x " Mary" " John" }'
    script = (
        f'let clean = run "{CLEAN}"; let corrupt = run "{CORRUPT}"; '
        f"(time {{ {sweep.format(metric=metric)} }} --repeat {repeat}) | select median_ms min_ms"
    )
    e = env(threads)
    e["TDB_SWEEP_REUSE"] = "1" if reuse else "0"
    out = subprocess.run([tdb, "--model", model, "-c", script, "--format", "json"], env=e,
                         capture_output=True, text=True, check=True).stdout
    rec = json.loads(out)
    rec = rec[0] if isinstance(rec, list) else rec
    return rec["median_ms"], rec["min_ms"]


def torch_sweeps(model_dir, repeat, threads):
    torch.set_num_threads(threads)
    tok = AutoTokenizer.from_pretrained(model_dir)
    model = GPT2LMHeadModel.from_pretrained(model_dir, dtype=torch.float32).eval()
    cfg = model.config
    L, H = cfg.n_layer, cfg.n_head
    D = cfg.n_embd // H
    clean = torch.tensor([tok(CLEAN).input_ids])
    corrupt = torch.tensor([tok(CORRUPT).input_ids])
    t_id, d_id = tok(TARGET).input_ids[0], tok(DISTRACTOR).input_ids[0]

    def logitdiff(ids):
        logits = model(ids).logits[0, -1]
        return (logits[t_id] - logits[d_id]).item()

    def ablate_heads():
        out = []
        for l in range(L):
            proj = model.transformer.h[l].attn.c_proj
            for h in range(H):
                def pre(_m, args, h=h):
                    z = args[0].clone()
                    z[:, -1, h * D:(h + 1) * D] = 0
                    return (z,)
                handle = proj.register_forward_pre_hook(pre)
                out.append(logitdiff(clean))
                handle.remove()
        return out

    def patch_resid():
        # The clean run's residual stream entering every block (hook_resid_pre).
        saved = {}
        hooks = [model.transformer.h[l].register_forward_pre_hook(
            lambda _m, args, l=l: saved.__setitem__(l, args[0].detach().clone()))
            for l in range(L)]
        model(clean)
        for h in hooks:
            h.remove()
        out = []
        for l in range(L):
            block = model.transformer.h[l]
            for t in range(corrupt.shape[1]):
                def pre(_m, args, kwargs, l=l, t=t):
                    x = args[0].clone()
                    x[:, t] = saved[l][:, t]
                    return (x,) + tuple(args[1:]), kwargs
                handle = block.register_forward_pre_hook(pre, with_kwargs=True)
                out.append(logitdiff(corrupt))
                handle.remove()
        return out

    results = {}
    with torch.no_grad():
        for name, fn in (("heads", ablate_heads), ("resid", patch_resid)):
            fn()  # warm up
            times = []
            for _ in range(repeat):
                start = time.perf_counter()
                n = len(fn())
                times.append((time.perf_counter() - start) * 1000)
            results[name] = (statistics.median(times), min(times), n)
    return results


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    repo = os.path.dirname(here)
    p = argparse.ArgumentParser()
    p.add_argument("--tdb", default=os.path.join(repo, ".build/release/tdb"))
    p.add_argument("--model", default=os.path.join(repo, "models/tdb-demo"))
    p.add_argument("--repeat", type=int, default=7)
    p.add_argument("--threads", type=int, default=os.cpu_count())
    a = p.parse_args()

    sweeps = {
        "heads": "sweep ablate clean --metric {metric} --over heads --pos -1",
        "resid": "sweep patch --clean clean --corrupt corrupt --metric {metric} --over resid",
    }
    titles = {
        "heads": "ablate each head at the last position",
        "resid": "patch resid_pre at each (layer, position)",
    }
    torch_results = torch_sweeps(a.model, a.repeat, a.threads)
    print(f"Sweeps on {os.path.basename(a.model.rstrip('/'))}, IOI prompt, {a.threads} threads, "
          f"median of {a.repeat} (min in brackets)\n")
    print("| sweep | runs | tdb | tdb, every run whole | PyTorch | tdb / PyTorch |")
    print("| --- | --- | --- | --- | --- | --- |")
    for name, sweep in sweeps.items():
        med, lo = tdb_median_ms(a.tdb, a.model, sweep, a.repeat, a.threads, reuse=True)
        wmed, wlo = tdb_median_ms(a.tdb, a.model, sweep, a.repeat, a.threads, reuse=False)
        tmed, tlo, n = torch_results[name]
        print(f"| {titles[name]} | {n} | {med:.0f} ms ({lo:.0f}) | {wmed:.0f} ms ({wlo:.0f}) "
              f"| {tmed:.0f} ms ({tlo:.0f}) | {med / tmed:.2f}x |")


if __name__ == "__main__":
    sys.exit(main())
