"""Write the GGUF test fixtures into Tests/Fixtures/gguf/ with gguf-py.

    python3 scripts/make-gguf-fixtures.py [--model PATH/SmolLM2-135M-Instruct.Q4_1.gguf]

types.gguf                one small tensor per ggml type tdb dequantizes
                          (legacy quants quantized from random floats by
                          gguf.quants.quantize; K-quants random block bytes
                          with finite fp16 scales, since gguf-py cannot
                          quantize them)
types-expected.safetensors  gguf.quants.dequantize of each, fp32, same names
metadata.gguf             one key of every metadata type, nested arrays too
smollm2-expected.json     a few values and checksums of two tensors of the
                          SmolLM2 Q4_1 model, dequantized by gguf-py

gguf-py's numpy dequantizers mirror llama.cpp's dequantize_row_*, so the Swift
tests compare bit for bit.
"""

import argparse
import json
import os
import struct

import numpy as np
import gguf
from gguf import GGMLQuantizationType as Q, GGUFValueType as V

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
OUT = os.path.join(REPO, "Tests", "Fixtures", "gguf")
MODEL = os.path.join("models", "smollm2-135m", "SmolLM2-135M-Instruct.Q4_1.gguf")

# Byte offsets of the fp16 scales inside each K-quant block (block_q*_K in ggml-common.h).
K_HALVES = {Q.Q2_K: [80, 82], Q.Q3_K: [108], Q.Q4_K: [0, 2], Q.Q5_K: [0, 2], Q.Q6_K: [208]}


def write_safetensors(path, tensors):
    header, data = {}, b""
    for name, a in tensors.items():
        raw = np.ascontiguousarray(a, dtype="<f4").tobytes()
        header[name] = {"dtype": "F32", "shape": list(a.shape), "data_offsets": [len(data), len(data) + len(raw)]}
        data += raw
    h = json.dumps(header, separators=(",", ":")).encode()
    h += b" " * (-len(h) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(h)) + h + data)


def types_fixture(rng):
    w = gguf.GGUFWriter(os.path.join(OUT, "types.gguf"), arch="test")
    expected = {}

    def add(name, stored, qtype, value):
        w.add_tensor(name, stored, raw_dtype=qtype)
        expected[name] = np.asarray(value, dtype=np.float32)

    f32 = rng.standard_normal((2, 3, 4)).astype(np.float32)
    add("f32", f32, None, f32)

    # Normals, subnormals, signed zeros, the largest half and infinities.
    halves = np.concatenate([
        rng.standard_normal(40).astype(np.float16),
        np.array([0, 1, 2, 1023, 1024, 0x8000, 0x8001, 0x7BFF, 0xFBFF, 0x7C00, 0xFC00, 0x3C00], np.uint16).view(np.float16),
        np.array([6.1e-5, -6.0e-8, 65504, 1e-3], np.float16),
    ]).reshape(4, 14)
    add("f16", halves, None, halves.astype(np.float32))

    x = (rng.standard_normal((3, 8)) * 10).astype(np.float32)
    bf = gguf.quants.quantize(x, Q.BF16)
    add("bf16", bf, Q.BF16, gguf.quants.dequantize(bf, Q.BF16))

    for qtype in (Q.Q8_0, Q.Q4_0, Q.Q4_1, Q.Q5_0, Q.Q5_1):
        x = rng.standard_normal((3, 64)).astype(np.float32)
        x[1, 32:] = 0  # a block of zeros: d = 0
        x[2, :32] *= 100
        q = gguf.quants.quantize(x, qtype)
        add(qtype.name.lower(), q, qtype, gguf.quants.dequantize(q, qtype))

    for qtype, offsets in K_HALVES.items():
        block_size, type_size = gguf.GGML_QUANT_SIZES[qtype]
        q = rng.integers(0, 256, size=(2, 3 * type_size), dtype=np.uint8)  # 2 rows of 3 blocks
        blocks = q.reshape(-1, type_size)
        for o in offsets:
            blocks[:, o:o + 2] = (rng.standard_normal((blocks.shape[0], 1)) * 0.05).astype(np.float16).view(np.uint8)
        add(qtype.name.lower(), q, qtype, gguf.quants.dequantize(q, qtype))

    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()
    write_safetensors(os.path.join(OUT, "types-expected.safetensors"), expected)


def metadata_fixture():
    w = gguf.GGUFWriter(os.path.join(OUT, "metadata.gguf"), arch="test")
    w.add_uint8("t.u8", 200)
    w.add_int8("t.i8", -100)
    w.add_uint16("t.u16", 60000)
    w.add_int16("t.i16", -30000)
    w.add_uint32("t.u32", 4000000000)
    w.add_int32("t.i32", -2000000000)
    w.add_float32("t.f32", 0.1)
    w.add_bool("t.true", True)
    w.add_bool("t.false", False)
    w.add_string("t.string", "héllo\nwörld ✓")
    w.add_key_value("t.empty", "", V.STRING)  # add_string skips empty strings
    w.add_uint64("t.u64", 18000000000000000000)
    w.add_int64("t.i64", -9000000000000000000)
    w.add_float64("t.f64", 2.718281828459045)
    w.add_array("t.strings", ["a", "", "Ġthe", "<|im_end|>"])
    w.add_array("t.ints", [1, -2, 3])
    w.add_array("t.floats", [0.5, -1.25, 3.0e-8])
    w.add_array("t.bools", [True, False])
    w.add_array("t.nested", [[1, 2], [3], [4, 5, 6]])
    w.add_array("t.nested_strings", [["x", "y"], ["z"]])
    w.add_key_value("t.u8s", [1, 2, 255], V.ARRAY, sub_type=V.UINT8)
    w.add_key_value("t.u64s", [1, 2**63], V.ARRAY, sub_type=V.UINT64)
    w.add_key_value("t.f64s", [0.1, -2.5], V.ARRAY, sub_type=V.FLOAT64)
    w.add_custom_alignment(64)
    w.add_tensor("x", np.arange(6, dtype=np.float32).reshape(2, 3))
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()


def model_expectations(path):
    r = gguf.GGUFReader(path)
    out = {}
    for t in r.tensors:
        if t.name not in ("blk.0.attn_q.weight", "token_embd.weight", "blk.0.attn_norm.weight"):
            continue
        x = gguf.quants.dequantize(t.data, t.tensor_type).astype(np.float32)
        x = x.reshape(list(reversed([int(n) for n in t.shape])))
        bits = x.view(np.uint32).ravel()
        out[t.name] = {
            "type": t.tensor_type.name,
            "shape": list(x.shape),
            "first": bits[:16].tolist(),
            "last": bits[-16:].tolist(),
            "middle": bits[x.size // 2: x.size // 2 + 16].tolist(),
            "bitsum": str(int(bits.astype(np.uint64).sum())),  # a string: exact past 2^53
            "sum": float(x.astype(np.float64).sum()),
        }
    with open(os.path.join(OUT, "smollm2-expected.json"), "w") as f:
        json.dump(out, f, indent=1)
        f.write("\n")


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", help="the SmolLM2 Q4_1 GGUF (default: models/ or ../shared/models/)")
    args = ap.parse_args()
    os.makedirs(OUT, exist_ok=True)
    types_fixture(np.random.default_rng(1234))
    metadata_fixture()
    model = args.model or next(
        (p for p in (os.path.join(REPO, MODEL), os.path.join(REPO, "..", "shared", MODEL),
                     os.path.join(REPO, "..", "..", "shared", MODEL)) if os.path.exists(p)), None)
    if model:
        model_expectations(model)
    else:
        print("no SmolLM2 model found; smollm2-expected.json left as it is")


if __name__ == "__main__":
    main()
