#!/usr/bin/env python3
"""A model in fp32, tdb against PyTorch + transformers, side by side: a
built-in GGUF model (SmolLM2-135M-Instruct, Gemma 3 270M) or a Hugging Face
folder (e.g. the random-weight Pythia-160M of make-random-pythia160m.py).

    python3 scripts/bench-models.py [--model smollm2|gemma3-270m|FOLDER] [--threads 2] [--repeat 7]

Needs torch, transformers, gguf and accelerate (pip install them; not needed
by tdb or its tests) and the models from scripts/setup.sh. Both sides run the
same random token ids with the same thread count; PyTorch uses its fastest
attention (sdpa) and computes every position's logits, as `run` does; the
gradient rows (`--grad`) time the forward and backward passes of a logit
difference at the last position with respect to the residual stream entering
block 0, as scripts/bench.sh's GPT-2 row does. Prints a Markdown table of
medians with the machine's load average.
"""
import argparse, json, os, random, statistics, subprocess, sys, time

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
MODELS = {  # built-in name -> (GGUF file, display name, vocabulary size)
    "smollm2": ("models/smollm2-135m/SmolLM2-135M-Instruct.Q4_1.gguf", "SmolLM2-135M", 49152),
    "gemma3-270m": ("models/gemma3-270m/gemma-3-270m-q4_k_m.gguf", "Gemma 3 270M", 262144),
}
TDB = os.environ.get("TDB", os.path.join(REPO, ".build/release/tdb"))
MODEL = "smollm2"


TDB_PEAK_KIB = 0  # the largest peak RSS of a tdb process, from GNU time


def tdb_median_ms(script, threads):
    """Runs a tdb script whose last value is a `time` record; its median, in ms."""
    global TDB_PEAK_KIB
    env = dict(os.environ, TDB_THREADS=str(threads), OPENBLAS_NUM_THREADS=str(threads))
    r = subprocess.run(["/usr/bin/time", "-f", "%M", TDB, "--model", MODEL, "--format", "json", "-c", script],
                       env=env, capture_output=True, text=True, check=True)
    TDB_PEAK_KIB = max(TDB_PEAK_KIB, int(r.stderr.strip().splitlines()[-1]))
    return json.loads(r.stdout.strip().splitlines()[-1])["median_ms"]


def tdb_forward_ms(ids, repeat, threads):
    # One run first, as PyTorch gets a warm-up run: the first pass of a
    # process touches its buffers for the first time.
    run = f"run {json.dumps(ids)} --nocache"
    return tdb_median_ms(f"let warm = ({run}).tokens; time {{ {run} }} --repeat {repeat} | select median_ms", threads)


def tdb_grad_ms(ids, target, distractor, repeat, threads):
    grad = f"grad {json.dumps(ids)} blocks.0.hook_resid_pre --target {target} --distractor {distractor}"
    return tdb_median_ms(f"let warm = ({grad}).shape; time {{ {grad} }} --repeat {repeat} | select median_ms", threads)


def torch_grad_ms(model, ids, target, distractor, repeat):
    """Forward and backward of logits[-1, target] - logits[-1, distractor] with
    respect to the hidden states entering the first block, weights frozen; only
    the last position's two logits are computed (as tdb does)."""
    import torch
    for p in model.parameters():
        p.requires_grad_(False)
    leaf = {}

    def make_leaf(module, fargs, fkwargs):
        if fargs:
            h = fargs[0].detach().requires_grad_(True)
            leaf["x"] = h
            return (h,) + tuple(fargs[1:]), fkwargs
        h = fkwargs["hidden_states"].detach().requires_grad_(True)
        leaf["x"] = h
        return fargs, {**fkwargs, "hidden_states": h}

    base = model.base_model  # LlamaModel, GPTNeoXModel, Gemma3TextModel: .layers, .last_hidden_state
    handle = base.layers[0].register_forward_pre_hook(make_leaf, with_kwargs=True)
    x = torch.tensor([ids])
    w = model.get_output_embeddings().weight
    times = []
    for i in range(repeat + 1):  # the first is the warm-up
        t = time.perf_counter()
        hidden = base(x).last_hidden_state[0, -1]
        diff = hidden @ (w[target] - w[distractor])
        diff.backward()
        assert leaf["x"].grad is not None
        if i:
            times.append((time.perf_counter() - t) * 1000)
    handle.remove()
    return statistics.median(times)


def tdb_cold_s(repeat, threads):
    env = dict(os.environ, TDB_THREADS=str(threads), OPENBLAS_NUM_THREADS=str(threads))
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        subprocess.run([TDB, "--model", MODEL, "-c", 'predict "The Eiffel Tower is in the city of" --top 1'],
                       env=env, capture_output=True, check=True)
        times.append(time.perf_counter() - t)
    return statistics.median(times)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--threads", type=int, default=os.cpu_count())
    ap.add_argument("--repeat", type=int, default=7)
    ap.add_argument("--lengths", default="16,128,1024")
    ap.add_argument("--grad", default="128", help="prompt lengths of the gradient rows (empty: none)")
    ap.add_argument("--model", default="smollm2", help="smollm2, gemma3-270m or a Hugging Face folder")
    a = ap.parse_args()
    global MODEL
    MODEL = a.model
    import torch
    from transformers import AutoModelForCausalLM
    torch.set_num_threads(a.threads)
    t0 = time.perf_counter()
    if a.model in MODELS:
        path, display, vocab = MODELS[a.model]
        GGUF = os.path.join(REPO, path)
        model = AutoModelForCausalLM.from_pretrained(os.path.dirname(GGUF), gguf_file=os.path.basename(GGUF),
                                                     dtype=torch.float32, attn_implementation="sdpa").eval()
    else:
        model = AutoModelForCausalLM.from_pretrained(a.model, dtype=torch.float32, attn_implementation="sdpa").eval()
        display = os.path.basename(os.path.normpath(a.model))
        # Token ids the folder's tokenizer can make (a random-weight model may carry a smaller tokenizer).
        tokenizer = json.load(open(os.path.join(a.model, "tokenizer.json")))
        vocab = min(model.config.vocab_size, len(tokenizer["model"]["vocab"]))
    torch_load = time.perf_counter() - t0
    rng = random.Random(0)
    rows = []
    for T in [int(x) for x in a.lengths.split(",")]:
        ids = [rng.randrange(vocab) for _ in range(T)]
        x = torch.tensor([ids])
        with torch.inference_mode():
            model(x)  # warm-up
            times = []
            for _ in range(a.repeat):
                t = time.perf_counter()
                model(x)
                times.append((time.perf_counter() - t) * 1000)
        torch_ms = statistics.median(times)
        tdb_ms = tdb_forward_ms(ids, a.repeat, a.threads)
        rows.append((f"forward {T} tokens", tdb_ms, torch_ms))
    for T in [int(x) for x in a.grad.split(",") if x]:
        ids = [rng.randrange(vocab) for _ in range(T)]
        target, distractor = rng.randrange(vocab), rng.randrange(vocab)
        torch_ms = torch_grad_ms(model, ids, target, distractor, a.repeat)
        tdb_ms = tdb_grad_ms(ids, target, distractor, a.repeat, a.threads)
        rows.append((f"forward + backward of logit diff, {T} tokens", tdb_ms, torch_ms))
    cold = tdb_cold_s(3, a.threads)
    import resource
    # Peak resident memory: the largest tdb process (each loads the model and runs one length)
    # against this Python process, which holds the PyTorch model and ran every length.
    tdb_rss = TDB_PEAK_KIB / 1024
    torch_rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"{display} fp32, {a.threads} threads, median of {a.repeat}; load average {os.getloadavg()[0]:.2f}")
    print("| | tdb | PyTorch + transformers | ratio |")
    print("|---|---|---|---|")
    for name, t, p in rows:
        print(f"| {name} | {t:.0f} ms | {p:.0f} ms | {t / p:.2f}x |")
    print(f"| peak RSS | {tdb_rss:.0f} MiB | {torch_rss:.0f} MiB | {tdb_rss / torch_rss:.2f}x |")
    print(f"| cold one-shot predict (process start to answer) | {cold:.2f} s | "
          f"{torch_load:.1f} s (loading alone) | |")


if __name__ == "__main__":
    sys.exit(main())
