"""The sweep step: one training run's checkpoints against the step, which one to keep, whether it still improves.

For a sweep (``sweeps.<name>`` in the config; its checkpoints are models
``<name>_step<N>``), from the leaderboard and the annotations: the table of
win rates per step with 95% intervals, the best step and the trend
(`metrics.checkpoints`), and a figure of both win rates against the step
with the baseline model's as horizontal lines. With Arena-Hard-Auto in the
run, each version's (and v2.0's each category's) headline score per step
joins the table (``<benchmark>[ <category>]_score`` and its 90% interval)
and the figure, with its interval as error bars; with MT-Bench, the Average
per step (``mt_bench_average`` and its 95% interval) joins them, on the
figure's right-hand axis (ratings 1-10).
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from ..board import head_to_head_rows, read_leaderboard
from ..config import MT_BENCH
from ..errors import AlpacaflowError
from ..figures import pyplot, save_figure
from ..io import atomic_path, read_records, write_json
from ..metrics.checkpoints import sweep_table, verdict
from ..metrics.paired import per_prompt_values


def benchmark_scores(every: pd.DataFrame, models: list[str]) -> dict[str, pd.DataFrame]:
    """Each Arena-Hard version's (v2.0: each category's) score, interval per checkpoint, in the sweep's order."""
    found = {}
    arena = every[~every["benchmark"].isin(["alpaca_eval", MT_BENCH]) & ~head_to_head_rows(every)]
    for (benchmark, category), rows in arena.groupby(["benchmark", "category"], sort=False):
        several = arena.loc[arena["benchmark"] == benchmark, "category"].nunique() > 1
        scores = rows.set_index("model").reindex(models)[["score", "score_ci_low", "score_ci_high"]]
        if scores["score"].notna().any():
            found[f"{benchmark} {category}" if several else benchmark] = scores.reset_index(drop=True)
    return found


def add_benchmarks(table: pd.DataFrame, scores: dict[str, pd.DataFrame], every: pd.DataFrame,
                   models: list[str]) -> pd.DataFrame:  # fmt: skip
    """The sweep table with each benchmark's ``<label>_score``, ``<label>_ci_low`` and ``<label>_ci_high`` per step.

    And MT-Bench's ``mt_bench_average``, ``mt_bench_average_ci_low`` and ``mt_bench_average_ci_high``.
    """
    for label, frame in scores.items():
        table = table.assign(**{f"{label}_score": frame["score"].to_numpy(),
                                f"{label}_ci_low": frame["score_ci_low"].to_numpy(),
                                f"{label}_ci_high": frame["score_ci_high"].to_numpy()})  # fmt: skip
    mt_bench = every[(every["benchmark"] == MT_BENCH) & every["category"].isna()].set_index("model").reindex(models)
    if mt_bench["average"].notna().any():
        table = table.assign(**{f"mt_bench_{c}": mt_bench[c].to_numpy()
                                for c in ("average", "average_ci_low", "average_ci_high")})  # fmt: skip
    return table


def plot_sweep(name: str, table: pd.DataFrame, base: pd.Series, baseline: str, best_step: int, out: Path,
               benchmarks: list[str] = ()) -> None:  # fmt: skip
    """Win rates (95% error bars) and each benchmark's score (90%) against the step; the baseline's as lines."""
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(6.0, 3.6))
    lines = [("win_rate", "win_rate", "win rate", "tab:blue"),
             ("lc_win_rate", "lc_win_rate", "LC win rate", "tab:orange")]  # fmt: skip
    colors = ["tab:green", "tab:red", "tab:purple", "tab:brown"]
    lines += [(f"{label}_score", label, f"{label} score", colors[k % len(colors)])
              for k, label in enumerate(benchmarks)]  # fmt: skip
    for column, stem, label, color in lines:
        errors = [table[column] - table[f"{stem}_ci_low"], table[f"{stem}_ci_high"] - table[column]]
        ax.errorbar(table["step"], table[column], yerr=errors, marker="o", capsize=3, color=color, label=label)
    ax.axhline(base["win_rate"], color="tab:blue", ls="--", lw=1, label=f"{baseline} win rate")
    if pd.notna(base["length_controlled_winrate"]):
        ax.axhline(base["length_controlled_winrate"], color="tab:orange", ls=":", lw=1, label=f"{baseline} LC")
    if "mt_bench_average" in table.columns:
        right = ax.twinx()
        errors = [table["mt_bench_average"] - table["mt_bench_average_ci_low"],
                  table["mt_bench_average_ci_high"] - table["mt_bench_average"]]  # fmt: skip
        right.errorbar(table["step"], table["mt_bench_average"], yerr=errors, marker="s", capsize=3, color="black",
                       ls="-.", label="MT-Bench Average (right axis)")  # fmt: skip
        right.set_ylim(0, 10)
        right.set_ylabel("MT-Bench Average (1-10)")
        right.legend(fontsize=7, loc="lower right")
    ax.axvline(best_step, color="grey", lw=0.8)
    ax.set_xlabel("training step")
    ax.set_ylabel("% won vs reference (or baseline)")
    ax.set_title(f"Sweep {name}: scores against the step")
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
    ties: str = "half",
) -> None:
    """The sweep step: the sweep's table (CSV), its verdict (JSON) and its figure (PNG).

    `annotations` are the checkpoints' in step order; `resamples` and `seed`
    are the compare step's (the config's `compare` section); `ties` the config's.
    """
    if not (len(steps) == len(models) == len(annotations)) or steps != sorted(steps):
        raise AlpacaflowError(f"sweep {sweep}: steps, models and annotations must match, in step order")
    board = read_leaderboard(leaderboard)
    rows = sweep_table(steps, models, board)
    sources = {**dict(zip(models, annotations, strict=True)), baseline: baseline_annotations}
    values = {m: per_prompt_values(read_records(p), df_gamed, str(p), ties) for m, p in sources.items()}
    result = {"sweep": sweep, "steps": steps, "models": models,
              **verdict(rows, values, baseline, last_steps=last_steps, resamples=resamples, seed=seed)}  # fmt: skip
    every = read_leaderboard(leaderboard, None, None)
    scores = benchmark_scores(every, models)
    rows = add_benchmarks(rows, scores, every, models)
    with atomic_path(table) as tmp:
        rows.to_csv(tmp, index=False)
    plot_sweep(sweep, rows, board.set_index("model").loc[baseline], baseline, result["best"]["step"], figure,
               list(scores))  # fmt: skip
    write_json(verdict_json, result)
    end = "still improving" if result["trend"]["improving"] else "not improving significantly"
    print(f"sweep {sweep}: best step {result['best']['step']} by {result['metric']}; {end} at the end")
