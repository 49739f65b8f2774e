"""Prompt formatting and stop tokens, shared by every generation backend.

Prompts are turned into token ids here, once, so the vLLM and transformers
backends decode from exactly the same input. Three formats:

* ``alpaca``: the Alpaca instruction template, tokenized with the
  tokenizer's special tokens (BOS for Llama);
* ``chat``: the tokenizer's chat template with a generation prompt;
* ``chat`` on a tokenizer without a template: the Llama-3 header format,
  provided the tokenizer knows the Llama-3 header tokens.

Every format yields exactly one BOS on a tokenizer that has one (the
template's, or the tokenizer's for ``alpaca``): `check_bos` stops a run whose
prompts would start with BOS twice, and says how many each prompt has.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from .errors import AlpacaflowError

ALPACA_TEMPLATE = (
    "Below is an instruction that describes a task. "
    "Write a response that appropriately completes the request.\n\n"
    "### Instruction:\n{instruction}\n\n### Response:\n"
)

LLAMA3_HEADER_TEMPLATE = (
    "{bos}<|start_header_id|>user<|end_header_id|>\n\n{instruction}<|eot_id|>"
    "<|start_header_id|>assistant<|end_header_id|>\n\n"
)

#: End-of-turn markers of common chat formats; those in the vocabulary stop generation.
END_OF_TURN_TOKENS = ("<|eot_id|>", "<|end_of_text|>", "<|eom_id|>", "<|im_end|>", "<end_of_turn>", "</s>")


@dataclass(frozen=True)
class FormattedPrompt:
    """A prompt as text (for the record) and as the token ids actually decoded from."""

    text: str
    token_ids: list[int]


def _llama3_fallback(tokenizer: Any, instruction: str) -> str:
    vocab = tokenizer.get_vocab()
    if not all(tok in vocab for tok in ("<|start_header_id|>", "<|end_header_id|>", "<|eot_id|>")):
        raise AlpacaflowError(
            f"tokenizer {getattr(tokenizer, 'name_or_path', '')!s} has no chat template and no Llama-3 "
            "header tokens; set this model's prompt_format to 'alpaca'"
        )
    return LLAMA3_HEADER_TEMPLATE.format(bos=tokenizer.bos_token or "", instruction=instruction)


def format_prompt(tokenizer: Any, instruction: str, prompt_format: str) -> FormattedPrompt:
    """Render one instruction in `prompt_format` and tokenize it."""
    if prompt_format == "alpaca":
        text = ALPACA_TEMPLATE.format(instruction=instruction)
        return FormattedPrompt(text, list(tokenizer(text, add_special_tokens=True)["input_ids"]))
    if prompt_format != "chat":
        raise AlpacaflowError(f"unknown prompt_format '{prompt_format}' (use 'chat' or 'alpaca')")
    if getattr(tokenizer, "chat_template", None):
        messages = [{"role": "user", "content": instruction}]
        text = tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
    else:
        text = _llama3_fallback(tokenizer, instruction)
    # The rendered text already carries BOS (template or fallback): add nothing.
    return FormattedPrompt(text, list(tokenizer(text, add_special_tokens=False)["input_ids"]))


def stop_token_ids(tokenizer: Any, generation_eos: int | list[int] | None = None) -> list[int]:
    """EOS of the tokenizer and of the generation config, plus end-of-turn tokens in the vocabulary."""
    ids: set[int] = set()
    if tokenizer.eos_token_id is not None:
        ids.add(int(tokenizer.eos_token_id))
    if isinstance(generation_eos, int):
        ids.add(generation_eos)
    elif generation_eos:
        ids.update(int(i) for i in generation_eos)
    vocab = tokenizer.get_vocab()
    ids.update(vocab[tok] for tok in END_OF_TURN_TOKENS if tok in vocab)
    return sorted(ids)


def leading_bos(token_ids: list[int], bos_id: int | None) -> int:
    """How many BOS tokens a prompt starts with."""
    n = 0
    while bos_id is not None and n < len(token_ids) and token_ids[n] == bos_id:
        n += 1
    return n


def check_bos(tokenizer: Any, prompts: list[FormattedPrompt], prompt_format: str) -> str:
    """Stop on prompts that start with BOS twice; one line saying how the first prompt starts.

    A tokenizer without BOS (Qwen's, say) is left alone; a prompt without BOS
    on a tokenizer that has one is reported, not stopped (some templates leave it out).
    """
    bos_id = tokenizer.bos_token_id
    counts = [leading_bos(p.token_ids, bos_id) for p in prompts]
    twice = next((i for i, n in enumerate(counts) if n > 1), None)
    if twice is not None:
        raise AlpacaflowError(
            f"prompt format '{prompt_format}' gives prompt {twice} {counts[twice]} BOS tokens "
            f"({prompts[twice].token_ids[:6]}...): the text already carries BOS and the tokenizer added another"
        )
    head = prompts[0].token_ids[:8] if prompts else []
    if bos_id is None:
        return f"prompt format '{prompt_format}': token ids start {head} (the tokenizer has no BOS)"
    without = sum(n == 0 for n in counts)
    start = f"prompt format '{prompt_format}': token ids start {head}"
    if without:
        return f"{start}; {without} of {len(prompts)} prompts have no BOS"
    return f"{start}, one BOS ({bos_id}) per prompt"
