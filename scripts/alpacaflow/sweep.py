"""The sweep step: one training run's checkpoints against the step, which one to keep, whether it still improves.

For a sweep (``sweeps.<name>`` in the config; its checkpoints are models
``<name>_step<N>``), from the leaderboard and the annotations:

* a table of win rate and LC win rate per step with 95% intervals (1.96
  alpaca_eval standard errors), and a figure of both against the step with
  the baseline model's as horizontal lines;
* the best step: the highest LC win rate (the win rate where LC is n/a for
  a checkpoint; ties to 0.01 points broken by the win rate), with paired bootstrap CIs (`compare.compare_pair`) of its
  difference to the baseline and to the final checkpoint;
* the trend: the final checkpoint against the first of the last
  ``last_steps``, paired; "still improving" when that CI lies above 0.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd

from .compare import compare_pair, per_prompt_values
from .errors import AlpacaflowError
from .io import atomic_path, read_records, write_json
from .leaderboard import read_leaderboard
from .plots import Z95, pyplot, save_figure

#: Columns of the paired comparisons kept in the sweep's JSON (percentage points).
PAIRED = ["win_rate_diff", "win_rate_diff_ci_low", "win_rate_diff_ci_high", "lc_diff", "lc_diff_ci_low",
          "lc_diff_ci_high", "n_paired", "sign_test_p"]  # fmt: skip


def sweep_table(steps: list[int], models: list[str], board: pd.DataFrame) -> pd.DataFrame:
    """Win rate and LC win rate per step with 95% intervals (percent)."""
    rows = board.set_index("model").loc[models]
    table = pd.DataFrame({"step": steps, "model": models})
    for name, value, error in (("win_rate", "win_rate", "standard_error"),
                               ("lc_win_rate", "length_controlled_winrate", "lc_standard_error")):  # fmt: skip
        table[name] = rows[value].to_numpy(dtype=float)
        table[f"{name}_ci_low"] = table[name] - Z95 * rows[error].to_numpy(dtype=float)
        table[f"{name}_ci_high"] = table[name] + Z95 * rows[error].to_numpy(dtype=float)
    return table


def _paired(a: str, values_a: pd.DataFrame, b: str, values_b: pd.DataFrame, resamples: int, seed: int) -> dict:
    row = compare_pair(a, values_a, b, values_b, n_resamples=resamples, seed=seed)
    return {"against": b, **{k: (None if pd.isna(row[k]) else row[k]) for k in PAIRED}}


def verdict(table: pd.DataFrame, values: dict[str, pd.DataFrame], baseline: str, *, last_steps: int, resamples: int,
            seed: int) -> dict[str, Any]:  # fmt: skip
    """The best step (by LC, else win rate) against the baseline and the final checkpoint, and the trend."""
    metric = "lc_win_rate" if table["lc_win_rate"].notna().all() else "win_rate"
    # Highest metric (to 0.01 points; LC over few prompts is pulled to 50% and ties), then win rate, then earliest.
    ranked = table.assign(_key=table[metric].round(2)).sort_values(["_key", "win_rate"], ascending=False, kind="stable")
    best = ranked.iloc[0]
    tied = [int(s) for s in ranked.loc[ranked["_key"] == ranked["_key"].iloc[0], "step"] if s != best.step]
    final = table.iloc[-1]
    recent = table.iloc[-min(last_steps, len(table))]
    trend = _paired(final.model, values[final.model], recent.model, values[recent.model], resamples, seed)
    diff = "lc_diff" if metric == "lc_win_rate" and trend["lc_diff"] is not None else "win_rate_diff"
    return {
        "metric": metric,
        "baseline": baseline,
        "best": {
            "step": int(best.step),
            "model": best.model,
            "value": float(best[metric]),
            "tied_steps": tied,  # steps with the same metric (to 0.01), which the win rate ranked lower
            "vs_baseline": _paired(best.model, values[best.model], baseline, values[baseline], resamples, seed),
            "vs_final": None
            if best.model == final.model
            else _paired(best.model, values[best.model], final.model, values[final.model], resamples, seed),
        },
        "trend": {
            "from_step": int(recent.step),
            "to_step": int(final.step),
            **trend,
            "improving": recent.model != final.model and trend[f"{diff}_ci_low"] > 0,
        },
    }


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
