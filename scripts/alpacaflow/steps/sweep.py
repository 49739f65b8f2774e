"""The sweep step: one training run's checkpoints against the step, which one to keep, whether it still improves.

For a sweep (``sweeps.<name>`` in the config; its checkpoints are models
``<name>_step<N>``), from the leaderboard and the annotations: the table of
win rates per step with 95% intervals, the best step and the trend
(`metrics.checkpoints`), and a figure of both win rates against the step
with the baseline model's as horizontal lines.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from ..board import read_leaderboard
from ..errors import AlpacaflowError
from ..figures import pyplot, save_figure
from ..io import atomic_path, read_records, write_json
from ..metrics.checkpoints import sweep_table, verdict
from ..metrics.paired import per_prompt_values


def plot_sweep(name: str, table: pd.DataFrame, base: pd.Series, baseline: str, best_step: int, out: Path) -> None:
    """Win rate and LC win rate against the step, 95% error bars, the baseline's as horizontal lines."""
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(6.0, 3.6))
    for column, label, color in (("win_rate", "win rate", "tab:blue"), ("lc_win_rate", "LC win rate", "tab:orange")):
        errors = [table[column] - table[f"{column}_ci_low"], table[f"{column}_ci_high"] - table[column]]
        ax.errorbar(table["step"], table[column], yerr=errors, marker="o", capsize=3, color=color, label=label)
    ax.axhline(base["win_rate"], color="tab:blue", ls="--", lw=1, label=f"{baseline} win rate")
    if pd.notna(base["length_controlled_winrate"]):
        ax.axhline(base["length_controlled_winrate"], color="tab:orange", ls=":", lw=1, label=f"{baseline} LC")
    ax.axvline(best_step, color="grey", lw=0.8)
    ax.set_xlabel("training step")
    ax.set_ylabel("% of comparisons won vs reference")
    ax.set_title(f"Sweep {name}: win rates against the step (95% error bars)")
    ax.legend(fontsize=7)
    save_figure(fig, out)


def run(
    *,
    sweep: str,
    steps: list[int],
    models: list[str],
    baseline: str,
    annotations: list[Path],
    baseline_annotations: Path,
    leaderboard: Path,
    df_gamed: Path,
    last_steps: int,
    resamples: int,
    seed: int,
    table: Path,
    verdict_json: Path,
    figure: Path,
) -> None:
    """The sweep step: the sweep's table (CSV), its verdict (JSON) and its figure (PNG).

    `annotations` are the checkpoints' in step order; `resamples` and `seed`
    are the compare step's (the config's `compare` section).
    """
    if not (len(steps) == len(models) == len(annotations)) or steps != sorted(steps):
        raise AlpacaflowError(f"sweep {sweep}: steps, models and annotations must match, in step order")
    board = read_leaderboard(leaderboard)
    rows = sweep_table(steps, models, board)
    sources = {**dict(zip(models, annotations, strict=True)), baseline: baseline_annotations}
    values = {m: per_prompt_values(read_records(p), df_gamed, str(p)) for m, p in sources.items()}
    result = {"sweep": sweep, "steps": steps, "models": models,
              **verdict(rows, values, baseline, last_steps=last_steps, resamples=resamples, seed=seed)}  # fmt: skip
    with atomic_path(table) as tmp:
        rows.to_csv(tmp, index=False)
    plot_sweep(sweep, rows, board.set_index("model").loc[baseline], baseline, result["best"]["step"], figure)
    write_json(verdict_json, result)
    end = "still improving" if result["trend"]["improving"] else "not improving significantly"
    print(f"sweep {sweep}: best step {result['best']['step']} by {result['metric']}; {end} at the end")
