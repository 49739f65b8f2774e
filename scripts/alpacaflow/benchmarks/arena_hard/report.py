"""Arena-Hard-Auto's part of the report: a section per version (its scores, comparability, losses)."""

from __future__ import annotations

from pathlib import Path

from ...board import arena_markdown, read_leaderboard
from ...findings import (
    arena_findings,
)


def sections(leaderboard: Path, protocols: list[Path], samples: list[Path]) -> list[str]:
    """A section per Arena-Hard version: its scores, whether they compare with the published leaderboard, losses.

    `samples` are the error_sample step's Markdown of each (model, version),
    ``<model>/arena_hard-<v>/error_sample.md``.
    """
    lines: list[str] = []
    for found in arena_findings(read_leaderboard(leaderboard, None, None), protocols):
        judges = ", ".join(found["judges"])
        comparable = (
            f"The judge is the version's official one ({found['official_judge']}): the scores compare with the "
            "published Arena-Hard-Auto leaderboard."
            if found["comparable"]
            else f"**Not comparable with the published leaderboard:** judged by {judges} "
            f"({'; '.join(found['identities'])}), while the version's official judge is {found['official_judge']} "
            "at OpenAI's API."
        )
        lines += [
            f"## Arena-Hard-Auto {found['benchmark'].removeprefix('arena_hard-')}",
            "",
            "Every model answered each question; the judge compared each answer with its category's baseline twice, "
            "once with each answer shown first. A decisive verdict counts as three battles; a question where either "
            "game has no verdict is left out. The score is the share of battles won against the baseline, the mean "
            "of the bootstrap rounds, with their 5%-95% interval (as the official `show_result.py` shows it); each "
            "category is scored apart, against its own baseline. The style-controlled score is the win probability "
            "against the baseline once a Bradley-Terry model has accounted for answer length and Markdown density "
            "(`show_result.py -f markdown length`); a model far below its score wins by style. The answers and "
            "judgments are also in the official layout under `official/data/`.",
            "",
            arena_markdown(found["rows"]),
            comparable,
            "",
        ]
        for reference, rows in found["heads"].groupby("reference", sort=False):
            lines += [f"Head to head against {reference} (its answers in the baseline's place, scored the same way):",
                      "", arena_markdown(rows)]  # fmt: skip
        losses = [Path(p) for p in samples if Path(p).parent.name == found["benchmark"]]
        if losses:
            lines += ["Losses to the baseline, drawn at random for error analysis (both games' labels; preference "
                      "1-2 is the share of battles the model won, plus 1):", ""]  # fmt: skip
            lines += [p.read_text(encoding="utf-8") for p in losses]
    return lines
