"""tdb vs PyTorch + transformers: measure, print a Markdown table, write JSON.

Run through scripts/bench.sh, which prepares the venv, the checkpoint and the
tdb binary. Direct use (inside scripts/.venv):

    python scripts/bench.py --tdb .build/release/tdb \
        --model scripts/out/gpt2-small-random --out scripts/out/bench.json [--quick]

The tdb commands are templates below (TDB_*), each overridable from the
command line (--tdb-forward, --tdb-grad, --tdb-predict, --tdb-warm-args,
--tdb-cold-args) so the harness follows tdb's interface as it settles.
"""

import argparse
import json
import os
import platform
import re
import resource
import shlex
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)

# --- tdb interface (adjust here or from the command line) -----------------
# Placeholders: {ids} a list literal "[464, 2068, ...]", {repeat} an int,
# {text} a quoted string literal, {target}/{distractor} quoted strings.
TDB_FORWARD = "time {{ run {ids} --nocache }} --repeat {repeat}"
TDB_GRAD = ("time {{ grad {ids} blocks.0.hook_resid_pre "
            "--target {target} --distractor {distractor} }} --repeat {repeat}")
TDB_PREDICT = "predict {text} --top 5"
# argv after the binary; {model} and {script} are filled in.
TDB_WARM_ARGS = "--model {model} --format json -c {script}"
TDB_COLD_ARGS = "--model {model} -c {script}"

# --- prompts ----------------------------------------------------------------
SENTENCE = "When Mary and John went to the store, John gave a drink to Mary. "
COLD_TEXT = "When Mary and John went to the store, John gave a bottle of milk to"  # 16 tokens
TARGET, DISTRACTOR = " Mary", " John"

# The cold PyTorch one-shot, run as `python -c CODE MODEL_DIR TEXT THREADS`:
# imports, checkpoint load, tokenizer, one forward, top 5 -- like tdb's predict.
PY_COLD = """\
import sys, torch
from transformers import AutoTokenizer, GPT2LMHeadModel
d, text, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
torch.set_num_threads(n)
tok = AutoTokenizer.from_pretrained(d)
model = GPT2LMHeadModel.from_pretrained(d, dtype=torch.float32).eval()
ids = tok(text).input_ids
with torch.no_grad():
    logits = model(torch.tensor([ids])).logits[0, -1]
top = torch.topk(logits, 5)
for v, i in zip(top.values.tolist(), top.indices.tolist()):
    print(f"{i}\\t{tok.decode([i])!r}\\t{v:.4f}")
"""

PLANS = {
    # forward sizes -> repeats; grad 128 repeats; cold wall runs; cold RSS runs
    "full": {"forward": {16: 20, 128: 10, 1024: 5}, "grad": {128: 10},
             "cold_runs": 5, "rss_runs": 3, "warmup": 2},
    "quick": {"forward": {16: 5, 128: 3, 1024: 2}, "grad": {128: 3},
              "cold_runs": 3, "rss_runs": 1, "warmup": 1},
}


def log(msg):
    print(f"bench: {msg}", file=sys.stderr, flush=True)


class TdbError(Exception):
    pass


# --- environments -----------------------------------------------------------
def tdb_env(threads):
    """tdb keeps the machine's environment (OPENBLAS_CORETYPE included) but
    the thread count."""
    env = dict(os.environ)
    env["OPENBLAS_NUM_THREADS"] = str(threads)
    env["OMP_NUM_THREADS"] = str(threads)
    return env


def torch_env(threads):
    """PyTorch: OPENBLAS_CORETYPE / OPENBLAS_L2_SIZE unset (they slow a current
    numpy/torch), same thread count."""
    env = dict(os.environ)
    env.pop("OPENBLAS_CORETYPE", None)
    env.pop("OPENBLAS_L2_SIZE", None)
    env["OPENBLAS_NUM_THREADS"] = str(threads)
    env["OMP_NUM_THREADS"] = str(threads)
    env["MKL_NUM_THREADS"] = str(threads)
    env["HF_HUB_OFFLINE"] = "1"
    env["TRANSFORMERS_OFFLINE"] = "1"
    env["HF_HUB_DISABLE_PROGRESS_BARS"] = "1"
    env["TRANSFORMERS_VERBOSITY"] = "error"
    env["TOKENIZERS_PARALLELISM"] = "false"
    return env


# --- tdb --------------------------------------------------------------------
def tdb_literal_ids(ids):
    return "[" + ", ".join(str(i) for i in ids) + "]"


def tdb_literal_str(s):
    return '"' + s.replace("\\", "\\\\").replace('"', '\\"') + '"'


def tdb_argv(binary, args_template, model, script):
    argv = [binary]
    for tok in shlex.split(args_template):
        argv.append(tok.replace("{model}", model).replace("{script}", script))
    return argv


def short(text, n=160):
    text = " ".join(text.strip().split())
    return text if len(text) <= n else text[: n - 3] + "..."


def run_tdb(argv, env, timeout):
    if not os.path.isfile(argv[0]):
        raise TdbError(f"binary not found at {display_path(argv[0])}")
    if not os.access(argv[0], os.X_OK):
        raise TdbError(f"{argv[0]} is not executable")
    try:
        p = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        raise TdbError(f"timed out after {timeout:.0f} s")
    except OSError as e:
        raise TdbError(str(e))
    if p.returncode != 0:
        msg = p.stderr.strip() or p.stdout.strip() or "(no output)"
        raise TdbError(f"exit {p.returncode}: {short(msg)}")
    return p.stdout


def find_time_record(obj):
    """The first dict with a median_ms key, depth first."""
    if isinstance(obj, dict):
        if "median_ms" in obj:
            return obj
        for v in obj.values():
            r = find_time_record(v)
            if r is not None:
                return r
    elif isinstance(obj, list):
        for v in obj:
            r = find_time_record(v)
            if r is not None:
                return r
    return None


def parse_time_record(stdout):
    """tdb --format json prints the record {median_ms, min_ms, max_ms, repeat,
    result}: as the whole output, one JSON value per line, or (fallback)
    median_ms: N in plain text."""
    candidates = [stdout] + stdout.strip().splitlines()[::-1]
    for c in candidates:
        try:
            rec = find_time_record(json.loads(c))
        except ValueError:
            continue
        if rec is not None:
            return rec
    m = re.search(r"median_ms\W*([0-9.]+(?:[eE][-+]?\d+)?)", stdout)
    if m:
        rec = {"median_ms": float(m.group(1))}
        for k in ("min_ms", "max_ms", "repeat"):
            mm = re.search(k + r"\W*([0-9.]+(?:[eE][-+]?\d+)?)", stdout)
            if mm:
                rec[k] = float(mm.group(1))
        return rec
    raise TdbError("no median_ms in output: " + short(stdout or "(empty)"))


def tdb_timed(args, script, threads):
    argv = tdb_argv(args.tdb, args.tdb_warm_args, args.model, script)
    out = run_tdb(argv, tdb_env(threads), args.timeout)
    rec = parse_time_record(out)
    rec = {k: rec[k] for k in ("median_ms", "min_ms", "max_ms", "repeat", "result") if k in rec}
    if "result" in rec:
        rec["result"] = short(json.dumps(rec["result"]), 400)
    for k in ("median_ms", "min_ms", "max_ms"):
        if k in rec:
            rec[k] = float(rec[k])
    return rec


# --- cold one-shot runs -------------------------------------------------------
# Peak RSS of a child needs a small parent: Linux carries the forking
# process's RSS high-water mark across exec, so a child forked from this
# Python (transformers loaded) would report hundreds of MiB before it starts.
# GNU time (Debian's `time`) forks from a tiny process; without it, a fresh
# `python -S` launcher (~10 MiB floor) does the same job.
RSS_LAUNCHER = """\
import os, sys
pid = os.fork()
if pid == 0:
    try:
        os.execvp(sys.argv[2], sys.argv[2:])
    finally:
        os._exit(127)
_, status, ru = os.wait4(pid, 0)
with open(sys.argv[1], "w") as f:
    f.write(str(ru.ru_maxrss))
sys.exit(os.waitstatus_to_exitcode(status))
"""


def rss_tool():
    gnu_time = "/usr/bin/time"
    if os.access(gnu_time, os.X_OK):
        try:
            p = subprocess.run([gnu_time, "-f", "%M", "true"], capture_output=True, text=True)
            if p.returncode == 0 and p.stderr.strip().isdigit():
                return "gnu-time"
        except OSError:
            pass
    return "python-launcher"


def run_rss(argv, env, timeout, tool):
    """Max RSS (KiB) of one run of argv, and its exit code."""
    with tempfile.NamedTemporaryFile("r", suffix=".rss") as f:
        if tool == "gnu-time":
            cmd = ["/usr/bin/time", "-f", "%M", "-o", f.name] + argv
        else:
            cmd = [sys.executable, "-S", "-c", RSS_LAUNCHER, f.name] + argv
        try:
            p = subprocess.run(cmd, env=env, capture_output=True, timeout=timeout)
        except subprocess.TimeoutExpired:
            raise TdbError(f"timed out after {timeout:.0f} s")
        text = f.read().strip().splitlines()
        rss = int(text[-1]) if text and text[-1].strip().isdigit() else None
    return rss, p.returncode


def run_timed(argv, env, timeout):
    t = time.perf_counter()
    try:
        p = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        raise TdbError(f"timed out after {timeout:.0f} s")
    except OSError as e:
        raise TdbError(str(e))
    return time.perf_counter() - t, p


def hyperfine_wall(argv, env, runs, timeout):
    exe = shutil.which("hyperfine")
    if not exe:
        return None
    with tempfile.NamedTemporaryFile(suffix=".json") as f:
        cmd = [exe, "-N", "--style", "none", "--runs", str(runs), "--export-json", f.name,
               shlex.join(argv)]
        try:
            p = subprocess.run(cmd, env=env, capture_output=True, text=True,
                               timeout=timeout * (runs + 1))
        except subprocess.TimeoutExpired:
            return None
        if p.returncode != 0:
            log(f"hyperfine failed ({short(p.stderr)}); using perf_counter")
            return None
        with open(f.name) as fh:
            r = json.load(fh)["results"][0]
    return {"median_s": r["median"], "min_s": r["min"], "max_s": r["max"],
            "runs": len(r["times"]), "times_s": r["times"], "timer": "hyperfine -N"}


def cold(argv, env, plan, timeout, is_tdb, check=None):
    """Wall time (median) and peak RSS of a whole one-shot process. The first
    run checks the exit code and output and warms the page cache."""
    fail = TdbError if is_tdb else RuntimeError
    _, p = run_timed(argv, env, timeout)
    if p.returncode != 0:
        msg = p.stderr.strip() or p.stdout.strip() or "(no output)"
        raise fail(f"exit {p.returncode}: {short(msg)}")
    if check is not None:
        problem = check(p.stdout)
        if problem:
            raise fail(problem)
    res = hyperfine_wall(argv, env, plan["cold_runs"], timeout)
    if res is None:
        w = []
        for _ in range(plan["cold_runs"]):
            wall, p = run_timed(argv, env, timeout)
            if p.returncode != 0:
                raise fail(f"exit {p.returncode}: {short(p.stderr or p.stdout)}")
            w.append(wall)
        res = {"median_s": statistics.median(w), "min_s": min(w), "max_s": max(w),
               "runs": len(w), "times_s": w, "timer": "perf_counter"}
    tool = rss_tool()
    rss = []
    for _ in range(max(plan["rss_runs"], 1)):
        kib, rc = run_rss(argv, env, timeout, tool)
        if rc != 0 or kib is None:
            raise fail(f"peak-RSS run failed (exit {rc})")
        rss.append(kib)
    res["max_rss_mib"] = statistics.median(rss) / 1024.0
    res["max_rss_runs_mib"] = [r / 1024.0 for r in rss]
    res["rss_tool"] = tool
    res["output"] = p.stdout.strip()[:2000]
    return res


def top5_check(torch_output):
    """A tdb predict output must look like a top-5 list: five or more lines,
    or mention PyTorch's top token (id or text) for the same checkpoint."""
    top_id, top_text = None, None
    if torch_output:
        first = torch_output.splitlines()[0].split("\t")
        top_id = first[0]
        if len(first) > 1:
            try:
                import ast

                top_text = ast.literal_eval(first[1]).strip() or None
            except (ValueError, SyntaxError):
                pass

    def check(out):
        lines = [l for l in out.splitlines() if l.strip()]
        if len(lines) >= 5:
            return None
        if top_id and re.search(r"\b" + re.escape(top_id) + r"\b", out):
            return None
        if top_text and top_text in out:
            return None
        return "output does not look like a top 5: " + short(out or "(empty)")

    return check


# --- machine ------------------------------------------------------------------
def cpu_busy_fraction(seconds=1.0):
    """Share of all CPUs busy over a short window (other processes' load)."""
    def read():
        with open("/proc/stat") as f:
            v = [int(x) for x in f.readline().split()[1:]]
        idle = v[3] + v[4]
        return idle, sum(v[:8])
    i0, t0 = read()
    time.sleep(seconds)
    i1, t1 = read()
    return 1.0 - (i1 - i0) / max(t1 - t0, 1)


class LoadMeter:
    """Other processes' CPU load over a phase: whole-machine busy time from
    /proc/stat minus the CPU time of our own (reaped) child processes."""

    HZ = os.sysconf("SC_CLK_TCK")

    @staticmethod
    def _stat():
        with open("/proc/stat") as f:
            v = [int(x) for x in f.readline().split()[1:]]
        return sum(v[:8]) - v[3] - v[4], sum(v[:8])

    def __enter__(self):
        self.busy0, self.total0 = self._stat()
        ru = resource.getrusage(resource.RUSAGE_CHILDREN)
        self.own0 = ru.ru_utime + ru.ru_stime
        return self

    def __exit__(self, *exc):
        busy, total = self._stat()
        ru = resource.getrusage(resource.RUSAGE_CHILDREN)
        own = ru.ru_utime + ru.ru_stime - self.own0
        ticks = max(total - self.total0, 1)
        other = (busy - self.busy0) / self.HZ - own
        self.other = max(0.0, min(1.0, other * self.HZ / ticks))
        return False


def openblas_info(tdb_binary, env):
    """Version and chosen kernel of the OpenBLAS tdb links, in tdb's env."""
    lib = None
    if os.path.isfile(tdb_binary):
        try:
            ldd = subprocess.run(["ldd", tdb_binary], capture_output=True, text=True).stdout
            m = re.search(r"(libopenblas[^\s]*)\s+=>\s+(\S+)", ldd)
            if m:
                lib = m.group(2)
        except OSError:
            pass
    lib = lib or "libopenblas.so.0"
    code = (
        "import ctypes, sys, json\n"
        "l = ctypes.CDLL(sys.argv[1])\n"
        "l.openblas_get_config.restype = ctypes.c_char_p\n"
        "l.openblas_get_corename.restype = ctypes.c_char_p\n"
        "print(json.dumps({'config': l.openblas_get_config().decode(),"
        " 'corename': l.openblas_get_corename().decode(),"
        " 'threads': l.openblas_get_num_threads()}))\n"
    )
    info = {"library": lib}
    try:
        p = subprocess.run([sys.executable, "-c", code, lib], env=env, capture_output=True,
                           text=True, timeout=30)
        info.update(json.loads(p.stdout))
        info["library"] = os.path.realpath(lib) if os.path.exists(lib) else lib
    except Exception as e:  # noqa: BLE001 - informational only
        info["error"] = short(str(e))
    try:
        v = subprocess.run(["dpkg-query", "-W", "-f", "${Version}", "libopenblas0"],
                           capture_output=True, text=True).stdout.strip()
        if v:
            info["debian_package"] = "libopenblas0 " + v
    except OSError:
        pass
    return info


def sgemm_ceiling(library, threads, size=2048):
    """GFLOP/s of a large square sgemm in the BLAS tdb links (scripts/bench-blas.c)."""
    binary = os.path.join(HERE, "out", "bench-blas")
    try:
        subprocess.run(["cc", "-O2", "-o", binary, os.path.join(HERE, "bench-blas.c"), "-ldl", "-lpthread"],
                       check=True, capture_output=True, text=True)
        p = subprocess.run([binary, library, "--square-only", "--threads", str(threads),
                            "--square", str(size), "--repeat", "5"],
                           check=True, capture_output=True, text=True, timeout=300)
        return float(p.stdout.split("\t")[-1])
    except (OSError, subprocess.SubprocessError, ValueError) as e:
        log(f"square sgemm not measured: {short(str(e))}")
        return None


def forward_gflop(model_dir, tokens):
    """Useful GFLOP of a GPT-2 forward: every matrix product and the causal
    half of attention's two products."""
    with open(os.path.join(model_dir, "config.json")) as f:
        c = json.load(f)
    d, layers, vocab = c["n_embd"], c["n_layer"], c["vocab_size"]
    block = d * 3 * d + d * d + 2 * d * 4 * d
    linear = 2 * tokens * (layers * block + d * vocab)
    attention = layers * 2 * 2 * d * tokens * (tokens + 1) / 2
    return (linear + attention) / 1e9


def machine_info(args, threads):
    cpu = "unknown"
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    info = {
        "cpu_model": cpu,
        "logical_cores": os.cpu_count(),
        "nproc": len(os.sched_getaffinity(0)),
        "kernel": platform.release(),
        "python": platform.python_version(),
        "threads": threads,
        "env": {k: os.environ.get(k) for k in ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE")},
    }
    try:
        import psutil

        info["physical_cores"] = psutil.cpu_count(logical=False)
        info["memory_gib"] = round(psutil.virtual_memory().total / 2**30, 1)
    except Exception:  # noqa: BLE001
        pass
    try:
        with open("/proc/cpuinfo") as f:
            flags = next((l for l in f if l.startswith("flags")), "").split()
        info["simd"] = [x for x in ("avx", "avx2", "fma", "avx512f", "avx512_bf16", "amx_tile")
                        if x in flags]
    except OSError:
        pass
    info["openblas_tdb"] = openblas_info(args.tdb, tdb_env(threads))
    try:
        info["swift"] = subprocess.run(["swift", "--version"], capture_output=True, text=True,
                                       timeout=60).stdout.strip().splitlines()[0]
    except Exception:  # noqa: BLE001
        pass
    try:
        info["git_commit"] = subprocess.run(["git", "-C", REPO, "rev-parse", "--short", "HEAD"],
                                            capture_output=True, text=True).stdout.strip()
    except OSError:
        pass
    return info


# --- prompts ------------------------------------------------------------------
def make_prompts(model_dir):
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(model_dir)
    ids = tok(SENTENCE * 200).input_ids[:1024]
    cold_ids = tok(COLD_TEXT).input_ids
    if len(cold_ids) != 16:
        log(f"warning: cold prompt is {len(cold_ids)} tokens, not 16")
    target = tok(TARGET).input_ids
    distractor = tok(DISTRACTOR).input_ids
    assert len(target) == 1 and len(distractor) == 1, (target, distractor)
    return {"ids": ids, "cold_ids": cold_ids, "target": target[0], "distractor": distractor[0]}


# --- report -------------------------------------------------------------------
def fmt_ms(v):
    if v >= 10000:
        return f"{v / 1000:.2f} s"
    return f"{v:.1f} ms" if v >= 10 else f"{v:.2f} ms"


def fmt(v, unit):
    if v is None:
        return "n/a"
    if unit == "ms":
        return fmt_ms(v)
    if unit == "s":
        return f"{v:.2f} s"
    if unit == "MiB":
        return f"{v:.0f} MiB"
    return f"{v:g} {unit}"


def display_path(path):
    rel = os.path.relpath(path, REPO)
    return path if rel.startswith("..") else rel


def ceiling_line(rows, settings):
    """How close a whole 1024-token forward comes to the BLAS's own ceiling."""
    c = settings.get("ceiling") or {}
    r = next((r for r in rows if r["key"] == "forward_1024"), None)
    if not c.get("square_gflops") or not r:
        return []
    parts = []
    for side in ("tdb", "torch"):
        ms = r.get(f"{side}_value")
        if ms:
            rate = c["forward_gflop"] / (ms / 1e3)
            parts.append(f"{'tdb' if side == 'tdb' else 'PyTorch'} {rate:.0f} GFLOP/s "
                         f"({rate / c['square_gflops'] * 100:.0f}%)")
    return ["", f"Against the machine's limit: a 1024-token forward does {c['forward_gflop']:.0f} GFLOP "
            f"(matrix products and the causal half of attention); {', '.join(parts)} of the "
            f"{c['square_gflops']:.0f} GFLOP/s that tdb's OpenBLAS reaches on a "
            f"{c['size']}x{c['size']} sgemm in the same run."]


def report(rows, machine, torch_info, settings):
    m = machine
    ob = m.get("openblas_tdb", {})
    env = m["env"]
    env_txt = ", ".join(f"{k}={v}" for k, v in env.items() if v is not None) or "none set"
    lines = [
        f"## tdb vs PyTorch: GPT-2 small (random weights, fp32), {m['threads']} threads",
        "",
        f"- Machine: {m['cpu_model']}, {m['nproc']} cores"
        + (f" ({m.get('physical_cores')} physical)" if m.get("physical_cores") else "")
        + (f", {m['memory_gib']} GiB" if m.get("memory_gib") else "")
        + (f", SIMD {'/'.join(m['simd'])}" if m.get("simd") else "")
        + f", Linux {m['kernel']}",
        f"- tdb: `{display_path(settings['tdb'])}`"
        + (f" at {m['git_commit']}" if m.get("git_commit") else "")
        + f"; {ob.get('config', 'OpenBLAS ?')} (kernel {ob.get('corename', '?')})"
        + (f", {ob['debian_package']}" if ob.get("debian_package") else "")
        + f"; env: {env_txt}",
        f"- PyTorch {torch_info.get('torch', '?')}, transformers {torch_info.get('transformers', '?')}: "
        f"BLAS {torch_info.get('blas', '?')}, CPU kernels {torch_info.get('cpu_capability', '?')}, "
        f"attention `{torch_info.get('attn_implementation', '?')}`, eager (no compile); "
        "OPENBLAS_CORETYPE/OPENBLAS_L2_SIZE unset for this side",
        f"- Other load on the machine at start: {settings['busy_at_start'] * 100:.0f}% of all CPUs"
        + ("  **(busy: numbers are noisy)**" if settings["busy_at_start"] > 0.15 else ""),
        "",
        "| measurement | tdb | PyTorch | ratio (tdb / PyTorch) | other load (tdb / PyTorch) |",
        "| --- | --- | --- | --- | --- |",
    ]
    for r in rows:
        t = r.get("tdb_value")
        p = r.get("torch_value")
        tdb_cell = fmt(t, r["unit"]) if r.get("tdb_error") is None else \
            "n/a (tdb: " + r["tdb_error"].replace("|", "\\|") + ")"
        torch_cell = fmt(p, r["unit"]) if r.get("torch_error") is None else \
            "n/a (" + r["torch_error"].replace("|", "\\|") + ")"
        if r.get("ratio") is not None:
            ratio = f"{r['ratio']:.2f}x"
        else:
            ratio = f"{t / p:.2f}x" if t is not None and p else "n/a"
        load = " / ".join("-" if r.get(k) is None else f"{r[k] * 100:.0f}%"
                          for k in ("tdb_other_load", "torch_other_load"))
        lines.append(f"| {r['name']} | {tdb_cell} | {torch_cell} | {ratio} | {load} |")
    lines += [
        "",
        "Warm rows: median per call inside one process (PyTorch after "
        f"{settings['warmup']} warm-up calls)"
        + (f"; with {settings['rounds']} rounds, the median over rounds (the sides alternate who goes "
           "first) and the median of the per-round ratios" if settings["rounds"] > 1 else "")
        + ". Cold rows: a whole process that loads the "
        "checkpoint, runs a 16-token prompt and prints the top 5 (PyTorch: `python -c` incl. "
        "imports); peak RSS (max resident set) of that process from GNU time. Ratio > 1: tdb slower / larger. "
        "Other load: share of all CPUs used by processes outside the benchmark during that "
        "measurement (this machine may be shared); above ~10% the numbers are noisy.",
    ] + ceiling_line(rows, settings)
    return "\n".join(lines)


def print_commands(args, plan, threads):
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    prompts = make_prompts(args.model)
    ids = prompts["ids"]
    env = f"OPENBLAS_NUM_THREADS={threads} OMP_NUM_THREADS={threads}"
    scripts = [args.tdb_forward.format(ids=tdb_literal_ids(ids[:n]), repeat=r)
               for n, r in plan["forward"].items()]
    scripts += [args.tdb_grad.format(ids=tdb_literal_ids(ids[:n]), repeat=r,
                                     target=tdb_literal_str(TARGET),
                                     distractor=tdb_literal_str(DISTRACTOR))
                for n, r in plan["grad"].items()]
    for s in scripts:
        print(env, shlex.join(tdb_argv(args.tdb, args.tdb_warm_args, args.model, s)))
    s = args.tdb_predict.format(text=tdb_literal_str(COLD_TEXT))
    print(env, shlex.join(tdb_argv(args.tdb, args.tdb_cold_args, args.model, s)))


# --- main ---------------------------------------------------------------------
def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--tdb", default=os.path.join(REPO, ".build", "release", "tdb"))
    ap.add_argument("--model", default=os.path.join(HERE, "out", "gpt2-small-random"))
    ap.add_argument("--out", default=os.path.join(HERE, "out", "bench.json"))
    ap.add_argument("--quick", action="store_true", help="fewer repeats")
    ap.add_argument("--rounds", type=int, default=1,
                    help="measure the warm rows this many times, the sides alternating who goes first; "
                         "values are medians over rounds, a ratio the median of per-round ratios")
    ap.add_argument("--threads", type=int, default=int(os.environ.get("BENCH_THREADS", 0) or 0)
                    or len(os.sched_getaffinity(0)))
    ap.add_argument("--skip", action="append", default=[], choices=["tdb", "torch", "cold"],
                    help="leave out one side, or the cold rows")
    ap.add_argument("--attn", default=None, help="PyTorch attn_implementation (default: transformers')")
    ap.add_argument("--timeout", type=float, default=600.0, help="per tdb command, seconds")
    ap.add_argument("--tdb-forward", default=TDB_FORWARD)
    ap.add_argument("--tdb-grad", default=TDB_GRAD)
    ap.add_argument("--tdb-predict", default=TDB_PREDICT)
    ap.add_argument("--tdb-warm-args", default=TDB_WARM_ARGS)
    ap.add_argument("--tdb-cold-args", default=TDB_COLD_ARGS)
    ap.add_argument("--print-commands", action="store_true",
                    help="print the tdb command lines (shell-quoted) and exit")
    args = ap.parse_args()
    args.tdb = os.path.abspath(args.tdb)
    args.model = os.path.abspath(args.model)

    plan = PLANS["quick" if args.quick else "full"]
    threads = args.threads
    if args.print_commands:
        print_commands(args, plan, threads)
        return
    started = time.time()
    busy = cpu_busy_fraction()
    if busy > 0.15:
        log(f"warning: {busy * 100:.0f}% of the CPUs are busy with other work; numbers will be noisy")

    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
    prompts = make_prompts(args.model)
    machine = machine_info(args, threads)
    ids = prompts["ids"]

    rows = []

    def row(key, name, unit):
        r = {"key": key, "name": name, "unit": unit, "tdb_value": None, "tdb_error": None,
             "torch_value": None, "torch_error": None}
        rows.append(r)
        return r

    rounds = f", {args.rounds} rounds" if args.rounds > 1 else ""
    fwd_rows = {n: row(f"forward_{n}", f"forward, {n} tokens (warm, median of {rep}{rounds})", "ms")
                for n, rep in plan["forward"].items()}
    grad_rows = {n: row(f"grad_{n}", f"forward + backward of logit diff, {n} tokens "
                                     f"(warm, median of {rep}{rounds})", "ms")
                 for n, rep in plan["grad"].items()}
    cold_row = row("cold_wall", f"cold one-shot predict, 16 tokens, top 5 (wall, median of "
                                f"{plan['cold_runs']})", "s")
    rss_row = row("cold_rss", "cold one-shot predict: peak RSS", "MiB")
    if "cold" in args.skip:
        rows.remove(cold_row)
        rows.remove(rss_row)

    # -- warm rows: PyTorch (one process) and tdb (one process per row), in rounds --
    # Each round measures both sides back to back, the side that goes first
    # alternating, so a host that speeds up or slows down during the run moves
    # both; a row's ratio is the median of its per-round ratios.
    warm_rows = list(fwd_rows.values()) + list(grad_rows.values())
    for r in warm_rows:
        r["tdb_rounds"], r["torch_rounds"] = [], []
    torch_info = {}

    def torch_round():
        nonlocal torch_info
        with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as f:
            json.dump({"ids": ids, "target": prompts["target"],
                       "distractor": prompts["distractor"]}, f)
            ids_file = f.name
        cmd = [sys.executable, os.path.join(HERE, "torch_bench.py"), "--model", args.model,
               "--ids-json", ids_file, "--threads", str(threads),
               "--warmup", str(plan["warmup"]),
               "--forward", ",".join(f"{n}:{r}" for n, r in plan["forward"].items()),
               "--grad", ",".join(f"{n}:{r}" for n, r in plan["grad"].items())]
        if args.attn:
            cmd += ["--attn", args.attn]
        log("PyTorch warm: " + " ".join(f"{n}:{r}" for n, r in plan["forward"].items())
            + " + grad")
        with LoadMeter() as lm:
            p = subprocess.run(cmd, env=torch_env(threads), capture_output=True, text=True)
        os.unlink(ids_file)
        for r in warm_rows:
            r["torch_other_load"] = max(lm.other, r.get("torch_other_load") or 0)
        if p.returncode != 0:
            err = short(p.stderr.strip().splitlines()[-1] if p.stderr.strip() else "failed")
            for r in warm_rows:
                r["torch_error"] = "PyTorch: " + err
            log("PyTorch warm failed:\n" + p.stderr)
            return
        res = json.loads(p.stdout.strip().splitlines()[-1])
        torch_info = res["info"]
        for kind, group in (("forward", fwd_rows), ("grad", grad_rows)):
            for n, r in group.items():
                r["torch"] = res[kind][str(n)]
                r["torch_rounds"].append(r["torch"]["median_ms"])

    def tdb_round():
        for kind, group in (("forward", fwd_rows), ("grad", grad_rows)):
            for n, r in group.items():
                if kind == "forward":
                    script = args.tdb_forward.format(ids=tdb_literal_ids(ids[:n]),
                                                     repeat=plan["forward"][n])
                else:
                    script = args.tdb_grad.format(ids=tdb_literal_ids(ids[:n]), repeat=plan["grad"][n],
                                                  target=tdb_literal_str(TARGET),
                                                  distractor=tdb_literal_str(DISTRACTOR))
                r["tdb_command"] = short(script, 200)
                log(f"tdb warm {kind} {n}")
                try:
                    with LoadMeter() as lm:
                        r["tdb"] = tdb_timed(args, script, threads)
                    r["tdb_rounds"].append(r["tdb"]["median_ms"])
                    r["tdb_other_load"] = max(lm.other, r.get("tdb_other_load") or 0)
                except TdbError as e:
                    r["tdb_error"] = str(e)

    sides = [s for s, name in ((torch_round, "torch"), (tdb_round, "tdb")) if name not in args.skip]
    for k in range(args.rounds):
        if args.rounds > 1:
            log(f"round {k + 1} of {args.rounds}")
        for side in (sides if k % 2 == 0 else sides[::-1]):
            side()
    for r in warm_rows:
        if r["tdb_rounds"] and r["tdb_error"] is None:
            r["tdb_value"] = statistics.median(r["tdb_rounds"])
        if r["torch_rounds"] and r["torch_error"] is None:
            r["torch_value"] = statistics.median(r["torch_rounds"])
        pairs = list(zip(r["tdb_rounds"], r["torch_rounds"]))
        if len(pairs) > 1 and len(pairs) == args.rounds:
            r["ratio"] = statistics.median(t / p for t, p in pairs)
    if "tdb" in args.skip:
        for r in warm_rows:
            r["tdb_error"] = "skipped"

    # -- cold one-shot --
    if "cold" not in args.skip:
        if "torch" not in args.skip:
            argv = [sys.executable, "-c", PY_COLD, args.model, COLD_TEXT, str(threads)]
            log("PyTorch cold one-shot")
            try:
                with LoadMeter() as lm:
                    c = cold(argv, torch_env(threads), plan, args.timeout, is_tdb=False)
                cold_row["torch_other_load"] = rss_row["torch_other_load"] = lm.other
                cold_row["torch"] = c
                cold_row["torch_value"] = c["median_s"]
                rss_row["torch_value"] = c["max_rss_mib"]
            except Exception as e:  # noqa: BLE001
                cold_row["torch_error"] = rss_row["torch_error"] = "PyTorch: " + short(str(e))
        if "tdb" not in args.skip:
            script = args.tdb_predict.format(text=tdb_literal_str(COLD_TEXT))
            argv = tdb_argv(args.tdb, args.tdb_cold_args, args.model, script)
            cold_row["tdb_command"] = script
            log("tdb cold one-shot")
            try:
                if not os.path.isfile(args.tdb):
                    raise TdbError(f"binary not found at {display_path(args.tdb)}")
                with LoadMeter() as lm:
                    c = cold(argv, tdb_env(threads), plan, args.timeout, is_tdb=True,
                             check=top5_check(cold_row.get("torch", {}).get("output")))
                cold_row["tdb_other_load"] = rss_row["tdb_other_load"] = lm.other
                cold_row["tdb"] = c
                cold_row["tdb_value"] = c["median_s"]
                rss_row["tdb_value"] = c["max_rss_mib"]
            except TdbError as e:
                cold_row["tdb_error"] = rss_row["tdb_error"] = str(e)
        else:
            cold_row["tdb_error"] = rss_row["tdb_error"] = "skipped"

    for r in rows:
        if r["torch_value"] is None and r["torch_error"] is None:
            r["torch_error"] = "skipped"

    settings = {
        "mode": "quick" if args.quick else "full",
        "rounds": args.rounds,
        "plan": {k: (v if not isinstance(v, dict) else {str(a): b for a, b in v.items()})
                 for k, v in plan.items()},
        "warmup": plan["warmup"],
        "tdb": args.tdb,
        "model": args.model,
        "busy_at_start": busy,
        "tdb_commands": {
            "warm_argv": [args.tdb] + shlex.split(args.tdb_warm_args),
            "cold_argv": [args.tdb] + shlex.split(args.tdb_cold_args),
            "forward": args.tdb_forward, "grad": args.tdb_grad, "predict": args.tdb_predict,
        },
        "pytorch_cold_code": PY_COLD,
        "prompts": {"sentence": SENTENCE, "cold_text": COLD_TEXT, "cold_ids": prompts["cold_ids"],
                    "target": [TARGET, prompts["target"]],
                    "distractor": [DISTRACTOR, prompts["distractor"]],
                    "ids_1024": ids},
        "elapsed_s": None,
    }
    if "tdb" not in args.skip:
        log("square sgemm in tdb's OpenBLAS (the ceiling)")
        settings["ceiling"] = {"size": 2048, "forward_gflop": forward_gflop(args.model, 1024),
                               "square_gflops": sgemm_ceiling(machine["openblas_tdb"]["library"], threads)}
    settings["elapsed_s"] = round(time.time() - started, 1)
    machine["torch"] = torch_info
    table = report(rows, machine, torch_info, settings)
    print(table)
    os.makedirs(os.path.dirname(args.out), exist_ok=True)
    with open(args.out, "w") as f:
        json.dump({"machine": machine, "settings": settings, "results": rows,
                   "markdown": table}, f, indent=1)
    log(f"wrote {args.out} ({settings['elapsed_s']} s)")


if __name__ == "__main__":
    main()
