"""Build tiny random-weight Llama models for the offline CPU demo and the tests.

The Hugging Face hub is unreachable from CI, so the demo and the test suite
build their own models: a byte-level BPE tokenizer trained with `tokenizers`
on the demo prompts, wrapped as a `PreTrainedTokenizerFast`, and a
`LlamaForCausalLM` with random weights saved with `save_pretrained`.

Two variants mirror the real pair of models:

* ``base`` (like ``meta-llama/Llama-3.2-1B``): no chat template, EOS
  ``<|end_of_text|>``, BOS added by the tokenizer.
* ``chat`` (like ``W-61/hh-llama32-1b-sft``): a Llama-3-style chat template
  and ``<|eot_id|>`` as end of turn.

Usage: ``python -m alpacaflow.tiny OUT_DIR [--corpus prompts.json]``.
Building is idempotent: an existing complete model directory is kept.
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Iterable
from pathlib import Path

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


def build_tiny_model(
    out_dir: Path,
    chat: bool,
    corpus_file: Path | None = None,
    num_layers: int = 2,
    seed: int = 0,
) -> Path:
    """Write a tiny random Llama model and its tokenizer to `out_dir`."""
    import torch
    from transformers import GenerationConfig, LlamaConfig, LlamaForCausalLM

    out_dir = Path(out_dir)
    if (out_dir / "config.json").exists() and (out_dir / "tokenizer.json").exists():
        return out_dir
    tokenizer = _hf_tokenizer(train_tokenizer(_corpus(corpus_file)), chat=chat)
    eos_ids = [tokenizer.convert_tokens_to_ids(t) for t in ("<|end_of_text|>", "<|eot_id|>")]
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
        **TINY_ARCH,
    )
    torch.manual_seed(seed)
    model = LlamaForCausalLM(config)
    model.generation_config = GenerationConfig(
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=eos_ids if chat else tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
    )
    tmp = out_dir.with_name(out_dir.name + ".partial")
    model.save_pretrained(tmp)
    tokenizer.save_pretrained(tmp)
    tmp.rename(out_dir)
    return out_dir


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out_dir", type=Path, help="folder that receives base/ and chat/")
    parser.add_argument("--corpus", type=Path, default=None, help="prompts JSON to train on")
    parser.add_argument("--layers", type=int, default=2)
    args = parser.parse_args(argv)
    for name, chat in (("base", False), ("chat", True)):
        path = build_tiny_model(args.out_dir / name, chat, args.corpus, args.layers)
        print(f"tiny {name} model: {path}")


if __name__ == "__main__":
    main()
