"""The overview step: one row per model, one headline number per benchmark (``overview.csv``) and its figure.

The numbers are leaderboard.csv's (`headlines.overview_table`): nothing is
computed anew, so the overview always agrees with each benchmark's table.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from ..board import read_leaderboard
from ..figures import pyplot, save_figure
from ..headlines import headline_names, overview_table
from ..io import atomic_path


def plot_overview(table: pd.DataFrame, out: Path) -> None:
    """One panel per headline: each model's number with its interval (a model without one is left out)."""
    plt = pyplot()
    names = headline_names(table)
    fig, axes = plt.subplots(1, len(names), figsize=(2.6 * len(names), 0.5 * len(table) + 1.4), squeeze=False)
    for ax, name in zip(axes[0], names, strict=True):
        rows = table[table[name].notna()]
        y = range(len(rows))
        low = (rows[name] - rows[f"{name}_ci_low"]).fillna(0).to_numpy(dtype=float)
        high = (rows[f"{name}_ci_high"] - rows[name]).fillna(0).to_numpy(dtype=float)
        ax.errorbar(rows[name].to_numpy(dtype=float), list(y), xerr=[low, high], fmt="o", capsize=3)
        ax.set_yticks(list(y), rows["model"].tolist())
        ax.invert_yaxis()
        ax.set_title(name, fontsize=9)
    fig.suptitle("Overview: each benchmark's headline number per model")
    save_figure(fig, out)


def run(*, leaderboard: Path, models: list[str], benchmarks: list[str], csv: Path, figure: Path) -> None:
    """The overview step: `csv` (one row per model of `models`, the headlines of `benchmarks`) and `figure`."""
    table = overview_table(read_leaderboard(leaderboard, None, None), models, benchmarks)
    with atomic_path(csv) as tmp:
        table.to_csv(tmp, index=False)
    plot_overview(table, figure)
    print(table.to_string(index=False))
    print(f"wrote {csv} and {figure}")
