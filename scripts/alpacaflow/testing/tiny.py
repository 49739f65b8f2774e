r"""Build tiny models (random-weight or scripted) for the offline CPU demo and the tests.

The Hugging Face hub is unreachable from CI, so the demo and the test suite
build their own models: a `LlamaForCausalLM` with random weights saved with
`save_pretrained` (`checkpoints`), on a toy or a real tokenizer (`tokenizers`),
and scripted models (`scripted`). Variants mirror the real models:

* ``base`` (like ``meta-llama/Llama-3.2-1B``): no chat template, EOS
  ``<|end_of_text|>``, BOS added by the tokenizer.
* ``chat`` (like ``W-61/hh-llama32-1b-sft``): a Llama-3 chat template and
  ``<|eot_id|>`` as end of turn: a Llama-3-style one on the toy tokenizer, the
  template file given (Meta's Llama-3.2-Instruct template in the tests) on the
  real one.
* ``judge`` (real tokenizer only): like ``chat``, other random weights.

Usage: ``python -m alpacaflow.testing.tiny OUT_DIR [--corpus prompts.json]`` (toy:
base, chat, sweep/checkpoint-{100,200,300} for the demo's checkpoint sweep, and
o200k_base.tiktoken for the demo's Arena-Hard style metadata), or
``python -m alpacaflow.testing.tiny OUT_DIR --llama3 --chat-template FILE`` (real
tokenizers: base, chat, judge, writer, qwen3). Building is idempotent: an
existing complete model directory is kept.
"""

from __future__ import annotations

import argparse
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from ..errors import AlpacaflowError
from .checkpoints import LLAMA3_ARCH, TINY_ARCH, _is_built, _save_random_llama
from .scripted import build_qwen3_model, build_writer_model
from .tokenizers import LLAMA3_EOS, _corpus, _hf_tokenizer, llama3_tokenizer, o200k_base_file, train_tokenizer


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


def build_llama3_model(
    out_dir: Path,
    variant: str,
    chat_template: Path | None = None,
    *,
    num_layers: int = 2,
    seed: int = 0,
    arch: dict[str, Any] | None = None,
    dtype: str = "float32",
) -> Path:
    """Write a random Llama on the real Llama-3.2 tokenizer to `out_dir` (tiny unless `arch` says otherwise).

    `variant` is ``base`` (no chat template) or ``chat`` (with `chat_template`,
    a Jinja file; the judge is a chat model with another seed). `arch`: the
    shape (default `LLAMA3_ARCH`; `LLAMA32_1B_ARCH` for the GPU benchmark).
    """
    out_dir = Path(out_dir)
    if _is_built(out_dir):
        return out_dir
    if variant == "chat" and chat_template is None:
        raise AlpacaflowError("a chat model on the Llama-3.2 tokenizer needs a chat template file")
    template = Path(chat_template).read_text(encoding="utf-8") if variant == "chat" else None
    tokenizer = llama3_tokenizer(variant, template)
    eos_ids = [tokenizer.convert_tokens_to_ids(t) for t in LLAMA3_EOS[variant]]
    return _save_random_llama(out_dir, tokenizer, eos_ids, arch or LLAMA3_ARCH, num_layers=num_layers, seed=seed,
                              dtype=dtype)  # fmt: skip


#: Real-tokenizer models: name -> (variant, seed).
LLAMA3_MODELS = {"base": ("base", 1), "chat": ("chat", 2), "judge": ("chat", 3)}


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
    print(f"tiktoken encoding: {o200k_base_file(args.out_dir / 'o200k_base.tiktoken')}")


if __name__ == "__main__":
    main()
