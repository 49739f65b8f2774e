"""A checkpoint sweep's numbers: win rates against the step, the best step, and whether the end still improves.

* `sweep_table`: win rate and LC win rate per step with 95% intervals (1.96
  alpaca_eval standard errors);
* `verdict`: the best step (the highest LC win rate; the win rate where LC
  is n/a for a checkpoint; ties to 0.01 points broken by the win rate), with
  paired bootstrap CIs (`paired.compare_pair`) of its difference to the
  baseline and to the final checkpoint; and the trend, the final checkpoint
  against the first of the last ``last_steps``, paired: "still improving"
  when that CI lies above 0.
"""

from __future__ import annotations

from typing import Any

import pandas as pd

from .paired import compare_pair
from .winrate import Z95

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
