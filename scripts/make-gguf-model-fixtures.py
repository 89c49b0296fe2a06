"""Write Tests/Fixtures/gguf/tiny-neox.gguf and tiny-gpt2.gguf: the tiny
random GPT-NeoX and GPT-2 models of Tests/Fixtures/tiny-models (with the
SmolLM2 tokenizer of tiny-models/tokenizer) converted by llama.cpp's own
convert_hf_to_gguf.py, so that tdb is tested on the layouts llama.cpp's
converter really writes (NeoX's fused q|k|v rows regrouped by part, GPT-2's
Conv1D weights transposed, their metadata keys).

    python3 scripts/make-gguf-model-fixtures.py LLAMA_CPP_SOURCE

LLAMA_CPP_SOURCE is a llama.cpp checkout (or the copy vendored in PyPI's
llama-cpp-python sdist) holding convert_hf_to_gguf.py and gguf-py/; the
Python running this needs torch, transformers, numpy and safetensors
(scripts/.venv has them). Nothing of llama.cpp becomes part of tdb.

NeoX is written F16 (its weights are F16 already), GPT-2 F32 (its are F32),
so both files hold exactly the folders' values. The converter reads
hyperparameters through transformers' AutoConfig, which in transformers 5
rewrites Pythia's `rotary_pct` into `rope_parameters` where the converter's
GPT-NeoX class then fails to find it; here AutoConfig is refused for that
one read, so the converter falls back to config.json as written (its own
path for configurations AutoConfig cannot load). The GPT-2 folder's config
gets the `n_ctx` key the converter reads (GPT-2's own config.json has it).
"""

import json
import os
import runpy
import shutil
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
TINY = os.path.join(REPO, "Tests", "Fixtures", "tiny-models")
OUT = os.path.join(REPO, "Tests", "Fixtures", "gguf")
MODELS = {"neox": "f16", "gpt2": "f32"}  # tiny-models folder -> output type


def convert(source, name, outtype):
    """Runs the converter in this process (see `main` for the child's role)."""
    import transformers

    original = transformers.AutoConfig.from_pretrained.__func__

    def from_pretrained(cls, *args, **kwargs):
        if sys._getframe(1).f_code.co_name == "load_hparams":
            raise RuntimeError("read config.json as written")
        return original(cls, *args, **kwargs)

    transformers.AutoConfig.from_pretrained = classmethod(from_pretrained)
    converter = os.path.join(source, "convert_hf_to_gguf.py")
    out = os.path.join(OUT, f"tiny-{name}.gguf")
    with tempfile.TemporaryDirectory() as folder:
        for file in ["config.json", "generation_config.json", "model.safetensors"]:
            shutil.copy(os.path.join(TINY, name, file), folder)
        for file in ["tokenizer.json", "tokenizer_config.json"]:
            shutil.copy(os.path.join(TINY, "tokenizer", file), folder)
        config_path = os.path.join(folder, "config.json")
        with open(config_path) as f:
            config = json.load(f)
        if config.get("model_type") == "gpt2":
            config.setdefault("n_ctx", config["n_positions"])
            with open(config_path, "w") as f:
                json.dump(config, f, indent=2)
        sys.path.insert(0, source)
        sys.argv = [converter, folder, "--outtype", outtype, "--model-name", f"tiny-{name}", "--outfile", out]
        runpy.run_path(converter, run_name="__main__")
    print(f"wrote {out}")


def main():
    if len(sys.argv) == 4 and sys.argv[1] == "--one":
        convert(os.path.abspath(sys.argv[2]), sys.argv[3], MODELS[sys.argv[3]])
        return
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    source = os.path.abspath(sys.argv[1])
    if not os.path.isfile(os.path.join(source, "convert_hf_to_gguf.py")):
        sys.exit(f"no convert_hf_to_gguf.py in {source}")
    # One process per model: the converter registers its classes and reads
    # its arguments once per run.
    for name in MODELS:
        subprocess.run([sys.executable, __file__, "--one", source, name], check=True)


if __name__ == "__main__":
    main()
