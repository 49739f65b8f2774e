r"""Leaked chat templates: an output that holds a chat format's role header or special token.

A model prompted in a format it was not trained on, or decoded with its
special tokens stripped, writes the format's markup into its answers: a
Llama-3 model that generates its assistant header again and is decoded
without special tokens opens every answer with ``assistant\n\n``. The judge
then compares those texts and nothing says so. `find_leak` looks for the
markup of the common formats at an output's start or inside it; the
leaderboard counts leaks per model (``leaked_template``), the error taxonomy
counts them among losses, generate logs them, and the report opens with a
warning where more than `WARN_SHARE` of a model's outputs leak.

A ``<think>`` opening (a reasoning model thinking aloud) is not a leak and
is counted apart (`opens_with_think`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

#: Share of a model's outputs above which the report and the generate log warn.
WARN_SHARE = 0.02

#: Special tokens and role markers by chat format; found anywhere in an output.
MARKERS: dict[str, tuple[str, ...]] = {
    "Llama-3": ("<|begin_of_text|>", "<|start_header_id|>", "<|end_header_id|>", "<|eot_id|>", "<|eom_id|>"),
    "ChatML": ("<|im_start|>", "<|im_end|>"),
    "Alpaca": ("### Instruction:", "### Response:", "### Input:"),
    "Llama-2/Mistral": ("[INST]", "[/INST]", "<<SYS>>", "<</SYS>>"),
    "Gemma": ("<start_of_turn>", "<end_of_turn>"),
    "Phi-3/Zephyr": ("<|user|>", "<|assistant|>", "<|system|>", "<|end|>"),
    "end-of-text token": ("<|endoftext|>", "<|end_of_text|>"),
}
#: A role header decoded without its special tokens (Llama-3 ``assistant\n\n``, ChatML ``assistant\n``) at the start.
BARE_ROLE_OPENING = re.compile(r"\A[ \t]*(assistant|user|system)[ \t]*\r?\n")
#: The same glued to the end of a sentence inside an answer (``...done.assistant\n\n``): a turn written on.
BARE_ROLE_INSIDE = re.compile(r"[.!?:)\]\"'](assistant|user)[ \t]*\r?\n")
THINK_OPEN = "<think>"


@dataclass(frozen=True)
class Leak:
    """Where an output shows a chat format: the format, the text found, and whether it opens the output."""

    chat_format: str
    marker: str
    at_start: bool


def find_leak(output: Any) -> Leak | None:
    """The first chat-format markup in `output` (None for clean or non-text outputs)."""
    if not isinstance(output, str) or not output.strip():
        return None
    opening = BARE_ROLE_OPENING.match(output)
    if opening:
        return Leak("bare role header (special tokens stripped)", opening.group(0).strip(" \t"), True)
    found = [(output.find(m), name, m) for name, markers in MARKERS.items() for m in markers if m in output]
    if found:
        at, name, marker = min(found)
        return Leak(name, marker, not output[:at].strip())
    inside = BARE_ROLE_INSIDE.search(output)
    if inside:
        return Leak("bare role header (special tokens stripped)", inside.group(0)[1:].strip(" \t"), False)
    return None


def opens_with_think(output: Any) -> bool:
    """True when `output` opens with a ``<think>`` block (reasoning, counted apart from leaks)."""
    return isinstance(output, str) and output.lstrip().startswith(THINK_OPEN)


def leak_summary(outputs: list[Any]) -> dict[str, Any]:
    """Counts over `outputs`: leaked (with the most common format and one example), and ``<think>`` openings."""
    leaks = [(o, leak) for o in outputs if (leak := find_leak(o)) is not None]
    formats: dict[str, int] = {}
    for _, leak in leaks:
        formats[leak.chat_format] = formats.get(leak.chat_format, 0) + 1
    top = max(formats, key=formats.__getitem__) if formats else None
    example = next(((o, leak) for o, leak in leaks if leak.chat_format == top), None)
    return {
        "n": len(outputs),
        "leaked_template": len(leaks),
        "think_opening": sum(opens_with_think(o) for o in outputs),
        "formats": formats,
        "example": None
        if example is None
        else {"output": example[0][:200], "marker": example[1].marker, "at_start": example[1].at_start},  # fmt: skip
        "chat_format": top,
    }


def leak_warning(name: str, summary: dict[str, Any], what: str = "outputs") -> str | None:
    """A warning sentence when more than `WARN_SHARE` of `name`'s outputs leak a chat template, else None."""
    n, leaked = summary["n"], summary["leaked_template"]
    if not n or leaked / n <= WARN_SHARE:
        return None
    example = summary["example"]
    where = "open with" if example["at_start"] else "contain"
    return (
        f"{name}: {leaked} of {n} {what} ({100 * leaked / n:.1f}%) {where} chat-template markup "
        f"({summary['chat_format']}: {example['marker']!r}), e.g. {example['output'][:80]!r}. "
        "Likely cause: the prompt format does not match how the model was trained (check `prompt_format`, "
        "the chat template and that special tokens are not stripped from a header the model wrote again); "
        "the judge compared these texts as they are."
    )
