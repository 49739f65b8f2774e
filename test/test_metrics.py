"""metrics/: a checkpoint sweep's table and verdict, and win rates per subset, on hand-computed values."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from alpacaflow.metrics.checkpoints import sweep_table, verdict
from alpacaflow.metrics.winrate import Z95, subset_win_rates

MODELS = ["base", "ck100", "ck200", "ck300"]


def board(win: list[float], lc: list[float]) -> pd.DataFrame:
    return pd.DataFrame({"model": MODELS, "win_rate": win, "standard_error": [5.0, 4.0, 2.0, 1.0],
                         "length_controlled_winrate": lc, "lc_standard_error": [1.0] * 4})  # fmt: skip


def values(*wins: list[float]) -> dict[str, pd.DataFrame]:
    """Per-prompt win values (and no LC) of each model, on prompts 0..3."""
    return {m: pd.DataFrame({"win": w, "lc": np.nan}, index=range(4)) for m, w in zip(MODELS, wins, strict=True)}


def test_sweep_table_is_the_rates_with_1_96_standard_errors():
    table = sweep_table([100, 200, 300], MODELS[1:], board([10, 40, 50, 60], [11, 41, 51, 61]))
    assert table["step"].tolist() == [100, 200, 300] and table["win_rate"].tolist() == [40, 50, 60]
    assert table["win_rate_ci_low"].tolist() == pytest.approx([40 - 4 * Z95, 50 - 2 * Z95, 60 - 1 * Z95])
    assert table["lc_win_rate_ci_high"].tolist() == pytest.approx([41 + Z95, 51 + Z95, 61 + Z95])


def test_the_best_step_its_paired_differences_and_the_trend():
    per_prompt = values([0, 0, 0, 0], [0, 1, 0, 1], [1, 1, 1, 1], [1, 1, 1, 0])
    table = sweep_table([100, 200, 300], MODELS[1:], board([0, 50, 100, 75], [math.nan] * 4))
    found = verdict(table, per_prompt, "base", last_steps=3, resamples=1000, seed=0)
    assert found["metric"] == "win_rate"  # LC is n/a for the checkpoints
    best = found["best"]
    assert (best["step"], best["model"], best["value"], best["tied_steps"]) == (200, "ck200", 100.0, [])
    # ck200 minus base on every prompt is 1: +100 points, and every resample says so.
    vs_base = best["vs_baseline"]
    assert (vs_base["win_rate_diff"], vs_base["win_rate_diff_ci_low"], vs_base["win_rate_diff_ci_high"]) == (
        100.0, 100.0, 100.0)  # fmt: skip
    assert best["vs_final"]["win_rate_diff"] == pytest.approx(25.0)  # (0 + 0 + 0 + 1) / 4 against ck300
    trend = found["trend"]  # ck300 minus ck100: (1 + 0 + 1 - 1) / 4 = +25 points, an interval that includes 0
    assert (trend["from_step"], trend["to_step"], trend["win_rate_diff"]) == (100, 300, pytest.approx(25.0))
    assert trend["win_rate_diff_ci_low"] < 0 and trend["improving"] is False
    rising = verdict(table, values([0] * 4, [0] * 4, [0.5] * 4, [1] * 4), "base", last_steps=3, resamples=1000,
                     seed=0)  # fmt: skip
    assert rising["trend"]["win_rate_diff_ci_low"] == 100.0 and rising["trend"]["improving"] is True


def test_an_lc_tie_to_a_hundredth_is_broken_by_the_win_rate():
    per_prompt = values([0] * 4, [0, 1, 0, 0], [1, 1, 0, 0], [0, 0, 0, 0])
    for frame in per_prompt.values():
        frame["lc"] = 0.5
    table = sweep_table([100, 200, 300], MODELS[1:], board([0, 25, 50, 0], [50.0, 50.001, 50.004, 49.0]))
    best = verdict(table, per_prompt, "base", last_steps=2, resamples=1000, seed=0)["best"]
    assert (best["step"], best["tied_steps"]) == (200, [100])


def test_subset_win_rates_by_hand():
    frames = {"m": pd.DataFrame({"dataset": ["a", "a", "b", "a"], "win": [1.0, 0.0, 0.5, 1.0]})}
    table = subset_win_rates(frames).set_index("dataset")
    assert table.loc["a", "n"] == 3 and table.loc["a", "win_rate"] == pytest.approx(100 * 2 / 3)
    # the standard error of the mean of [1, 0, 1]: sample sd 0.57735 / sqrt(3)
    assert table.loc["a", "standard_error"] == pytest.approx(100 * 0.57735027 / math.sqrt(3))
    assert table.loc["b", "win_rate"] == 50.0 and math.isnan(table.loc["b", "standard_error"])
