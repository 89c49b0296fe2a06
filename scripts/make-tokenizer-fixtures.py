#!/usr/bin/env python3
"""Reference ids for tdb's HFTokenizer tests, from Hugging Face `tokenizers`.

Writes Tests/Fixtures/tokenizers/:
  smollm2/tokenizer.json, tokenizer_config.json   copied from the SmolLM2-135M folder
  <name>/tokenizer.json                            small BPE tokenizers trained here, one per
                                                   family configuration (llama3, qwen2, llama2,
                                                   metaspace, misc)
  <name>/cases.json                                {"cases": [{"text", "ids", "ids_plain", "decoded"}]}
                                                   ids: encode(text) (special tokens added),
                                                   ids_plain: add_special_tokens=False,
                                                   decoded(_plain): decode(ids(_plain),
                                                   skip_special_tokens=False)
  gguf-llama/vocab.json + cases.json               a SentencePiece BPE vocabulary (tokens, scores,
                                                   token types) as a GGUF file stores it; its ids
                                                   come from reimplement_llama_cpp_spm below, a
                                                   straightforward Python rewrite of llama.cpp's
                                                   llm_tokenizer_spm (the reference is a
                                                   reimplementation, not llama.cpp itself)

BPE training breaks frequency ties differently from run to run, so a rerun may
write different (equally valid) vocabularies for llama2, metaspace and misc.

Run from the repository root:  python3 scripts/make-tokenizer-fixtures.py
Needs: tokenizers (0.23), transformers, sentencepiece.
"""

import heapq
import json
import os
import random
import shutil
import tempfile

from tokenizers import AddedToken, Regex, Tokenizer, decoders, models, normalizers, pre_tokenizers, processors
from tokenizers.trainers import BpeTrainer

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT = os.path.join(ROOT, "Tests", "Fixtures", "tokenizers")
SMOLLM2 = "/work/shared/models/smollm2-135m/hf-tokenizer"
CORPUS = "/work/main/models/tdb-demo/corpus/stories-sample.txt"
VOCAB_SIZE = 2000

LLAMA3_REGEX = (
    r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*"
    r"|\s*[\r\n]+|\s+(?!\S)|\s+"
)
QWEN2_REGEX = LLAMA3_REGEX.replace(r"\p{N}{1,3}", r"\p{N}")

# Text mixed into the training corpus so the small vocabularies hold some non-ASCII merges.
EXTRA_CORPUS = [
    "Café, naïve, résumé, façade, jalapeño, Zürich, Ångström, smörgåsbord.",
    "日本語のテキストと中文文本，还有한국어 문장도 있습니다。",
    "Привет, как дела? Всё хорошо, спасибо.",
    "नमस्ते दुनिया, यह एक परीक्षण है।",
    "مرحبا بالعالم، هذا اختبار.",
    "שלום עולם, זה מבחן.",
    "Ελληνικά γράμματα: αβγδε ΑΒΓΔΕ.",
    "def tokenize(text: str) -> list[int]:\n    return [ord(c) for c in text]  # comment\n",
    "for (int i = 0; i < n; ++i) { sum += a[i] * b[i]; }",
    "The year 2024 had 365 days; 3.14159 and 1,000,000 and 0x1F600.",
    "I'm sure you're right, they've said we'll go, and she'd know. IT'S TRUE, WE'LL SEE.",
]


def strings():
    """A few hundred test strings: hand-picked edge cases, then random mixtures of pieces."""
    base = [
        "",
        " ",
        "  ",
        "\t",
        "\n",
        "\r\n",
        "a",
        "Hello world",
        "Hello  world",
        " Hello world ",
        "  leading and trailing  ",
        "When Mary and John went to the store, John gave a drink to",
        "Once upon a time, there was a little girl named Lily.",
        "tabs\tand\ttabs\t\t\tthree",
        "line one\nline two\n\nline four\n",
        "windows\r\nline\r\nendings\r\n",
        "mixed \t\n whitespace \n\t runs",
        "trailing spaces   ",
        "   leading spaces",
        "\n\n\nnewlines first",
        "I'm, you're, he's, they've, we'll, she'd, it's",
        "I'M, YOU'RE, HE'S, THEY'VE, WE'LL, SHE'D, IT'S",
        "don't Don't DON'T 'S 'LL 'Re",
        "1 12 123 1234 12345 123456789012345678901234567890",
        "3.14159 2,718 1e-10 -42 +7 0x1F 1_000",
        "Phone: +1 (555) 123-4567, zip 90210.",
        "²³ ½ ٣٤٥ ४२ 一二三 Ⅻ",
        "Café naïve résumé façade",
        "Cafe\u0301 nai\u0308ve (combining marks)",
        "\u00c5 vs A\u030a vs \u212b",
        "ﬁ ﬂ ＡＢＣ １２３ ℌ ㎏",
        "日本語のテキスト",
        "中文文本，标点符号。",
        "한국어 문장입니다",
        "Привет мир",
        "Ελληνικά",
        "नमस्ते दुनिया",
        "क्षत्रिय ज्ञान",
        "مرحبا بالعالم",
        "שלום עולם",
        "emoji 😀 😃 😄",
        "family 👨‍👩‍👧‍👦 and flags 🇺🇸🇯🇵",
        "skin tones 👍🏽👋🏿",
        "❤️ ☺️ ✔︎",
        "zero\u200bwidth\u200cjoiner\u200dtest",
        "nbsp\u00a0here and\u2003em space and\u3000ideographic",
        "vertical\u000btab and form\u000cfeed and next\u0085line",
        "line\u2028separator\u2029paragraph",
        "def f(x):\n    return x ** 2  # square\n",
        "if (a && b || !c) { return a[i] >= b->c; }",
        "<html><body class=\"main\">Hi &amp; bye</body></html>",
        "https://example.com/path?query=1&x=y#frag",
        "user@example.com",
        "snake_case camelCase PascalCase kebab-case SCREAMING_CASE",
        "...!!!???,,,;;;:::",
        "'''\"\"\"```",
        "$100 €50 £30 ¥1000",
        "a" * 300,
        "supercalifragilisticexpialidocious" * 5,
        "x" + "\u0301" * 20,
        "🎉" * 30,
        " " * 40 + "deep",
        "\n" * 10,
        "The quick brown fox jumps over the lazy dog. THE QUICK BROWN FOX.",
        "<|endoftext|>",
        "Hello<|endoftext|>world",
        "end of doc.<|endoftext|>Start of next",
        "<|im_start|>user\nhi<|im_end|>",
        "<|im_start|>system\nYou are helpful.<|im_end|>\n<|im_start|>assistant\n",
        "<|begin_of_text|>Hello",
        "text <|eot_id|> more",
        "<s>Hello</s>",
        "a <s> b </s> c",
        "<unk> token",
        "<|im_start|><|im_end|>",
        "almost <|im_start special",
        "<tool> call<tool>x <tool>",
        "hello world hellohello hello",
        "▁already▁has▁metaspace",
        "under_score and ▁ alone",
        "<0x41> looks like a byte token",
    ]
    rng = random.Random(1234)
    pieces = [
        "the", "The", " cat", "sat", " on", " mat", "!", "?", ",", ".", " ", "  ", "\t", "\n", "\r\n",
        "123", "4567", "3.5", "'s", "'LL", "'ve", "don't", "Café", "naïve", "日本", "語", "中文", "😀",
        "👨‍👩‍👧", "नमस्ते", "مرحبا", "Привет", "x\u0301", "ﬁ", "Ⅻ", "٣", "_", "->", "==", "{}", "()",
        "<|endoftext|>", "<|im_start|>", "<s>", "▁", "\u00a0", "\u3000", "   ", "Lily", " Tom", " dog",
    ]
    generated = []
    for _ in range(220):
        generated.append("".join(rng.choice(pieces) for _ in range(rng.randint(1, 12))))
    with open(CORPUS, encoding="utf-8") as f:
        lines = [line.rstrip("\n") for line in f if line.strip()]
    generated += [rng.choice(lines) for _ in range(40)]
    return base + generated


def write_cases(name, tokenizer, texts):
    folder = os.path.join(OUT, name)
    os.makedirs(folder, exist_ok=True)
    cases = []
    for text in texts:
        ids = tokenizer.encode(text, add_special_tokens=True).ids
        plain = tokenizer.encode(text, add_special_tokens=False).ids
        decoded = tokenizer.decode(ids, skip_special_tokens=False)
        decoded_plain = tokenizer.decode(plain, skip_special_tokens=False)
        cases.append({"text": text, "ids": ids, "ids_plain": plain, "decoded": decoded, "decoded_plain": decoded_plain})
    with open(os.path.join(folder, "cases.json"), "w", encoding="utf-8") as f:
        json.dump({"cases": cases}, f, ensure_ascii=False, separators=(",", ":"))
    round_trips = sum(c["decoded_plain"] == c["text"] for c in cases)
    print(f"{name}: {len(cases)} cases, HF round-trips {round_trips}")


def save_tokenizer(name, tokenizer):
    folder = os.path.join(OUT, name)
    os.makedirs(folder, exist_ok=True)
    tokenizer.save(os.path.join(folder, "tokenizer.json"))
    # Reload from the file, so the references come from exactly what the test reads.
    return Tokenizer.from_file(os.path.join(folder, "tokenizer.json"))


def corpus_lines():
    with open(CORPUS, encoding="utf-8") as f:
        lines = [line for line in f.read().split("\n") if line.strip()]
    return lines + EXTRA_CORPUS * 20


def train(tokenizer, specials, alphabet=None, limit_alphabet=None):
    options = {"limit_alphabet": limit_alphabet} if limit_alphabet else {}
    trainer = BpeTrainer(
        vocab_size=VOCAB_SIZE, special_tokens=specials, initial_alphabet=alphabet or [], show_progress=False, **options
    )
    tokenizer.train_from_iterator(corpus_lines(), trainer=trainer)


def llama3_style():
    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.Sequence(
        [
            pre_tokenizers.Split(Regex(LLAMA3_REGEX), behavior="isolated"),
            pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False),
        ]
    )
    tok.decoder = decoders.ByteLevel()
    specials = ["<|begin_of_text|>", "<|end_of_text|>", "<|eot_id|>"]
    train(tok, specials, alphabet=pre_tokenizers.ByteLevel.alphabet())
    bos = tok.token_to_id("<|begin_of_text|>")
    tok.post_processor = processors.Sequence(
        [
            processors.ByteLevel(trim_offsets=False),
            processors.TemplateProcessing(
                single="<|begin_of_text|> $A", pair="<|begin_of_text|> $A <|begin_of_text|> $B",
                special_tokens=[("<|begin_of_text|>", bos)],
            ),
        ]
    )
    return tok


def qwen2_style():
    tok = Tokenizer(models.BPE())
    tok.normalizer = normalizers.NFC()
    tok.pre_tokenizer = pre_tokenizers.Sequence(
        [
            pre_tokenizers.Split(Regex(QWEN2_REGEX), behavior="isolated"),
            pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False),
        ]
    )
    tok.decoder = decoders.ByteLevel()
    tok.post_processor = processors.ByteLevel(trim_offsets=False)
    train(tok, ["<|endoftext|>", "<|im_start|>", "<|im_end|>"], alphabet=pre_tokenizers.ByteLevel.alphabet())
    # Non-special added tokens with the matching options.
    tok.add_tokens(
        [
            AddedToken("<tool>", single_word=False, lstrip=True, rstrip=True, normalized=False, special=False),
            AddedToken("hello", single_word=True, lstrip=False, rstrip=False, normalized=True, special=False),
        ]
    )
    return tok


def spm_vocab_json(trained, specials):
    """A Llama-2-like BPE: specials, then the 256 <0xNN> byte tokens, then the trained pieces."""
    data = json.loads(trained.to_str())
    old = data["model"]["vocab"]
    vocab = {}
    for s in specials:
        vocab[s] = len(vocab)
    for b in range(256):
        vocab[f"<0x{b:02X}>"] = len(vocab)
    for token, _ in sorted(old.items(), key=lambda kv: kv[1]):
        if token not in vocab:
            vocab[token] = len(vocab)
    data["model"]["vocab"] = vocab
    data["added_tokens"] = [
        {"id": vocab[s], "content": s, "single_word": False, "lstrip": False, "rstrip": False,
         "normalized": False, "special": True}
        for s in specials
    ]
    return data


def llama2_style():
    specials = ["<unk>", "<s>", "</s>"]
    tok = Tokenizer(models.BPE(unk_token="<unk>", byte_fallback=True, fuse_unk=True))
    # Trained over ▁-words (Metaspace), served like Llama 2: normalizer only, no pre-tokenizer.
    tok.pre_tokenizer = pre_tokenizers.Metaspace(replacement="▁", prepend_scheme="always", split=True)
    train(tok, specials, limit_alphabet=120)
    data = spm_vocab_json(tok, specials)
    data["normalizer"] = {
        "type": "Sequence",
        "normalizers": [
            {"type": "Prepend", "prepend": "▁"},
            {"type": "Replace", "pattern": {"String": " "}, "content": "▁"},
        ],
    }
    data["pre_tokenizer"] = None
    data["decoder"] = {
        "type": "Sequence",
        "decoders": [
            {"type": "Replace", "pattern": {"String": "▁"}, "content": " "},
            {"type": "ByteFallback"},
            {"type": "Fuse"},
            {"type": "Strip", "content": " ", "start": 1, "stop": 0},
        ],
    }
    data["post_processor"] = {
        "type": "TemplateProcessing",
        "single": [{"SpecialToken": {"id": "<s>", "type_id": 0}}, {"Sequence": {"id": "A", "type_id": 0}}],
        "pair": [{"SpecialToken": {"id": "<s>", "type_id": 0}}, {"Sequence": {"id": "A", "type_id": 0}},
                 {"SpecialToken": {"id": "<s>", "type_id": 1}}, {"Sequence": {"id": "B", "type_id": 1}}],
        "special_tokens": {"<s>": {"id": "<s>", "ids": [1], "tokens": ["<s>"]}},
    }
    return Tokenizer.from_str(json.dumps(data))


def metaspace_style():
    specials = ["<unk>", "<s>", "</s>"]
    tok = Tokenizer(models.BPE(unk_token="<unk>", fuse_unk=False))
    tok.pre_tokenizer = pre_tokenizers.Metaspace(replacement="▁", prepend_scheme="first", split=True)
    tok.decoder = decoders.Metaspace(replacement="▁", prepend_scheme="first", split=True)
    train(tok, specials, limit_alphabet=100)
    tok.post_processor = processors.TemplateProcessing(
        single="<s> $A", pair="<s> $A <s> $B", special_tokens=[("<s>", tok.token_to_id("<s>"))]
    )
    return tok


def misc_style():
    """The remaining components: NFKC, Lowercase, Strip, Replace(regex), Digits, Punctuation,
    Split behaviours and invert, WhitespaceSplit, Whitespace; no decoder (ids join with spaces)."""
    tok = Tokenizer(models.BPE(unk_token="[UNK]", ignore_merges=True))
    tok.normalizer = normalizers.Sequence(
        [normalizers.NFKC(), normalizers.Lowercase(), normalizers.Strip(), normalizers.Replace(Regex(r"\s+"), " ")]
    )
    tok.pre_tokenizer = pre_tokenizers.Sequence(
        [
            pre_tokenizers.Digits(individual_digits=False),
            pre_tokenizers.Split(Regex(r"[aeiou]"), behavior="merged_with_next"),
            pre_tokenizers.Split(Regex(r"[xyz]"), behavior="merged_with_previous"),
            pre_tokenizers.Split(Regex(r"\p{L}+|\p{N}+| "), behavior="contiguous", invert=True),
            pre_tokenizers.Punctuation(behavior="isolated"),
            pre_tokenizers.WhitespaceSplit(),
        ]
    )
    train(tok, ["[UNK]", "[CLS]"], limit_alphabet=150)
    return tok


def misc2_style():
    tok = Tokenizer(models.BPE(unk_token="[UNK]"))
    tok.normalizer = normalizers.NFD()
    tok.pre_tokenizer = pre_tokenizers.Sequence(
        [pre_tokenizers.Whitespace(), pre_tokenizers.Digits(individual_digits=True),
         pre_tokenizers.Split(Regex(r"(?i:th)"), behavior="removed")]
    )
    train(tok, ["[UNK]"], limit_alphabet=200)
    return tok


# --- GGUF "llama" (SentencePiece BPE by score) ---------------------------------------------


def reimplement_llama_cpp_spm(text, vocab, scores, types, add_bos, bos_id, add_space_prefix=True):
    """llama.cpp's SPM tokenization, rewritten in Python (reference for the GGUF-llama case).

    Special tokens (control, user-defined, unknown types) split the text first, longest
    first; each raw fragment gets a leading space if it is first or follows a special token;
    spaces become ▁; symbols (UTF-8 characters) merge pairwise, highest score of the merged
    token first, leftmost on ties; unmerged symbols that are not tokens resegment along
    their recorded merges, else become <0xNN> byte tokens."""
    specials = sorted(
        [(tok, i) for i, tok in enumerate(vocab) if types[i] in (2, 3, 4) and tok],
        key=lambda t: -len(t[0]),
    )
    fragments = [(text, None)] if text else []
    for special, sid in specials:
        out = []
        for frag, fid in fragments:
            if fid is not None:
                out.append((frag, fid))
                continue
            while True:
                pos = frag.find(special)
                if pos < 0:
                    break
                if pos > 0:
                    out.append((frag[:pos], None))
                out.append((special, sid))
                frag = frag[pos + len(special):]
            if frag:
                out.append((frag, None))
        fragments = out
    index = {tok.encode("utf-8"): i for i, tok in enumerate(vocab)}
    ids = [bos_id] if add_bos else []
    prev_special = True
    for frag, fid in fragments:
        if fid is not None:
            ids.append(fid)
            prev_special = True
            continue
        if add_space_prefix and prev_special:
            frag = " " + frag
        prev_special = False
        ids += spm_merge(frag.replace(" ", "▁").encode("utf-8"), index, scores)
    return ids


def spm_merge(text, index, scores):
    symbols = []  # [start, length, prev, next]
    offs = 0
    while offs < len(text):
        lead = text[offs]
        n = 1 if lead < 0xC0 else 2 if lead < 0xE0 else 3 if lead < 0xF0 else 4
        n = min(n, len(text) - offs)
        symbols.append([offs, n, len(symbols) - 1, -1 if offs + n == len(text) else len(symbols) + 1])
        offs += n
    heap = []
    rev = {}

    def try_add(left, right):
        if left == -1 or right == -1:
            return
        start = symbols[left][0]
        piece = text[start:start + symbols[left][1] + symbols[right][1]]
        tid = index.get(piece)
        if tid is None:
            return
        heapq.heappush(heap, (-scores[tid], left, right, len(piece)))
        rev[piece] = (left, right)

    for i in range(1, len(symbols)):
        try_add(i - 1, i)
    while heap:
        _, left, right, size = heapq.heappop(heap)
        ls, rs = symbols[left], symbols[right]
        if ls[1] == 0 or rs[1] == 0 or ls[1] + rs[1] != size:
            continue
        ls[1] += rs[1]
        rs[1] = 0
        ls[3] = rs[3]
        if rs[3] >= 0:
            symbols[rs[3]][2] = left
        try_add(ls[2], left)
        try_add(left, ls[3])

    out = []

    def resegment(i):
        start, n = symbols[i][0], symbols[i][1]
        piece = text[start:start + n]
        if piece in index:
            out.append(index[piece])
        elif piece in rev:
            resegment(rev[piece][0])
            resegment(rev[piece][1])
        else:
            for b in piece:
                out.append(index[f"<0x{b:02X}>".encode()])

    i = 0 if symbols else -1
    while i != -1:
        resegment(i)
        i = symbols[i][3]
    return out


def gguf_llama(texts):
    import sentencepiece as spm

    folder = os.path.join(OUT, "gguf-llama")
    os.makedirs(folder, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        corpus = os.path.join(tmp, "corpus.txt")
        with open(corpus, "w", encoding="utf-8") as f:
            f.write("\n".join(corpus_lines()))
        prefix = os.path.join(tmp, "spm")
        spm.SentencePieceTrainer.train(
            input=corpus, model_prefix=prefix, vocab_size=1000, model_type="bpe", byte_fallback=True,
            character_coverage=0.995, user_defined_symbols=["<|im_start|>", "<|im_end|>"],
            minloglevel=2, add_dummy_prefix=True, remove_extra_whitespaces=False,
            normalization_rule_name="identity", split_digits=True,
        )
        sp = spm.SentencePieceProcessor(model_file=prefix + ".model")
    tokens, scores, types = [], [], []
    for i in range(sp.get_piece_size()):
        tokens.append(sp.id_to_piece(i))
        scores.append(sp.get_score(i))
        user_defined = tokens[-1] in ("<|im_start|>", "<|im_end|>")
        types.append(2 if sp.is_unknown(i) else 3 if sp.is_control(i) else 6 if sp.is_byte(i) else 4 if user_defined else 1)
    bos, eos, unk = sp.bos_id(), sp.eos_id(), sp.unk_id()
    cases = []
    agree = 0
    for text in texts:
        ids = reimplement_llama_cpp_spm(text, tokens, scores, types, True, bos)
        if ids[1:] == sp.encode(text):
            agree += 1
        cases.append({"text": text, "ids": ids})
    with open(os.path.join(folder, "vocab.json"), "w", encoding="utf-8") as f:
        json.dump({"tokens": tokens, "scores": scores, "types": types, "bos": bos, "eos": eos, "unk": unk},
                  f, ensure_ascii=False, separators=(",", ":"))
    with open(os.path.join(folder, "cases.json"), "w", encoding="utf-8") as f:
        json.dump({"cases": cases}, f, ensure_ascii=False, separators=(",", ":"))
    print(f"gguf-llama: {len(cases)} cases; sentencepiece itself agrees with the reimplementation on {agree}")


def main():
    texts = strings()
    os.makedirs(OUT, exist_ok=True)
    smol = os.path.join(OUT, "smollm2")
    os.makedirs(smol, exist_ok=True)
    for name in ("tokenizer.json", "tokenizer_config.json"):
        shutil.copy(os.path.join(SMOLLM2, name), os.path.join(smol, name))
    smol_tok = Tokenizer.from_file(os.path.join(smol, "tokenizer.json"))
    write_cases("smollm2", smol_tok, texts)
    try:
        from transformers import AutoTokenizer

        auto = AutoTokenizer.from_pretrained(smol)
        differ = sum(auto.encode(t) != smol_tok.encode(t).ids for t in texts)
        print(f"smollm2: transformers' AutoTokenizer encode differs from tokenizers on {differ} strings")
        differ = sum(
            auto.decode(smol_tok.encode(t).ids) != smol_tok.decode(smol_tok.encode(t).ids, skip_special_tokens=False)
            for t in texts
        )
        print(f"smollm2: transformers' decode differs from tokenizers on {differ} strings")
    except Exception as error:  # transformers is only a cross-check
        print(f"transformers cross-check skipped: {error}")
    for name, make in [
        ("llama3", llama3_style), ("qwen2", qwen2_style), ("llama2", llama2_style),
        ("metaspace", metaspace_style), ("misc", misc_style), ("misc2", misc2_style),
    ]:
        write_cases(name, save_tokenizer(name, make()), texts)
    gguf_llama(texts)


if __name__ == "__main__":
    main()
