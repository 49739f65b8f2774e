"""The compare step: paired comparison of each model with the baseline model on the same prompts.

Every model after the first one listed (the zero-shot baseline by default)
is compared with the first on the prompts both were judged on
(`metrics.paired`: per-prompt win and LC values, a paired bootstrap 95% CI
of each difference, a sign test), into ``paired_comparison.csv``.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from ..io import atomic_path
from ..metrics.paired import compare_models


def write_comparison(table: pd.DataFrame, out: Path) -> None:
    """Write the comparison table as CSV, atomically."""
    with atomic_path(out) as tmp:
        table.to_csv(tmp, index=False)


def run(*, models: list[str], annotations: list[Path], df_gamed: Path, resamples: int, seed: int, csv: Path,
        ties: str = "half") -> None:  # fmt: skip
    """The compare step: every model after the first against the first (`ties`: the config's)."""
    table = compare_models(models, annotations, df_gamed, n_resamples=resamples, seed=seed, ties=ties)
    write_comparison(table, csv)
    print(table.to_string(index=False))
