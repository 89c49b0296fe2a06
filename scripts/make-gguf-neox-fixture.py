"""Write Tests/Fixtures/gguf/tiny-neox.gguf: the tiny random GPT-NeoX model
of Tests/Fixtures/tiny-models/neox (with the SmolLM2 tokenizer of
tiny-models/tokenizer) converted by llama.cpp's own convert_hf_to_gguf.py to
F16, so that tdb is tested on the layout llama.cpp's converter really writes
(the fused q|k|v rows regrouped by part, its metadata keys).

    python3 scripts/make-gguf-neox-fixture.py LLAMA_CPP_SOURCE

LLAMA_CPP_SOURCE is a llama.cpp checkout (or the copy vendored in PyPI's
llama-cpp-python sdist) holding convert_hf_to_gguf.py and gguf-py/; the
Python running this needs torch, transformers, numpy and safetensors
(scripts/.venv has them). Nothing of llama.cpp becomes part of tdb.

The converter reads hyperparameters through transformers' AutoConfig, which
in transformers 5 rewrites Pythia's `rotary_pct` into `rope_parameters` and
the converter's GPT-NeoX class then fails to find it; here AutoConfig is
refused for that one read, so the converter falls back to config.json as
written (its own path for configurations AutoConfig cannot load).
"""

import os
import runpy
import shutil
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
TINY = os.path.join(REPO, "Tests", "Fixtures", "tiny-models")
OUT = os.path.join(REPO, "Tests", "Fixtures", "gguf", "tiny-neox.gguf")


def main():
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    source = os.path.abspath(sys.argv[1])
    converter = os.path.join(source, "convert_hf_to_gguf.py")
    if not os.path.isfile(converter):
        sys.exit(f"no convert_hf_to_gguf.py in {source}")

    import transformers

    original = transformers.AutoConfig.from_pretrained.__func__

    def from_pretrained(cls, *args, **kwargs):
        if sys._getframe(1).f_code.co_name == "load_hparams":
            raise RuntimeError("read config.json as written")
        return original(cls, *args, **kwargs)

    transformers.AutoConfig.from_pretrained = classmethod(from_pretrained)

    with tempfile.TemporaryDirectory() as folder:
        for name in ["config.json", "generation_config.json", "model.safetensors"]:
            shutil.copy(os.path.join(TINY, "neox", name), folder)
        for name in ["tokenizer.json", "tokenizer_config.json"]:
            shutil.copy(os.path.join(TINY, "tokenizer", name), folder)
        sys.path.insert(0, source)
        sys.argv = [converter, folder, "--outtype", "f16", "--model-name", "tiny-neox", "--outfile", OUT]
        runpy.run_path(converter, run_name="__main__")
    print(f"wrote {OUT}")


if __name__ == "__main__":
    main()
