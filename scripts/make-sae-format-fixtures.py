#!/usr/bin/env python3
"""Writes Tests/Fixtures/sae-formats/: small SAEs in Gemma Scope's params.npz
and EleutherAI sparsify's layout, sized for the demo model's layer 3 residual
stream (d_in 256), with expected encode/decode values computed here in numpy,
plus damaged files for the loaders' error tests.

Only numpy is needed (safetensors are written by hand: 8-byte header length,
JSON header, data). Deterministic: rerunning rewrites the same bytes, except
that numpy's own savez archives carry the time they were written.

    python3 scripts/make-sae-format-fixtures.py
"""

import json
import os
import shutil
import struct
import zipfile
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "Tests/Fixtures/sae-formats"
D_IN, D_SAE, ROWS, K = 256, 256, 8, 16


def write_safetensors(path, tensors):
    """Every tensor as F32, in sorted order, as safetensors' writer lays them out."""
    header, blobs, offset = {}, [], 0
    for name in sorted(tensors):
        a = np.ascontiguousarray(tensors[name], dtype="<f4")
        header[name] = {"dtype": "F32", "shape": list(a.shape), "data_offsets": [offset, offset + a.nbytes]}
        blobs.append(a.tobytes())
        offset += a.nbytes
    text = json.dumps(header, separators=(",", ":")).encode()
    text += b" " * (-len(text) % 8)
    path.write_bytes(struct.pack("<Q", len(text)) + text + b"".join(blobs))


def inputs(rng):
    # Residual-stream-like rows: a shared offset plus noise.
    return (rng.normal(0, 1, (ROWS, D_IN)) + rng.normal(0, 0.5, D_IN)).astype(np.float32)


def gemma_scope(rng, x):
    """JumpReLU: z = pre * (pre > threshold), pre = x W_enc + b_enc; x_hat = z W_dec + b_dec."""
    w_enc = rng.normal(0, 1 / np.sqrt(D_IN), (D_IN, D_SAE)).astype(np.float32)
    w_dec = rng.normal(0, 1 / np.sqrt(D_SAE), (D_SAE, D_IN)).astype(np.float32)
    b_enc = rng.normal(0, 0.1, D_SAE).astype(np.float32)
    b_dec = rng.normal(0, 0.1, D_IN).astype(np.float32)
    pre = x.astype(np.float64) @ w_enc + b_enc
    # Each latent's threshold midway between its 2nd and 3rd largest
    # pre-activation over the inputs (at least 0.05): about two rows of eight
    # fire per latent, none near the edge.
    top = np.sort(pre, axis=0)[::-1]
    threshold = np.maximum((top[1] + top[2]) / 2, 0.05).astype(np.float32)
    assert np.abs(pre - threshold).min() > 1e-4
    z = np.where(pre > threshold, pre, 0.0)
    assert 0 < (z > 0).sum() < z.size
    recon = z @ w_dec + b_dec
    params = dict(W_enc=w_enc, W_dec=w_dec, b_enc=b_enc, b_dec=b_dec, threshold=threshold)
    return params, z, recon


def sparsify(rng, x):
    """TopK on ReLU((x - b_dec) encoder.weight^T + encoder.bias); x_hat = z W_dec + b_dec."""
    enc_w = rng.normal(0, 1 / np.sqrt(D_IN), (D_SAE, D_IN)).astype(np.float32)  # nn.Linear: [out, in]
    enc_b = rng.normal(0, 0.1, D_SAE).astype(np.float32)
    w_dec = rng.normal(0, 1 / np.sqrt(D_SAE), (D_SAE, D_IN)).astype(np.float32)
    b_dec = rng.normal(0, 0.1, D_IN).astype(np.float32)
    pre = np.maximum((x.astype(np.float64) - b_dec) @ enc_w.T + enc_b, 0)
    order = np.argsort(-pre, axis=1, kind="stable")
    z = np.zeros_like(pre)
    for r in range(ROWS):
        kept = order[r, :K]
        gap = pre[r, order[r, K - 1]] - pre[r, order[r, K]]
        assert gap > 1e-4, "the k-th and (k+1)-th latents are too close to pick reliably in fp32"
        z[r, kept] = pre[r, kept]
    recon = z @ w_dec + b_dec
    weights = {"encoder.weight": enc_w, "encoder.bias": enc_b, "W_dec": w_dec, "b_dec": b_dec}
    cfg = dict(
        activation="topk", expansion_factor=1, normalize_decoder=True, num_latents=D_SAE, k=K,
        multi_topk=False, skip_connection=False, transcode=False, d_in=D_IN)
    return weights, cfg, z, recon


def npy_bytes(array=None, header=None, magic=b"\x93NUMPY", version=(1, 0), data=None):
    """A .npy file by hand, so that its parts can be damaged one at a time."""
    if header is None:
        header = "{'descr': '%s', 'fortran_order': False, 'shape': %r, }" % (array.dtype.str, array.shape)
    if data is None:
        data = array.tobytes()
    h = header.encode()
    size_bytes = 2 if version[0] == 1 else 4
    pad = -(len(magic) + 2 + size_bytes + len(h) + 1) % 64
    h += b" " * pad + b"\n"
    size = struct.pack("<H" if size_bytes == 2 else "<I", len(h))
    return magic + bytes(version) + size + h + data


def write_npz(path, members, compression=zipfile.ZIP_STORED):
    """A zip of NAME.npy members given as bytes."""
    with zipfile.ZipFile(path, "w", compression) as z:
        for name, data in members.items():
            z.writestr(zipfile.ZipInfo(name + ".npy", date_time=(2026, 1, 1, 0, 0, 0)), data, compression)


def bad_fixtures(rng):
    """Tiny Gemma-Scope-style archives (d_in 4, d_sae 3): damaged ones, one fault each, and good variants."""
    bad = OUT / "cases"
    bad.mkdir()
    good = dict(
        W_enc=rng.normal(size=(4, 3)).astype("<f4"), W_dec=rng.normal(size=(3, 4)).astype("<f4"),
        b_enc=np.zeros(3, "<f4"), b_dec=np.zeros(4, "<f4"), threshold=np.full(3, 0.1, "<f4"))

    def npz(name, **changes):
        members = {k: npy_bytes(v) for k, v in good.items()}
        for k, v in changes.items():
            if v is None:
                del members[k]
            else:
                members[k] = v
        write_npz(bad / name, members)

    (bad / "not-a-zip.npz").write_bytes(b"this is not a zip archive, just text\n" * 4)
    npz("missing-threshold.npz", threshold=None)
    npz("bad-magic.npz", W_enc=npy_bytes(good["W_enc"], magic=b"\x93NUMPX"))
    npz("bad-version.npz", W_enc=npy_bytes(good["W_enc"], version=(9, 0)))
    npz("bad-header.npz", W_enc=npy_bytes(good["W_enc"], header="{'descr': '<f4', 'shape': (4, 3)}"))
    npz("bfloat16.npz", W_enc=npy_bytes(good["W_enc"], header="{'descr': '<V2', 'fortran_order': False, 'shape': (4, 3), }", data=b"\0" * 24))
    npz("int-dtype.npz", W_enc=npy_bytes(good["W_enc"].astype("<i4")))
    npz("truncated.npz", W_enc=npy_bytes(good["W_enc"])[:-5])
    npz("shape-disagrees.npz", W_dec=npy_bytes(rng.normal(size=(4, 3)).astype("<f4")))
    npz("rank-3.npz", W_enc=npy_bytes(rng.normal(size=(4, 3, 1)).astype("<f4")))
    # Bytes flipped inside W_enc's member (the first), stored and deflated:
    # the zip's directory is intact, the member's CRC is not.
    for name, compression, at in [("damaged-stored.npz", zipfile.ZIP_STORED, 200),
                                  ("damaged-deflated.npz", zipfile.ZIP_DEFLATED, 60)]:
        write_npz(bad / name, {k: npy_bytes(v) for k, v in good.items()}, compression)
        data = bytearray((bad / name).read_bytes())
        data[at:at + 4] = bytes(b ^ 0x55 for b in data[at:at + 4])
        (bad / name).write_bytes(data)

    # Good variants: version 2 headers, float16 and float64 data, and a
    # Fortran-ordered W_enc, all of the same weights (float16-exact values).
    exact = {k: v.astype("<f2").astype("<f4") for k, v in good.items()}
    write_npz(bad / "variants-f4.npz", {k: npy_bytes(v) for k, v in exact.items()})
    f = np.asfortranarray(exact["W_enc"])
    fortran_header = "{'descr': '<f4', 'fortran_order': True, 'shape': (4, 3), }"
    members = {k: npy_bytes(v.astype("<f2"), version=(2, 0)) for k, v in exact.items()}
    members["W_dec"] = npy_bytes(exact["W_dec"].astype("<f8"), version=(3, 0))
    members["W_enc"] = npy_bytes(header=fortran_header, data=f.tobytes(order="F"))
    write_npz(bad / "variants-mixed.npz", members)

    # sparsify folders with a bad cfg.json, each a hookpoint folder.
    tiny = {"encoder.weight": good["W_dec"], "encoder.bias": np.zeros(3, "<f4"),
            "W_dec": good["W_dec"], "b_dec": np.zeros(4, "<f4")}
    for name, cfg, weights in [
        ("no-k", dict(activation="topk", num_latents=3, d_in=4), tiny),
        ("groupmax", dict(activation="groupmax", k=2, num_latents=3, d_in=4), tiny),
        ("wrong-b-dec", dict(activation="topk", k=2, d_in=4), {**tiny, "b_dec": np.zeros(3, "<f4")}),
        ("missing-w-dec", dict(activation="topk", k=2, d_in=4), {k: v for k, v in tiny.items() if k != "W_dec"}),
    ]:
        folder = bad / "sparsify" / name / "layers.0"
        folder.mkdir(parents=True)
        (folder / "cfg.json").write_text(json.dumps(cfg))
        write_safetensors(folder / "sae.safetensors", weights)


def main():
    if OUT.exists():
        shutil.rmtree(OUT)
    OUT.mkdir(parents=True)
    rng = np.random.default_rng(20261206)
    x = inputs(rng)

    params, gz, grecon = gemma_scope(rng, x)
    # The same SAE deflated (savez_compressed) and stored (savez).
    for kind, save in [("deflated", np.savez_compressed), ("stored", np.savez)]:
        folder = OUT / "gemma-scope-demo-res/layer_3/width_256" / kind
        folder.mkdir(parents=True)
        save(folder / "params.npz", **params)

    weights, cfg, sz, srecon = sparsify(rng, x)
    folder = OUT / "sparsify-demo/layers.3"
    folder.mkdir(parents=True)
    (folder / "cfg.json").write_text(json.dumps(cfg, indent=2) + "\n")
    write_safetensors(folder / "sae.safetensors", weights)

    write_safetensors(OUT / "expected.safetensors", {
        "input": x, "gemma_scope.latents": gz, "gemma_scope.recon": grecon,
        "sparsify.latents": sz, "sparsify.recon": srecon})
    bad_fixtures(rng)
    total = sum(p.stat().st_size for p in OUT.rglob("*") if p.is_file())
    print(f"wrote {OUT.relative_to(ROOT)} ({total / 1e6:.1f} MB)")


if __name__ == "__main__":
    main()
