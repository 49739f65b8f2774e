"""The plots step: the report's figures (matplotlib, PNG) and the per-subset win rates behind one of them.

* ``win_rates.png``: win rate and LC win rate per model, 95% error bars
  (1.96 standard errors, alpaca_eval's);
* ``lengths.png``: output length (characters) per model next to the reference;
* ``length_preference.png``: the judge's preference against the length
  difference (model minus reference), one panel per model, with binned means;
* ``subsets.png``: win rate per AlpacaEval source subset (``dataset``), 95%
  error bars; the numbers are written to ``subset_win_rates.csv``;
* ``mt_bench_categories.png`` (with MT-Bench): each model's Average per
  category (`board.category_table`), one group of bars per category.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from ..board import category_table, read_leaderboard
from ..config import MT_BENCH
from ..figures import pyplot, save_figure
from ..io import atomic_path, read_records
from ..metrics.winrate import Z95, subset_win_rates
from ..preferences import win_frame

FIGURES = ["win_rates", "lengths", "length_preference", "subsets"]


def plot_win_rates(board: pd.DataFrame, out: Path) -> None:
    plt = pyplot()
    x = np.arange(len(board))
    fig, ax = plt.subplots(figsize=(max(4.0, 1.6 * len(board)), 3.5))
    ax.bar(x - 0.2, board["win_rate"], 0.4, yerr=Z95 * board["standard_error"], capsize=4, label="win rate")
    lc_label = "LC win rate" if board["length_controlled_winrate"].notna().any() else "LC win rate (n/a)"
    ax.bar(x + 0.2, board["length_controlled_winrate"], 0.4, yerr=Z95 * board["lc_standard_error"], capsize=4,
           label=lc_label)  # fmt: skip
    ax.set_xticks(x, board["model"])
    ax.set_ylabel("% of comparisons won vs reference")
    ax.set_title("Win rates with 95% error bars")
    ax.legend()
    save_figure(fig, out)


def plot_lengths(frames: dict[str, pd.DataFrame], out: Path) -> None:
    plt = pyplot()
    reference = next(iter(frames.values()))["reference_chars"]
    data = [reference.clip(lower=1), *[f["model_chars"].clip(lower=1) for f in frames.values()]]
    fig, ax = plt.subplots(figsize=(max(4.0, 1.6 * len(data)), 3.5))
    ax.boxplot(data, tick_labels=["reference", *frames], showmeans=True)
    ax.set_yscale("log")
    ax.set_ylabel("output length (characters, log scale)")
    ax.set_title("Output lengths")
    save_figure(fig, out)


def plot_length_preference(frames: dict[str, pd.DataFrame], out: Path) -> None:
    plt = pyplot()
    fig, axes = plt.subplots(1, len(frames), figsize=(4.2 * len(frames), 3.5), sharey=True, squeeze=False)
    for ax, (model, frame) in zip(axes[0], frames.items(), strict=True):
        diff = frame["model_chars"] - frame["reference_chars"]
        ax.scatter(diff, frame["win"], s=8, alpha=0.5)
        if len(frame) >= 10:
            bins = pd.qcut(diff, q=min(10, diff.nunique()), duplicates="drop")
            binned = frame.groupby(bins, observed=True)["win"].mean()
            ax.plot([b.mid for b in binned.index], binned.to_numpy(), color="black", marker="o", label="bin mean")
            ax.legend(loc="upper left")
        ax.axvline(0, color="grey", lw=0.8)
        ax.set_title(model)
        ax.set_xlabel("length difference, model - reference (chars)")
    axes[0][0].set_ylabel("preference for the model (0 = reference wins)")
    save_figure(fig, out)


def plot_subsets(table: pd.DataFrame, out: Path) -> None:
    plt = pyplot()
    datasets = sorted(table["dataset"].unique())
    models = list(dict.fromkeys(table["model"]))
    width = 0.8 / max(1, len(models))
    fig, ax = plt.subplots(figsize=(max(5.0, 1.3 * len(datasets)), 3.5))
    for k, model in enumerate(models):
        rows = table[table["model"] == model].set_index("dataset").reindex(datasets)
        x = np.arange(len(datasets)) + (k - (len(models) - 1) / 2) * width
        ax.bar(x, rows["win_rate"], width, yerr=Z95 * rows["standard_error"].fillna(0), capsize=3, label=model)
    ax.set_xticks(np.arange(len(datasets)), datasets)
    ax.set_ylabel("win rate (%)")
    ax.set_title("Win rate per AlpacaEval subset, 95% error bars")
    ax.legend()
    save_figure(fig, out)


def plot_mt_bench_categories(table: pd.DataFrame, out: Path) -> None:
    """MT-Bench's Average per category, a bar per model in each category's group."""
    plt = pyplot()
    models, categories = list(table.index), list(table.columns)
    width = 0.8 / max(1, len(models))
    fig, ax = plt.subplots(figsize=(max(5.0, 1.2 * len(categories)), 3.5))
    for k, model in enumerate(models):
        x = np.arange(len(categories)) + (k - (len(models) - 1) / 2) * width
        ax.bar(x, table.loc[model].to_numpy(dtype=float), width, label=model)
    ax.set_xticks(np.arange(len(categories)), categories)
    ax.set_ylim(0, 10)
    ax.set_ylabel("mean rating (1-10)")
    ax.set_title("MT-Bench: Average per category")
    ax.legend()
    save_figure(fig, out)


def write_plots(
    models: list[str],
    annotations: list[Path],
    leaderboard_csv: Path,
    *,
    out_dir: Path,
    subsets_csv: Path | None,
    ties: str = "half",
) -> list[Path]:
    """Draw every figure into `out_dir` and write the per-subset table (ties counted as `ties` says).

    AlpacaEval's figures and table need its `models` (none: none drawn, `subsets_csv` None); MT-Bench's its rows.
    """
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = {name: out_dir / f"{name}.png" for name in FIGURES} if models else {}
    if models:  # AlpacaEval's pairs (none in a run without alpaca_eval)
        frames = {m: win_frame(read_records(p), ties) for m, p in zip(models, annotations, strict=True)}
        board = read_leaderboard(leaderboard_csv).set_index("model").loc[models].reset_index()
        subsets = subset_win_rates(frames)
        with atomic_path(subsets_csv) as tmp:
            subsets.to_csv(tmp, index=False)
        plot_win_rates(board, paths["win_rates"])
        plot_lengths(frames, paths["lengths"])
        plot_length_preference(frames, paths["length_preference"])
        plot_subsets(subsets, paths["subsets"])
    categories = category_table(read_leaderboard(leaderboard_csv, None, MT_BENCH))
    if not categories.empty:
        paths["mt_bench_categories"] = out_dir / "mt_bench_categories.png"
        plot_mt_bench_categories(categories, paths["mt_bench_categories"])
    return list(paths.values())


def run(*, models: list[str], annotations: list[Path], leaderboard: Path, out_dir: Path, subsets_csv: Path | None,
        ties: str = "half") -> None:  # fmt: skip
    """The plots step: every figure into `out_dir`, the per-subset win rates into `subsets_csv`."""
    for path in write_plots(models, annotations, leaderboard, out_dir=out_dir, subsets_csv=subsets_csv, ties=ties):
        print(f"wrote {path}")
