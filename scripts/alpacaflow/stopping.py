"""Stop rules and reasoning blocks: from generated token ids to the output text the judge reads.

A model stops at token ids (the tokenizer's EOS, the generation config's EOS,
the end-of-turn markers among its added tokens, and the model's ``stop_token_ids``)
and at strings (its ``stop``; for the Alpaca format, by default, the
template's next header). Both backends are given both rules (vLLM:
``SamplingParams.stop_token_ids`` and ``stop``; transformers: ``eos_token_id``
and ``stop_strings`` with the tokenizer) and stop where one applies. `finish`
then decides, the same way for both, where the output text ends (before the
stop token or stop string, which are not part of it), how many tokens were
generated, and which rule stopped it (``stop_rule``: ``eos``,
``stop_token_ids``, ``stop``; none when ``max_new_tokens`` ran out).

Reasoning models (Qwen3 with thinking on) may open their answer with a
``<think>...</think>`` block. ``reasoning: keep`` leaves it in the output;
``strip`` removes it. Either way its tokens are counted apart, and an output
still inside an open ``<think>`` when ``max_new_tokens`` ran out is marked
truncated in reasoning.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from typing import Any

THINK_OPEN, THINK_CLOSE = "<think>", "</think>"

#: End-of-turn markers of common chat formats; those among a tokenizer's added tokens stop generation.
END_OF_TURN_TOKENS = ("<|eot_id|>", "<|end_of_text|>", "<|eom_id|>", "<|im_end|>", "<end_of_turn>", "</s>")


@dataclass(frozen=True)
class StopRules:
    """Where a model's generation stops."""

    token_ids: list[int]  # every stop token id: the end-of-sequence ones and the configured ones
    configured_ids: list[int]  # the model's own `stop_token_ids`
    strings: list[str]  # the model's `stop`

    def describe(self) -> str:
        """One log line."""
        eos = sorted(set(self.token_ids) - set(self.configured_ids))
        return (
            f"stop rules: end-of-sequence token ids {eos}, stop_token_ids {self.configured_ids}, "
            f"stop strings {self.strings}"
        )


@dataclass(frozen=True)
class Finished:
    """One output as the judge reads it, and how its generation ended."""

    text: str
    token_ids: list[int]  # the generated ids the text comes from (no stop token; through a stop string)
    output_tokens: int  # tokens generated, the stop token included
    finish_reason: str  # stop | length
    stop_rule: str | None  # eos | stop_token_ids | stop; None for length
    stop_match: str | None  # the stop token id or stop string that matched
    opens_with_think: bool
    reasoning_tokens: int  # tokens of the leading <think> block (all of them while it is open)
    truncated_in_reasoning: bool


def eos_token_ids(tokenizer: Any, generation_eos: int | list[int] | None = None) -> list[int]:
    """EOS of the tokenizer and of the generation config, plus the end-of-turn markers among its added tokens."""
    ids: set[int] = set()
    if tokenizer.eos_token_id is not None:
        ids.add(int(tokenizer.eos_token_id))
    if isinstance(generation_eos, int):
        ids.add(generation_eos)
    elif generation_eos:
        ids.update(int(i) for i in generation_eos)
    added = tokenizer.get_added_vocab()  # special markers only: Qwen's BPE also has "</s>" as plain text
    ids.update(added[tok] for tok in END_OF_TURN_TOKENS if tok in added)
    return sorted(ids)


def stop_rules(tokenizer: Any, settings: dict[str, Any], generation_eos: int | list[int] | None = None) -> StopRules:
    """A model's stop rules from its resolved settings (``stop``, ``stop_token_ids``)."""
    configured = sorted({int(i) for i in settings["stop_token_ids"]})
    every = sorted(set(eos_token_ids(tokenizer, generation_eos)) | set(configured))
    return StopRules(every, configured, list(settings["stop"]))


def tokens_through(tokenizer: Any, token_ids: list[int], needle: str) -> int:
    """The fewest leading tokens whose decoded text contains `needle` (len(token_ids) if none do).

    Binary search: a longer prefix decodes to a longer text.
    """
    lo, hi = 1, len(token_ids)
    while lo < hi:
        mid = (lo + hi) // 2
        if needle in tokenizer.decode(token_ids[:mid], skip_special_tokens=True):
            hi = mid
        else:
            lo = mid + 1
    return hi


def first_stop_string(text: str, strings: list[str]) -> tuple[int, str] | None:
    """(position, string) of the stop string that appears first in `text`, if any."""
    found = [(text.find(s), s) for s in strings if s in text]
    return min(found) if found else None


def _reasoning(text: str, token_ids: list[int], tokenizer: Any) -> tuple[bool, int, str | None]:
    """(opens with <think>, tokens of the block, the text after a closed block or None while open)."""
    if not text.lstrip().startswith(THINK_OPEN):
        return False, 0, None
    close = text.find(THINK_CLOSE)
    if close < 0:
        return True, len(token_ids), None
    return True, tokens_through(tokenizer, token_ids, THINK_CLOSE), text[close + len(THINK_CLOSE) :].lstrip()


def finish(tokenizer: Any, completion: Any, rules: StopRules, reasoning: str) -> Finished:
    """Decode one `engines.base.Completion` and apply the stop strings and the reasoning rule."""
    ids = list(completion.token_ids)
    text = tokenizer.decode(ids, skip_special_tokens=True)
    generated, reason = completion.generated_tokens, completion.finish_reason
    rule: str | None = None
    match: str | None = None
    hit = first_stop_string(text, rules.strings)
    if hit is not None:  # the engine stopped at this string (anything after it is padding)
        position, match = hit
        generated = tokens_through(tokenizer, ids, match)
        ids, text, reason, rule = ids[:generated], text[:position], "stop", "stop"
    elif reason == "stop":
        stop_id = completion.stop_token_id
        rule = "stop_token_ids" if stop_id in rules.configured_ids else "eos"
        match = None if stop_id is None else str(stop_id)
    opens, reasoning_tokens, answer = _reasoning(text, ids, tokenizer)
    if opens and reasoning == "strip":
        text = answer or ""
    return Finished(
        text=text,
        token_ids=ids,
        output_tokens=generated,
        finish_reason=reason,
        stop_rule=rule,
        stop_match=match,
        opens_with_think=opens,
        reasoning_tokens=reasoning_tokens,
        truncated_in_reasoning=opens and answer is None and reason == "length",
    )


def summary_line(finished: list[Finished], reasoning: str) -> str:
    """How outputs ended and how many opened with <think>, for the generate log."""
    n = len(finished)
    counts = Counter(f.stop_rule or "max_new_tokens" for f in finished)
    ended = ", ".join(f"{count} by {rule}" for rule, count in sorted(counts.items()))
    opened = sum(f.opens_with_think for f in finished)
    stuck = sum(f.truncated_in_reasoning for f in finished)
    return (
        f"{n} outputs ended: {ended}; {opened} of {n} open with {THINK_OPEN} (reasoning: {reasoning}); "
        f"{stuck} hit max_new_tokens inside {THINK_OPEN}"
    )
