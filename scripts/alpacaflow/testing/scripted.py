r"""Scripted models on the real tokenizers: a greedy next token that depends only on the current token.

Set so that after a prompt's last token the model writes a given text (the
prompt-format and stop-rule tests). Every layer's output projections are
zero, so the residual stream is the current token's embedding: a one-hot
vector for each scripted token, which the output head maps to its successor.

* ``writer`` (Llama-3.2 tokenizer, no chat template, like a base model): after
  the Alpaca prompt it writes ``Paris is the capital of France.`` and then a
  second ``### Instruction:`` block, again and again, as base models do; after
  a Llama-3 chat prompt it writes ``Hello world``, ``<|python_tag|>``, `` Bye``
  and ``<|eot_id|>``.
* ``qwen3`` (Qwen3 tokenizer and chat template, Qwen3 architecture): after
  ``<|im_start|>assistant\n`` (thinking on) it writes ``<think>Let me
  think.\n</think>\n\nThe answer is four!<|im_end|>``; after the empty think
  block that ``enable_thinking: false`` puts in the prompt, the answer alone.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ..errors import AlpacaflowError
from .checkpoints import LLAMA3_ARCH, TINY_ARCH, _is_built, _save
from .tokenizers import LLAMA3_EOS, llama3_tokenizer, qwen3_tokenizer

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
