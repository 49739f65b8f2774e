"""The error_taxonomy step: why a model lost to the reference, over all of its losses.

Every loss (the judge preferred the reference) is classified by `taxonomy`'s
seven classifiers (truncated, empty, repetitive, refusal, much shorter,
wrong language, leaked template; ``other`` for none) into
``error_taxonomy.json``: counts, rates (shares of the losses) and one
example per class.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

from ..io import JSON, is_blank, read_parquet, read_records, write_json
from ..preferences import is_loss
from ..taxonomy import CATEGORIES, classify


def finish_reasons(generations: Path) -> dict[str, Any]:
    """Finish reason per instruction; empty for imported outputs (no generation was run)."""
    table = read_parquet(generations)
    if "finish_reason" not in table.columns:
        return {}
    return dict(zip(table["instruction"], table["finish_reason"], strict=True))


def build_taxonomy(
    records: list[dict[str, Any]], reasons: dict[str, Any], discrete: bool, settings: dict[str, Any]
) -> dict[str, Any]:
    """Counts, rates (share of losses) and one example per class for one model."""
    losses = sorted((r for r in records if is_loss(r.get("preference"), discrete)), key=lambda r: r["prompt_index"])
    counts = dict.fromkeys(CATEGORIES, 0)
    examples: dict[str, dict[str, Any]] = {}
    for r in losses:
        for c in classify(r["output_2"], r["output_1"] or "", reasons.get(r["instruction"]), settings):
            counts[c] += 1
            examples.setdefault(
                c,
                {
                    "prompt_index": r["prompt_index"],
                    "instruction": r["instruction"],
                    "output": "" if is_blank(r["output_2"]) else str(r["output_2"]),
                    "reference_chars": len(r["output_1"] or ""),
                },
            )
    n = len(losses)
    return {
        "n_judged": len(records),
        "n_losses": n,
        "finish_reasons_known": bool(reasons),
        "settings": settings,
        "categories": {
            c: {"count": counts[c], "rate": counts[c] / n if n else 0.0, "example": examples.get(c)} for c in CATEGORIES
        },
    }


def run(
    *,
    annotations: Path,
    generations: Path,
    model: str,
    discrete: bool,
    settings: Annotated[dict[str, Any], JSON],
    taxonomy: Path,
) -> None:
    """The error_taxonomy step: classify one model's losses into ``error_taxonomy.json``.

    `settings` is the config's `error_taxonomy` section (defaults from the schema).
    """
    result = {"model": model, **build_taxonomy(read_records(annotations), finish_reasons(generations), discrete,
                                               settings)}  # fmt: skip
    write_json(taxonomy, result)
    print(json.dumps({c: v["count"] for c, v in result["categories"].items()}))
