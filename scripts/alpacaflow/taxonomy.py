"""The error taxonomy: why a model lost to the reference, one loss at a time, and the table of counts.

Each loss (the judge preferred the reference) is checked against seven
classifiers; one loss can fall in several classes, and a loss in none is
counted as ``other``:

* ``truncated``: generation stopped at ``max_new_tokens`` (finish reason
  ``length``, from ``generations.parquet``; unknown for imported outputs);
* ``empty``: blank output (the other classes are not checked then);
* ``repetitive``: the share of word n-grams that repeat an earlier one is
  at least a threshold;
* ``refusal``: an apology or refusal phrase near the start;
* ``much_shorter``: fewer characters than a fraction of the reference's;
* ``wrong_language``: `langdetect` (seeded) names another language than the
  reference's; the reference, not the instruction, decides, so that
  translation prompts count right. Only checked when both texts are long
  enough to detect;
* ``leaked_template``: the output holds a chat format's role header or
  special token (`template_leaks.find_leak`).

The error_taxonomy step classifies (`classify`); the report shows the
counts and rates of every model (`taxonomy_table`).
"""

from __future__ import annotations

import re
from typing import Any

import pandas as pd

from .io import is_blank
from .template_leaks import find_leak

CATEGORIES = [
    "truncated",
    "empty",
    "repetitive",
    "refusal",
    "much_shorter",
    "wrong_language",
    "leaked_template",
    "other",
]


REFUSAL = re.compile(
    r"\b(i(?:'m| am) (?:sorry|afraid|unable|not able)"
    r"|i (?:cannot|can't|can ?not|won't|will not|am not going to) (?:help|assist|provide|answer|comply|fulfil"
    r"|do that|create|write|generate|give|share|support|engage)"
    r"|as an ai\b|i(?:'m| am) (?:just |only )?an? (?:ai|language model|artificial intelligence)"
    r"|i (?:do not|don't) feel comfortable|i must (?:decline|refuse)|it(?: is|'s) not appropriate for me)",
    re.IGNORECASE,
)


REFUSAL_WINDOW = 300  # refusals come first; a later "I'm sorry" is usually part of an answer


def is_empty(output: Any) -> bool:
    return is_blank(output) or not str(output).strip()


def is_truncated(finish_reason: Any) -> bool:
    return finish_reason == "length"


def repeated_ngram_share(text: str, n: int) -> float:
    """Share of the word n-grams of `text` that already occurred earlier in it."""
    tokens = re.findall(r"\w+|[^\w\s]", text.lower())
    grams = [tuple(tokens[i : i + n]) for i in range(len(tokens) - n + 1)]
    return 1.0 - len(set(grams)) / len(grams) if grams else 0.0


def is_repetitive(text: str, n: int, threshold: float) -> bool:
    return repeated_ngram_share(text, n) >= threshold


def is_refusal(text: str) -> bool:
    return REFUSAL.search(text[:REFUSAL_WINDOW]) is not None


def is_much_shorter(text: str, reference: str, ratio: float) -> bool:
    return len(text.strip()) < ratio * len(reference.strip())


def detect_language(text: str, min_chars: int) -> str | None:
    """ISO code of the language of `text`, or None when it is too short (few letters) to tell."""
    from langdetect import DetectorFactory, LangDetectException, detect

    if sum(ch.isalpha() for ch in text) < min_chars:
        return None
    DetectorFactory.seed = 0  # langdetect samples; a fixed seed makes it deterministic
    try:
        return detect(text)
    except LangDetectException:
        return None


def is_wrong_language(text: str, reference: str, min_chars: int) -> bool:
    ours, theirs = detect_language(text, min_chars), detect_language(reference, min_chars)
    return ours is not None and theirs is not None and ours != theirs


def classify(output: Any, reference: str, finish_reason: Any, settings: dict[str, Any]) -> list[str]:
    """The error classes of one loss (``other`` when none applies)."""
    if is_empty(output):
        return ["empty", *(["truncated"] if is_truncated(finish_reason) else [])]
    text = str(output)
    checks = {
        "truncated": is_truncated(finish_reason),
        "repetitive": is_repetitive(text, settings["ngram"], settings["repeated_ngram_share"]),
        "refusal": is_refusal(text),
        "much_shorter": is_much_shorter(text, reference, settings["shorter_ratio"]),
        "wrong_language": is_wrong_language(text, reference, settings["min_language_chars"]),
        "leaked_template": find_leak(text) is not None,
    }
    return [c for c in CATEGORIES if checks.get(c)] or ["other"]


def taxonomy_table(taxonomies: list[dict[str, Any]]) -> pd.DataFrame:
    """Counts and rates per model, one row per class."""
    rows = []
    for c in CATEGORIES:
        row: dict[str, Any] = {"class": c}
        for t in taxonomies:
            cat = t["categories"][c]
            known = c != "truncated" or t["finish_reasons_known"]
            row[t["model"]] = f"{cat['count']} ({100 * cat['rate']:.0f}%)" if known else "n/a (imported)"
        rows.append(row)
    return pd.DataFrame(rows)
