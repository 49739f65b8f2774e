"""The leaderboard step: alpaca_eval's win rate and length-controlled win rate of every (model, reference), offline.

Each pair's numbers come from `metrics.winrate.model_metrics` (alpaca_eval's
`get_winrate` and `get_length_controlled_winrate`, with the gaps around them
closed there); the table's columns, reader and Markdown form are `board`'s.
Rows are grouped by reference (the prompt set's first), each group sorted by
LC win rate (by win rate after the others where LC is n/a).
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from ..board import LEADERBOARD_COLUMNS, SPEED_COLUMNS, leaderboard_markdown
from ..config import PROMPT_REFERENCE
from ..io import atomic_path, read_records, read_throughput, write_text
from ..metrics.winrate import model_metrics


def build_leaderboard(
    models: list[str],
    annotations: list[Path],
    throughputs: list[Path],
    df_gamed: Path,
    references: list[str] | None = None,
) -> pd.DataFrame:
    """One row per (model, reference): the references in the order given, each sorted by LC win rate.

    `models`, `annotations` and `references` run in parallel (one entry per
    pair; references default to the prompt set's); `throughputs` has one
    file per model, in the order of the models' first appearance.
    """
    references = references or [PROMPT_REFERENCE] * len(models)
    speeds = dict(zip(dict.fromkeys(models), map(read_throughput, throughputs), strict=True))
    rows = []
    for model, reference, ann_path in zip(models, references, annotations, strict=True):
        metrics = model_metrics(read_records(ann_path), df_gamed, str(ann_path))
        speed = speeds[model]
        rows.append({"model": model, "reference": reference, **metrics, **{k: speed.get(k) for k in SPEED_COLUMNS}})
    table = pd.DataFrame(rows)
    table["_reference"] = table["reference"].map({r: i for i, r in enumerate(dict.fromkeys(references))})
    # Per reference: LC first; where it is n/a, by win rate after the others.
    order = ["length_controlled_winrate", "win_rate"]
    table = table.sort_values(order, ascending=False, kind="stable", na_position="last")
    return table.sort_values("_reference", kind="stable")[LEADERBOARD_COLUMNS].reset_index(drop=True)


def write_leaderboard(table: pd.DataFrame, csv_path: Path, md_path: Path) -> None:
    """Write the CSV and the Markdown form (the prompt set's references first, then one section per model)."""
    with atomic_path(csv_path) as tmp:
        table.to_csv(tmp, index=False)
    parts = []
    for reference, rows in table.groupby("reference", sort=False):
        if reference != PROMPT_REFERENCE:
            parts.append(f"\n## Head to head: against {reference}\n\n")
        parts.append(leaderboard_markdown(rows))
    write_text(md_path, "".join(parts))


def run(
    *,
    models: list[str],
    annotations: list[Path],
    throughputs: list[Path],
    df_gamed: Path,
    csv: Path,
    md: Path,
    reference: list[str] | None = None,
) -> None:
    """The leaderboard step: one row per (model, reference), as CSV and Markdown.

    `models`, `annotations` and `reference` (default: the prompt set's) have
    one entry per judged pair; `throughputs` one per model, in the order of
    first appearance in `models`.
    """
    table = build_leaderboard(models, annotations, throughputs, df_gamed, reference)
    write_leaderboard(table, csv, md)
    print(table.to_string(index=False))
