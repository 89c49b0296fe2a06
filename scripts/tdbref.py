"""Reference hook values and gradients from Hugging Face transformers models,
named as TransformerLens names them. Shared by make-tiny-models.py,
make-smollm2-reference.py and smollm2-to-hf-folder.py.

How values are captured:
  * attention: a custom function registered with transformers'
    AttentionInterface ("tdbref"); it records hook_rot_q / hook_rot_k (GPT-2:
    hook_q / hook_k / hook_v), hook_attn_scores (q.k * scaling, masked = -inf)
    and hook_pattern, and computes exactly what eager attention computes
    (checked: identical logits).
  * norms: the model's input_layernorm / post_attention_layernorm / final norm
    (GPT-2: ln_1 / ln_2 / ln_f) are wrapped; the wrapper records the residual
    stream going in (hook_resid_pre / hook_resid_mid / hook_resid_post),
    hook_scale (RMSNorm sqrt(mean(x^2)+eps), LayerNorm sqrt(var+eps)) and
    hook_normalized (the norm's output, weight and bias included). The value
    returned is bit-identical to the original module's; gradients flow
    through an explicit x / scale * w (+ b) so that hook_scale is a node of
    the graph (TransformerLens' convention for its gradient).
  * everything else: forward (pre-)hooks on the projections. GPT-NeoX's fused
    query_key_value output is recorded as three views (hook_q, hook_k,
    hook_v), one per part of each head's (q, k, v) block; with
    use_parallel_residual there is no hook_resid_mid.
Each recorded tensor has retain_grad(), so one backward pass gives the
gradient of the metric at every hook.
"""

import copy
import math

import torch
import torch.nn as nn
from transformers import AttentionInterface
from transformers.models.llama.modeling_llama import repeat_kv


class Recorder:
    def __init__(self):
        self.vals = {}  # name -> (tensor in the graph, layout fn)
        self.perturb = {}  # name -> (index into the TL layout, delta)
        self.ablate = None  # (layer, head, pos): zero hook_z there
        self.exact = True  # norms return the original module's value
        self.is_gpt2 = False

    def reset(self):
        self.vals = {}

    def rec(self, name, t, lay=lambda t: t[0]):
        if name in self.perturb:
            # In place (finite differences run without grad), so that every
            # user of the tensor sees it, e.g. the residual connection.
            idx, d = self.perturb[name]
            assert not torch.is_grad_enabled()
            lay(t)[idx] += d
        if t.requires_grad:
            t.retain_grad()
        self.vals[name] = (t, lay)
        return t

    def values(self):
        return {n: lay(t).detach().clone() for n, (t, lay) in self.vals.items()}

    def grads(self):
        out = {}
        for n, (t, lay) in self.vals.items():
            if t.grad is not None:
                out[n] = lay(t.grad).detach().clone()
        return out


R = Recorder()


def tdbref_attention(module, query, key, value, attention_mask, scaling=None, dropout=0.0, softcap=None,
                     sliding_window=None, **kwargs):
    L = module.layer_idx
    p = f"blocks.{L}.attn."
    B, H, T, D = query.shape
    tl = lambda t: t[0].transpose(0, 1)  # [1, H, T, D] -> [T, H, D]
    if R.is_gpt2:
        query = R.rec(p + "hook_q", query, tl)
        key = R.rec(p + "hook_k", key, tl)
        value = R.rec(p + "hook_v", value, tl)
    else:
        query = R.rec(p + "hook_rot_q", query, tl)
        key = R.rec(p + "hook_rot_k", key, tl)
    if scaling is None:
        scaling = D ** -0.5
    n_rep = H // key.shape[1]
    k = repeat_kv(key, n_rep)
    v = repeat_kv(value, n_rep)
    scores = torch.matmul(query, k.transpose(2, 3)) * scaling
    if softcap is not None:  # Gemma 2: before the mask, as eager attention does
        scores = torch.tanh(scores / softcap) * softcap
    S = k.shape[2]
    causal = torch.ones(T, S, dtype=torch.bool, device=query.device).tril(S - T)
    if sliding_window is not None:  # key j visible from query i iff j > i - window (masking_utils)
        causal &= ~torch.ones(T, S, dtype=torch.bool, device=query.device).tril(S - T - sliding_window)
    scores = scores.masked_fill(~causal, float("-inf"))
    scores = R.rec(p + "hook_attn_scores", scores)
    sdt = torch.float64 if query.dtype == torch.float64 else torch.float32  # (fp64 only for finite differences)
    pattern = nn.functional.softmax(scores, dim=-1, dtype=sdt).to(query.dtype)
    pattern = R.rec(p + "hook_pattern", pattern)
    out = torch.matmul(pattern, v)
    out = out.transpose(1, 2).contiguous()
    return out, pattern


AttentionInterface.register("tdbref", tdbref_attention)


class NormWrap(nn.Module):
    """Wraps an RMSNorm (weight, variance_epsilon) or nn.LayerNorm."""

    def __init__(self, orig, prefix, resid_names, also=None):
        super().__init__()
        self.orig = orig
        self.prefix = prefix
        self.resid_names = resid_names
        self.also = also  # another name for the output (Gemma's post-norms: hook_attn_out, hook_mlp_out)
        self.is_ln = isinstance(orig, nn.LayerNorm)
        # Gemma's RMSNorm multiplies by (1 + weight) and names its epsilon eps.
        self.is_gemma = type(orig).__name__.startswith("Gemma")

    def forward(self, x):
        for n in self.resid_names:
            x = R.rec(n, x)
        exact = self.orig(x)
        o = self.orig
        if self.is_ln:
            mean = x.mean(-1, keepdim=True)
            xc = x - mean
            scale = torch.sqrt((xc * xc).mean(-1, keepdim=True) + o.eps)
            scale = R.rec(self.prefix + ".hook_scale", scale)
            manual = xc / scale * o.weight + o.bias
        elif self.is_gemma:
            xf = x.to(torch.float32) if x.dtype != torch.float64 else x
            scale = torch.sqrt(xf.pow(2).mean(-1, keepdim=True) + o.eps)
            scale = R.rec(self.prefix + ".hook_scale", scale)
            manual = ((xf / scale) * (1.0 + o.weight.to(xf.dtype))).to(x.dtype)
        else:
            xf = x.to(torch.float32) if x.dtype != torch.float64 else x
            scale = torch.sqrt(xf.pow(2).mean(-1, keepdim=True) + o.variance_epsilon)
            scale = R.rec(self.prefix + ".hook_scale", scale)
            manual = o.weight * (xf / scale).to(x.dtype)
        if R.exact:
            out = exact.detach() + (manual - manual.detach())
        else:
            out = manual
        out = R.rec(self.prefix + ".hook_normalized", out)
        if self.also:
            out = R.rec(self.also, out)
        return out


def _leaf(name):
    def hook(mod, args, out):
        if torch.is_grad_enabled():
            out = out.detach().requires_grad_(True)
        return R.rec(name, out)

    return hook


def _fwd(name, lay=lambda t: t[0]):
    def hook(mod, args, out):
        return R.rec(name, out, lay)

    return hook


def _pre(name, lay=lambda t: t[0], layer=None, head_dim=None):
    def hook(mod, args):
        x = args[0]
        if layer is not None and R.ablate is not None and R.ablate[0] == layer:
            _, h, pos = R.ablate
            x = x.clone()
            x[0, pos, h * head_dim:(h + 1) * head_dim] = 0
        x = R.rec(name, x, lay)
        return (x,) + tuple(args[1:])

    return hook


def attach(model):
    """Install the hooks and norm wrappers; switch attention to tdbref."""
    cfg = model.config
    model.set_attn_implementation("tdbref")
    for p in model.parameters():
        p.requires_grad_(False)
    R.is_gpt2 = cfg.model_type == "gpt2"
    if R.is_gpt2:
        tr = model.transformer
        H = cfg.n_head
        D = cfg.n_embd // H
        tr.wte.register_forward_hook(_leaf("hook_embed"))
        tr.wpe.register_forward_hook(_leaf("hook_pos_embed"))
        N = len(tr.h)
        for L, blk in enumerate(tr.h):
            b = f"blocks.{L}."
            blk.ln_1 = NormWrap(blk.ln_1, b + "ln1", ([f"blocks.{L-1}.hook_resid_post"] if L else []) + [b + "hook_resid_pre"])
            blk.attn.c_proj.register_forward_pre_hook(_pre(b + "attn.hook_z", lambda t: t[0].unflatten(-1, (H, D)), L, D))
            blk.attn.c_proj.register_forward_hook(_fwd(b + "hook_attn_out"))
            blk.ln_2 = NormWrap(blk.ln_2, b + "ln2", [b + "hook_resid_mid"])
            blk.mlp.c_fc.register_forward_hook(_fwd(b + "mlp.hook_pre"))
            blk.mlp.c_proj.register_forward_pre_hook(_pre(b + "mlp.hook_post"))
            blk.mlp.register_forward_hook(_fwd(b + "hook_mlp_out"))
        tr.ln_f = NormWrap(tr.ln_f, "ln_final", [f"blocks.{N-1}.hook_resid_post"])
        return
    if cfg.model_type == "gpt_neox":
        _attach_neox(model)
        return
    m = model.model
    H = cfg.num_attention_heads
    KV = cfg.num_key_value_heads
    D = getattr(cfg, "head_dim", None) or cfg.hidden_size // H
    m.embed_tokens.register_forward_hook(_leaf("hook_embed"))
    N = len(m.layers)
    post_norms = hasattr(m.layers[0], "post_feedforward_layernorm")  # Gemma 2, 3
    for L, layer in enumerate(m.layers):
        b = f"blocks.{L}."
        a = layer.self_attn
        layer.input_layernorm = NormWrap(layer.input_layernorm, b + "ln1", ([f"blocks.{L-1}.hook_resid_post"] if L else []) + [b + "hook_resid_pre"])
        if hasattr(a, "q_norm"):  # Qwen3, Gemma 3: hook_q / hook_k after the per-head norms
            # Gemma 3 normalises [1, H, T, D] (after the transpose), Qwen3 [1, T, H, D].
            lay = (lambda t: t[0].transpose(0, 1)) if cfg.model_type == "gemma3_text" else (lambda t: t[0])
            a.q_norm.register_forward_hook(_fwd(b + "attn.hook_q", lay))
            a.k_norm.register_forward_hook(_fwd(b + "attn.hook_k", lay))
        else:
            a.q_proj.register_forward_hook(_fwd(b + "attn.hook_q", lambda t: t[0].unflatten(-1, (H, D))))
            a.k_proj.register_forward_hook(_fwd(b + "attn.hook_k", lambda t: t[0].unflatten(-1, (KV, D))))
        a.v_proj.register_forward_hook(_fwd(b + "attn.hook_v", lambda t: t[0].unflatten(-1, (KV, D))))
        a.o_proj.register_forward_pre_hook(_pre(b + "attn.hook_z", lambda t: t[0].unflatten(-1, (H, D)), L, D))
        if post_norms:
            # TransformerLens: hook_attn_out / hook_mlp_out after the post-norms (what the residual adds).
            layer.post_attention_layernorm = NormWrap(layer.post_attention_layernorm, b + "ln1_post", [], b + "hook_attn_out")
            layer.pre_feedforward_layernorm = NormWrap(layer.pre_feedforward_layernorm, b + "ln2", [b + "hook_resid_mid"])
            layer.post_feedforward_layernorm = NormWrap(layer.post_feedforward_layernorm, b + "ln2_post", [], b + "hook_mlp_out")
        else:
            a.o_proj.register_forward_hook(_fwd(b + "hook_attn_out"))
            layer.post_attention_layernorm = NormWrap(layer.post_attention_layernorm, b + "ln2", [b + "hook_resid_mid"])
            layer.mlp.register_forward_hook(_fwd(b + "hook_mlp_out"))
        layer.mlp.gate_proj.register_forward_hook(_fwd(b + "mlp.hook_pre"))
        layer.mlp.up_proj.register_forward_hook(_fwd(b + "mlp.hook_pre_linear"))
        layer.mlp.down_proj.register_forward_pre_hook(_pre(b + "mlp.hook_post"))
    m.norm = NormWrap(m.norm, "ln_final", [f"blocks.{N-1}.hook_resid_post"])


def _qkv_neox(prefix, H, D):
    """query_key_value's output [1, T, 3C] is per head (q_h, k_h, v_h): record
    the three [T, H, D] slices (views, so perturbations reach the model)."""
    def part(i):
        return lambda t: t[0].unflatten(-1, (H, 3 * D))[..., i * D:(i + 1) * D]

    def hook(mod, args, out):
        for i, n in enumerate(("hook_q", "hook_k", "hook_v")):
            out = R.rec(prefix + n, out, part(i))
        return out

    return hook


def _attach_neox(model):
    """GPT-NeoX: fused head-interleaved q|k|v, LayerNorms with biases, and with
    use_parallel_residual both ln1 and ln2 read resid_pre (no hook_resid_mid,
    as TransformerLens' parallel_attn_mlp blocks)."""
    cfg = model.config
    m = model.gpt_neox
    H = cfg.num_attention_heads
    D = cfg.hidden_size // H
    m.embed_in.register_forward_hook(_leaf("hook_embed"))
    N = len(m.layers)
    for L, layer in enumerate(m.layers):
        b = f"blocks.{L}."
        a = layer.attention
        layer.input_layernorm = NormWrap(layer.input_layernorm, b + "ln1", ([f"blocks.{L-1}.hook_resid_post"] if L else []) + [b + "hook_resid_pre"])
        a.query_key_value.register_forward_hook(_qkv_neox(b + "attn.", H, D))
        a.dense.register_forward_pre_hook(_pre(b + "attn.hook_z", lambda t: t[0].unflatten(-1, (H, D)), L, D))
        a.dense.register_forward_hook(_fwd(b + "hook_attn_out"))
        mid = [] if cfg.use_parallel_residual else [b + "hook_resid_mid"]
        layer.post_attention_layernorm = NormWrap(layer.post_attention_layernorm, b + "ln2", mid)
        layer.mlp.dense_h_to_4h.register_forward_hook(_fwd(b + "mlp.hook_pre"))
        layer.mlp.dense_4h_to_h.register_forward_pre_hook(_pre(b + "mlp.hook_post"))
        layer.mlp.register_forward_hook(_fwd(b + "hook_mlp_out"))
    m.final_layer_norm = NormWrap(m.final_layer_norm, "ln_final", [f"blocks.{N-1}.hook_resid_post"])


def forward(model, tokens, grad_ids=None):
    """Run tokens (list of ints). Returns (logits [T, V] detached, values,
    grads or None, metric float or None)."""
    R.reset()
    ids = torch.tensor([tokens])
    with torch.enable_grad():
        logits = model(input_ids=ids, use_cache=False).logits[0]
        metric = None
        if grad_ids is not None:
            a, b = grad_ids
            metric = logits[-1, a] - logits[-1, b]
            metric.backward()
    vals = R.values()
    grads = R.grads() if grad_ids is not None else None
    return logits.detach(), vals, grads, (metric.item() if metric is not None else None)


def metric_of(model, tokens, ab):
    R.reset()
    with torch.no_grad():
        logits = model(input_ids=torch.tensor([tokens]), use_cache=False).logits[0]
    return (logits[-1, ab[0]] - logits[-1, ab[1]]).item()


def hook_names(cfg, blocks=None):
    """The hook names written to the references, in order."""
    gpt2 = cfg.model_type == "gpt2"
    post_norms = cfg.model_type in ("gemma2", "gemma3_text")
    neox = cfg.model_type == "gpt_neox"
    parallel = neox and cfg.use_parallel_residual
    n = cfg.n_layer if gpt2 else cfg.num_hidden_layers
    names = ["hook_embed"] + (["hook_pos_embed"] if gpt2 else [])
    for L in (range(n) if blocks is None else blocks):
        b = f"blocks.{L}."
        names += [b + "hook_resid_pre", b + "ln1.hook_scale", b + "ln1.hook_normalized",
                  b + "attn.hook_q", b + "attn.hook_k", b + "attn.hook_v"]
        if not gpt2:
            names += [b + "attn.hook_rot_q", b + "attn.hook_rot_k"]
        names += [b + "attn.hook_attn_scores", b + "attn.hook_pattern", b + "attn.hook_z"]
        if post_norms:
            names += [b + "ln1_post.hook_scale", b + "ln1_post.hook_normalized"]
        names += [b + "hook_attn_out"]
        if not parallel:
            names += [b + "hook_resid_mid"]
        names += [b + "ln2.hook_scale", b + "ln2.hook_normalized", b + "mlp.hook_pre"]
        if not gpt2 and not neox:
            names += [b + "mlp.hook_pre_linear"]
        names += [b + "mlp.hook_post"]
        if post_norms:
            names += [b + "ln2_post.hook_scale", b + "ln2_post.hook_normalized"]
        names += [b + "hook_mlp_out", b + "hook_resid_post"]
    names += ["ln_final.hook_scale", "ln_final.hook_normalized"]
    return names


def _rms64(self, x):
    var = x.pow(2).mean(-1, keepdim=True)
    if type(self).__name__.startswith("Gemma"):
        return (x * torch.rsqrt(var + self.eps)) * (1.0 + self.weight)
    return self.weight * (x * torch.rsqrt(var + self.variance_epsilon))


def fd_model(hooked):
    """A float64 copy of an attached model for finite differences (HF's
    RMSNorms compute in float32 even in a float64 model: patched)."""
    import types
    m = copy.deepcopy(hooked).double()
    for mod in m.modules():
        if type(mod).__name__.endswith("RMSNorm"):
            mod.forward = types.MethodType(_rms64, mod)
    return m


def finite_difference_checks(model64, tokens, ab, grads32, checks, h=1e-5):
    """Central differences in float64 at (hook, index) pairs; prints them.
    model64 must have attach() applied (hooks are module-level so a deepcopy
    of an attached model works)."""
    R.exact = False
    worst = 0.0
    for name, idx in checks:
        fs = []
        for d in (h, -h):
            R.perturb = {name: (idx, d)}
            fs.append(metric_of(model64, tokens, ab))
        R.perturb = {}
        fd = (fs[0] - fs[1]) / (2 * h)
        g = grads32[name][idx].item()
        rel = abs(fd - g) / max(abs(fd), 1e-3)
        worst = max(worst, rel)
        print(f"    FD {name}{list(idx)}: finite-diff(f64) {fd:+.6e}  autograd(f32) {g:+.6e}  rel {rel:.1e}")
    R.exact = True
    return worst


# ---------------------------------------------------------------- SmolLM2

SMOLLM2_DIR = "/work/shared/models/smollm2-135m"
SMOLLM2_GGUF = "SmolLM2-135M-Instruct.Q4_1.gguf"
SMOLLM2_PROMPTS = [
    "When Mary and John went to the store, John gave a drink to",
    "The Eiffel Tower is in the city of",
    "The capital of France is",
    "Alice was beginning to get very tired of sitting by her sister on the bank, and of having "
    "nothing to do: once or twice she had peeped into the book her sister was reading, but it had",
]
SMOLLM2_BLOCKS = [0, 10, 29]


def load_smollm2_gguf():
    from transformers import AutoModelForCausalLM
    return AutoModelForCausalLM.from_pretrained(SMOLLM2_DIR, gguf_file=SMOLLM2_GGUF, dtype=torch.float32,
                                                attn_implementation="eager").eval()


def write_smollm2_reference(model, out_path, fd=True):
    """Reference values of a SmolLM2 model (fp32) into out_path; see
    Tests/Fixtures/smollm2/README.md."""
    from safetensors.torch import save_file
    from tokenizers import Tokenizer
    import json

    tok = Tokenizer.from_file(f"{SMOLLM2_DIR}/hf-tokenizer/tokenizer.json")
    one = lambda s: tok.encode(s).ids[0]
    mary, john, paris, london = one(" Mary"), one(" John"), one(" Paris"), one(" London")
    V = model.config.vocab_size
    g = torch.Generator().manual_seed(11)
    special = [mary, john, paris, london]
    cols = [c for c in torch.randperm(V, generator=g).tolist() if c not in special][:512 - len(special)]
    cols = torch.tensor(sorted(cols + special), dtype=torch.int64)
    hooked = copy.deepcopy(model)
    attach(hooked)
    names = hook_names(hooked.config, SMOLLM2_BLOCKS)
    ref = {"logit_columns": cols, "metric": torch.tensor([mary, john], dtype=torch.int64)}
    for i, text in enumerate(SMOLLM2_PROMPTS):
        toks = tok.encode(text).ids
        with torch.no_grad():
            want = model(input_ids=torch.tensor([toks]), use_cache=False).logits[0]
        logits, vals, grads, metric = forward(hooked, toks, (mary, john) if i == 0 else None)
        diff = (logits - want).abs().max().item()
        top = tok.decode([int(logits[-1].argmax())])
        print(f"  p{i} T={len(toks)} top {top!r}  |hooked - eager| = {diff:.2e}")
        assert diff == 0.0
        ref[f"p{i}.tokens"] = torch.tensor(toks, dtype=torch.int64)
        ref[f"p{i}.last_logits"] = logits[-1].contiguous()
        ref[f"p{i}.logits"] = logits[:, cols].contiguous()
        for n in names:
            ref[f"p{i}.{n}"] = vals[n].contiguous()
        if i == 0:
            ref["p0.logitdiff"] = torch.tensor([metric], dtype=torch.float32)
            for n in ["blocks.0.hook_resid_pre", "blocks.10.hook_resid_pre", "blocks.29.hook_resid_pre",
                      "blocks.10.attn.hook_z"]:
                ref[f"p0.grad.{n}"] = grads[n].contiguous()
            R.ablate = (10, 2, len(toks) - 1)
            abl = metric_of(hooked, toks, (mary, john))
            R.ablate = None
            ref["p0.ablated_L10H2_logitdiff"] = torch.tensor([abl], dtype=torch.float32)
            print(f"  p0 logit(' Mary') - logit(' John') = {metric:+.5f}; with L10H2 zeroed at the last position {abl:+.5f}")
            if fd:
                m64 = fd_model(hooked)
                T = len(toks)
                worst = finite_difference_checks(m64, toks, (mary, john), grads, [
                    ("blocks.10.attn.hook_z", (T - 1, 2, 5)),
                    ("blocks.10.hook_resid_pre", (T - 3, 100)),
                    ("blocks.29.hook_resid_pre", (T - 1, 7)),
                    ("blocks.0.hook_resid_pre", (T - 6, 300))], h=1e-4)
                del m64
                print(f"  worst FD relative error {worst:.1e}")
    ref = {k: (v.to(torch.float32) if v.is_floating_point() else v) for k, v in ref.items()}
    save_file(ref, out_path, metadata={"prompts": json.dumps(SMOLLM2_PROMPTS),
                                       "metric": "logits[T-1, metric[0]] - logits[T-1, metric[1]] (' Mary' - ' John')",
                                       "blocks": json.dumps(SMOLLM2_BLOCKS)})
    import os
    print(f"  wrote {out_path} ({os.path.getsize(out_path) / 1e6:.1f} MB)")
