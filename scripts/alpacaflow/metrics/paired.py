"""Paired comparisons: two models (or checkpoints) judged on the same prompts, their difference and its interval.

For two models and every prompt both were judged on:

* per-prompt win values: ``preference - 1`` (alpaca_eval's encoding: 1 the
  reference wins, 2 the model wins, 1.5 or 0 a draw, counted as 0.5); their
  mean x 100 is alpaca_eval's ``win_rate``;
* per-prompt LC values: alpaca_eval's ``length_controlled_v1`` GLM
  prediction with the length term removed (``glm_preference``); their mean x
  100 is its ``length_controlled_winrate``. The GLM is fitted once per model
  on all its judged prompts, then the prompts are resampled: the LC interval
  does not include the GLM's refitting variance. Where LC is n/a for either
  model (`winrate.lc_check`), the LC columns are empty;
* a paired bootstrap (prompts resampled with replacement, the same draw for
  both models, seeded) gives a percentile 95% CI of each difference;
* a two-sided sign test (`scipy.stats.binomtest`) over the prompts where the
  two models' win values differ;
* `significance`: which side of zero the interval lies on.

The compare step writes these for every model against the first; the sweep
step for a checkpoint against the baseline, the final and an earlier checkpoint.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ..errors import AlpacaflowError
from ..io import read_records
from ..preferences import metrics_frame, win_values
from .winrate import lc_check, local_df_gamed

TIE_TOLERANCE = 1e-4  # weighted judges move by ~5e-7 with batch composition; that is not a preference


COMPARISON_COLUMNS = [
    "model",
    "baseline",
    "n_paired",
    "win_rate",
    "baseline_win_rate",
    "win_rate_diff",
    "win_rate_diff_ci_low",
    "win_rate_diff_ci_high",
    "lc_win_rate",
    "baseline_lc_win_rate",
    "lc_diff",
    "lc_diff_ci_low",
    "lc_diff_ci_high",
    "n_model_better",
    "n_baseline_better",
    "n_same",
    "sign_test_p",
    "n_resamples",
    "seed",
]


def per_prompt_values(records: list[dict[str, Any]], df_gamed: Path, source: str, ties: str = "half") -> pd.DataFrame:
    """Win and LC values per parsed prompt (draws left out with `ties` ``exclude``), indexed by prompt index."""
    from alpaca_eval.metrics import get_length_controlled_winrate

    frame = metrics_frame(records, source, ties)
    if frame.empty:
        raise AlpacaflowError(f"{source}: no parsed judgment to compare")
    if lc_check(frame, df_gamed) is not None:
        return pd.DataFrame({"win": win_values(frame["preference"]), "lc": np.nan})
    with local_df_gamed(df_gamed):
        get_length_controlled_winrate(frame, save_weights_dir=None, is_add_glm_preference_inplace=True)
    return pd.DataFrame({"win": win_values(frame["preference"]), "lc": frame["glm_preference"].astype(float)})


def paired_bootstrap(
    a: np.ndarray, b: np.ndarray, *, n_resamples: int, seed: int, level: float = 0.95
) -> tuple[float, float, float]:
    """Mean of ``a - b`` and its percentile bootstrap CI, resampling pairs with replacement."""
    diff = np.asarray(a, dtype=float) - np.asarray(b, dtype=float)
    if diff.size == 0:
        raise AlpacaflowError("no prompt was judged for both models")
    rng = np.random.default_rng(seed)
    means = np.empty(n_resamples)
    for start in range(0, n_resamples, 256):  # bounded memory for large prompt sets
        stop = min(start + 256, n_resamples)
        idx = rng.integers(0, diff.size, size=(stop - start, diff.size))
        means[start:stop] = diff[idx].mean(axis=1)
    tail = (1.0 - level) / 2.0
    low, high = np.quantile(means, [tail, 1.0 - tail])
    return float(diff.mean()), float(low), float(high)


def sign_test(a: np.ndarray, b: np.ndarray) -> tuple[int, int, int, float]:
    """Prompts where `a` is higher, where `b` is, where they tie; two-sided sign-test p-value."""
    from scipy.stats import binomtest

    diff = np.asarray(a, dtype=float) - np.asarray(b, dtype=float)
    better, worse = int((diff > TIE_TOLERANCE).sum()), int((diff < -TIE_TOLERANCE).sum())
    p = binomtest(better, better + worse, 0.5).pvalue if better + worse else 1.0
    return better, worse, int(diff.size - better - worse), float(p)


def _points(name: str, estimate: tuple[float, float, float]) -> dict[str, float]:
    """A difference and its CI as percentage points."""
    diff, low, high = estimate
    return {name: 100 * diff, f"{name}_ci_low": 100 * low, f"{name}_ci_high": 100 * high}


def compare_pair(
    model: str, values: pd.DataFrame, baseline: str, base_values: pd.DataFrame, *, n_resamples: int, seed: int
) -> dict[str, Any]:
    """One row of the paired comparison (percentage points)."""
    common = values.index.intersection(base_values.index)
    a, b = values.loc[common], base_values.loc[common]
    win = paired_bootstrap(a["win"].to_numpy(), b["win"].to_numpy(), n_resamples=n_resamples, seed=seed)
    has_lc = a["lc"].notna().all() and b["lc"].notna().all()
    lc = (paired_bootstrap(a["lc"].to_numpy(), b["lc"].to_numpy(), n_resamples=n_resamples, seed=seed)
          if has_lc else (np.nan,) * 3)  # fmt: skip
    better, worse, same, p = sign_test(a["win"].to_numpy(), b["win"].to_numpy())
    return {
        "model": model,
        "baseline": baseline,
        "n_paired": len(common),
        "win_rate": 100 * a["win"].mean(),
        "baseline_win_rate": 100 * b["win"].mean(),
        **_points("win_rate_diff", win),
        "lc_win_rate": 100 * a["lc"].mean(),
        "baseline_lc_win_rate": 100 * b["lc"].mean(),
        **_points("lc_diff", lc),
        "n_model_better": better,
        "n_baseline_better": worse,
        "n_same": same,
        "sign_test_p": p,
        "n_resamples": n_resamples,
        "seed": seed,
    }


def compare_models(
    models: list[str], annotations: list[Path], df_gamed: Path, *, n_resamples: int, seed: int, ties: str = "half"
) -> pd.DataFrame:
    """Every model after the first against the first, on the prompts both were judged on (and neither tied, `ties`)."""
    values = {m: per_prompt_values(read_records(p), df_gamed, str(p), ties)
              for m, p in zip(models, annotations, strict=True)}  # fmt: skip
    base = models[0]
    rows = [compare_pair(m, values[m], base, values[base], n_resamples=n_resamples, seed=seed) for m in models[1:]]
    return pd.DataFrame(rows, columns=COMPARISON_COLUMNS)


def significance(row: pd.Series | dict[str, Any]) -> dict[str, Any]:
    """Where a comparison's intervals lie: ``win_rate`` better, worse or same; ``lc_excludes_zero`` (None: LC n/a)."""
    low, high = row["win_rate_diff_ci_low"], row["win_rate_diff_ci_high"]
    win = "better" if low > 0 else "worse" if high < 0 else "same"
    lc = None if pd.isna(row["lc_diff"]) else bool(row["lc_diff_ci_low"] > 0 or row["lc_diff_ci_high"] < 0)
    return {"win_rate": win, "lc_excludes_zero": lc}
