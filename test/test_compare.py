"""Paired comparison: per-prompt values equal alpaca_eval's numbers, bootstrap coverage, sign test."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from alpaca_eval.metrics import get_winrate
from alpacaflow.markdown import significance_sentence
from alpacaflow.metrics.paired import compare_models, paired_bootstrap, per_prompt_values, sign_test, significance
from alpacaflow.metrics.winrate import model_metrics
from alpacaflow.preferences import win_values
from conftest import DEMO_GAMED
from scipy.integrate import quad
from scipy.stats import beta, binomtest
from test_leaderboard import synthetic_annotations


@pytest.mark.parametrize("discrete", [True, False])
def test_per_prompt_values_average_to_the_leaderboard_numbers(discrete):
    records = synthetic_annotations(3, discrete)
    records[4]["preference"] = None  # unparsed: dropped from both
    if discrete:
        records[5]["preference"] = 0.0  # a draw
    values = per_prompt_values(records, DEMO_GAMED, "synthetic")
    board = model_metrics(records, DEMO_GAMED, "synthetic")
    assert len(values) == len(records) - 1 and 4 not in values.index
    assert 100 * values["win"].mean() == pytest.approx(board["win_rate"], abs=1e-9)
    assert 100 * values["lc"].mean() == pytest.approx(board["length_controlled_winrate"], abs=1e-9)


def test_win_values_follow_alpaca_eval_encoding():
    prefs = pd.Series([1.0, 2.0, 0.0, 1.5, 1.25])
    assert win_values(prefs).tolist() == [0.0, 1.0, 0.5, 0.5, 0.25]
    assert 100 * win_values(prefs).mean() == pytest.approx(get_winrate([{"preference": p} for p in prefs])["win_rate"])


GAIN = 0.08  # the model's chance to win each prompt is the baseline's plus this, capped at 1


def true_difference() -> float:
    """E[p_model - p_base] over prompts whose baseline win chance is Beta(2, 2): the known answer."""
    return quad(lambda d: (min(d + GAIN, 1.0) - d) * beta.pdf(d, 2, 2), 0, 1)[0]


def synthetic_pair(rng: np.random.Generator, n: int) -> tuple[np.ndarray, np.ndarray]:
    """Win/loss outcomes of two models on `n` prompts drawn at random (a shared difficulty pairs them)."""
    p_base = rng.beta(2, 2, size=n)
    p_model = np.minimum(p_base + GAIN, 1.0)
    return (rng.random(n) < p_model).astype(float), (rng.random(n) < p_base).astype(float)


def test_bootstrap_ci_covers_the_true_difference_in_90_of_100_repeats():
    truth = true_difference()
    covered = 0
    for repeat in range(100):
        model, base = synthetic_pair(np.random.default_rng(repeat), 1000)
        _, low, high = paired_bootstrap(model, base, n_resamples=1000, seed=repeat)
        covered += low <= truth <= high
    assert 90 <= covered <= 100, covered


def test_bootstrap_is_seeded_and_centred():
    a = np.random.default_rng(0).random(200)
    b = np.random.default_rng(1).random(200)
    first = paired_bootstrap(a, b, n_resamples=1000, seed=7)
    assert first == paired_bootstrap(a, b, n_resamples=1000, seed=7)
    assert first != paired_bootstrap(a, b, n_resamples=1000, seed=8)
    diff, low, high = first
    assert diff == pytest.approx(np.mean(a - b)) and low < diff < high


def test_sign_test_counts_only_prompts_that_differ():
    a = np.array([1.0] * 60 + [0.0] * 40 + [0.5] * 30)
    b = np.array([0.0] * 60 + [1.0] * 40 + [0.5] * 30)
    better, worse, same, p = sign_test(a, b)
    assert (better, worse, same) == (60, 40, 30)
    assert p == pytest.approx(binomtest(60, 100, 0.5).pvalue)
    assert sign_test(np.array([0.5, 0.5]), np.array([0.5, 0.5 + 1e-7]))[:3] == (0, 0, 2)  # weighted-judge noise


def test_compare_models_pairs_prompts_and_says_whether_significant(tmp_path):
    base = synthetic_annotations(5, discrete=True, n=30)
    better = [dict(r, preference=2.0) for r in base]  # wins everywhere the baseline lost, and keeps its wins
    better[0]["preference"] = None  # not judged: left out of the pairing
    paths = []
    for name, records in (("base", base), ("better", better)):
        path = tmp_path / f"{name}.json"
        path.write_text(json.dumps(records))
        paths.append(path)
    table = compare_models(["base", "better"], paths, DEMO_GAMED, n_resamples=1000, seed=0)
    row = table.iloc[0]
    n_lost = sum(r["preference"] == 1.0 for r in base[1:])
    assert row["n_paired"] == 29 and row["baseline"] == "base"
    assert row["win_rate_diff"] == pytest.approx(100 * n_lost / 29)
    assert (row["n_model_better"], row["n_baseline_better"]) == (n_lost, 0)
    assert row["win_rate_diff_ci_low"] > 0
    assert significance(row) == {"win_rate": "better", "lc_excludes_zero": significance(row)["lc_excludes_zero"]}
    assert significance_sentence(row).startswith("**better is significantly better than base**")
    same = compare_models(["base", "base2"], [paths[0], paths[0]], DEMO_GAMED, n_resamples=1000, seed=0).iloc[0]
    assert same["win_rate_diff"] == 0 and same["sign_test_p"] == 1.0
    assert significance(same)["win_rate"] == "same"
    assert "is not significantly different from" in significance_sentence(same)
