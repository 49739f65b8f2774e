"""The judge's prompts: alpaca_eval's templates rendered for a Llama-3 judge, tokenized, fitted to its context.

* ``ranking``: the CS336 ``alpaca_eval_vllm_llama3_3_70b_fn`` prompt, i.e.
  the ranking template alpaca_eval ships for
  ``alpaca_eval_vllm_llama3_70b_fn``, with Llama-3 header tokens written out
  around the system and user turns, no chat-template preamble, ending in
  the assistant header and one newline;
* ``weighted``: ``weighted_alpaca_eval_gpt4_turbo``'s classification prompt,
  the assistant header ending in the standard blank line.

`judge_prompt_ids` is how a local judge tokenizes them (`judge_bos_line`
says how many BOS tokens that gives); `fit_to_context` cuts outputs too long
for a local judge's context and flags them.
"""

from __future__ import annotations

import functools
import json
import logging
from typing import Any

import pandas as pd

from .errors import AlpacaflowError
from .formatting import leading_bos
from .judge_settings import RANKING_SOURCE, WEIGHTED_SOURCE, alpaca_eval_template

#: Tokens kept free in the judge's context (tokenization at the joins can differ by a few).
CONTEXT_MARGIN = 16


def llama3_header_prompt(chatml_template: str, assistant_suffix: str) -> str:
    """Render a ChatML template with the Llama-3 header tokens written out (no chat-template preamble)."""
    from alpaca_eval.utils import prompt_to_chatml

    turns = "".join(
        f"<|start_header_id|>{m['role']}<|end_header_id|>\n\n{m['content']}<|eot_id|>"
        for m in prompt_to_chatml(chatml_template)
    )
    return f"<|begin_of_text|>{turns}<|start_header_id|>assistant<|end_header_id|>{assistant_suffix}"


def ranking_template() -> str:
    """The course's ranking prompt: assistant header followed by a single newline, as in the course file."""
    return llama3_header_prompt(alpaca_eval_template(RANKING_SOURCE), "\n")


def weighted_template() -> str:
    """weighted_alpaca_eval_gpt4_turbo's classification prompt for a Llama-3 judge.

    The assistant header ends in the standard blank line, so that the one
    token read is the answer itself.
    """
    return llama3_header_prompt(alpaca_eval_template(WEIGHTED_SOURCE), "\n\n")


def render(template: str, instruction: str, output_1: str, output_2: str) -> str:
    """A judge prompt as alpaca_eval fills its template (the order of the outputs aside)."""
    filled = template.replace("{instruction}", instruction)
    return filled.replace("{output_1}", output_1).replace("{output_2}", output_2)


def judge_prompt_ids(judge: dict[str, Any], tokenizer: Any, text: str) -> list[int]:
    """The token ids a local vLLM judge decodes from for one rendered prompt.

    The weighted judge is given token ids, tokenized here without special
    tokens (its prompt text starts with BOS): one BOS. The ranking judge's
    text goes to vLLM through alpaca_eval's ``vllm_local_completions``, and
    vLLM tokenizes a text prompt with the tokenizer's special tokens, so a
    Llama-3 judge sees BOS twice, as in the course's set-up (kept for
    comparability; `test_realistic` checks both counts against vLLM itself).
    """
    return judge_prompt_ids_many(judge, tokenizer, [text])[0]


def judge_prompt_ids_many(judge: dict[str, Any], tokenizer: Any, texts: list[str]) -> list[list[int]]:
    """`judge_prompt_ids` of many prompts, tokenized as one batch."""
    if not texts:
        return []
    return [list(ids) for ids in tokenizer(list(texts), add_special_tokens=judge["method"] == "ranking")["input_ids"]]


def judge_bos_line(judge: dict[str, Any], tokenizer: Any, text: str) -> str:
    """One line on how the judge's prompt starts; stops a weighted judge whose prompt has BOS twice."""
    ids = judge_prompt_ids(judge, tokenizer, text)
    n = leading_bos(ids, tokenizer.bos_token_id)
    if judge["method"] == "weighted" and n > 1:
        raise AlpacaflowError(f"the weighted judge's prompt starts with {n} BOS tokens ({ids[:6]}...); expected one")
    why = " (the ranking prompt's own and vLLM's, as in the course's judge set-up)" if n == 2 else ""
    return f"judge prompt token ids start {ids[:8]}: {n} BOS{why}"


def judge_tokenizer(judge: dict[str, Any]) -> Any:
    """A local judge's tokenizer (None for an API judge), loaded once per process.

    The annotate step needs it twice (context fitting, and the weighted
    judge's token ids); a real 128k-token tokenizer takes about 2 s to load on
    CPU (bench/NOTES.md). It is only read from, never changed.
    """
    if judge["backend"] != "vllm":
        return None
    return _load_tokenizer(judge["model"], judge.get("revision"))


@functools.lru_cache(maxsize=4)
def _load_tokenizer(model: str, revision: str | None) -> Any:
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(model, revision=revision)


def fit_to_context(pairs: pd.DataFrame, judge: dict[str, Any], template: str, tokenizer: Any) -> pd.DataFrame:
    """Cut outputs that would not fit a local judge's context; flag them in `truncated_for_judge`.

    The prompt's fixed part and the instruction are counted with the judge's
    tokenizer; what is left of ``max_model_len`` (less the tokens the judge
    writes and a small margin) is shared by the two outputs, the longer one
    cut first. API judges (no `tokenizer`) are not cut (their context is far larger).
    """
    pairs = pairs.assign(truncated_for_judge=False)
    if tokenizer is None:
        return pairs

    def encode(column: str) -> list[list[int]]:  # one batch per column
        texts = pairs[column].tolist()
        return tokenizer(texts, add_special_tokens=False)["input_ids"] if texts else []

    writes = judge["max_new_tokens"] if judge["method"] == "ranking" else 1
    fixed = len(judge_prompt_ids(judge, tokenizer, render(template, "", "", "")))
    limit = judge["max_model_len"] - writes - fixed - CONTEXT_MARGIN
    encoded = zip(encode("instruction"), encode("output_1"), encode("output_2"), strict=True)
    for row, (ids_0, ids_1, ids_2) in zip(pairs.itertuples(), encoded, strict=True):
        budget = limit - len(ids_0)
        if len(ids_1) + len(ids_2) <= budget:
            continue
        if budget < 2:
            raise AlpacaflowError(
                f"prompt {row.prompt_index}: the instruction alone fills the judge's context "
                f"(judge.max_model_len={judge['max_model_len']})"
            )
        keep_1, keep_2 = share_budget(len(ids_1), len(ids_2), budget)
        pairs.loc[row.Index, ["output_1", "output_2", "truncated_for_judge"]] = [
            tokenizer.decode(ids_1[:keep_1]),
            tokenizer.decode(ids_2[:keep_2]),
            True,
        ]
    cut = int(pairs["truncated_for_judge"].sum())
    if cut:
        logging.warning(
            "%d pair(s) too long for the judge's context (max_model_len=%d) were cut to fit",
            cut,
            judge["max_model_len"],
        )
    return pairs


def fit_texts(judge: dict[str, Any], fixed: list[dict], texts: list[str], max_tokens: int) -> tuple[list[str], bool]:
    """`texts` (one or two answers a judge's chat messages show), cut to fit a local judge's context; whether cut.

    `fixed` are the messages without the texts; the judge writes up to
    `max_tokens`. Two texts share what is left, the longer cut first
    (`share_budget`), as `fit_to_context` shares them for alpaca_eval's
    pairs. An API judge's texts stay as they are.
    """
    tokenizer = judge_tokenizer(judge)
    if tokenizer is None:
        return texts, False
    used = len(tokenizer(json.dumps(fixed), add_special_tokens=False)["input_ids"])
    budget = judge["max_model_len"] - max_tokens - used - CONTEXT_MARGIN
    ids = [tokenizer(text, add_special_tokens=False)["input_ids"] for text in texts]
    if sum(len(i) for i in ids) <= budget:
        return texts, False
    budget = max(budget, len(texts))
    keep = (budget,) if len(texts) == 1 else share_budget(len(ids[0]), len(ids[1]), budget)
    return [tokenizer.decode(i[:k]) for i, k in zip(ids, keep, strict=True)], True


def share_budget(n_1: int, n_2: int, budget: int) -> tuple[int, int]:
    """Token counts to keep of two outputs so that they fit `budget`, cutting the longer first."""
    half = budget // 2
    if n_1 <= half:
        return n_1, budget - n_1
    if n_2 <= half:
        return budget - n_2, n_2
    return half, budget - half
