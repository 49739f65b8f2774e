"""leaderboard and error_sample: alpaca_eval's numbers exactly, prompt-index alignment, seeded samples."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from alpaca_eval.metrics import get_length_controlled_winrate, get_winrate
from alpacaflow.errors import AlpacaflowError
from alpacaflow.metrics import local_df_gamed, model_metrics
from alpacaflow.report import is_loss, sample_losses, write_error_sample
from conftest import DEMO_GAMED

N_PROMPTS = 30


def synthetic_annotations(seed: int, discrete: bool, n: int = N_PROMPTS) -> list[dict]:
    rng = np.random.default_rng(seed)
    records = []
    for i in range(n):
        length = int(rng.integers(5, 400))
        p_win = 1 / (1 + np.exp(-(length - 150) / 60))
        pref = (2.0 if rng.random() < p_win else 1.0) if discrete else float(1 + rng.beta(2 * p_win + 0.1, 1.0))
        records.append(
            {
                "prompt_index": i,
                "instruction": f"instruction {i}",
                "output_1": "r" * int(rng.integers(50, 300)),
                "output_2": "m" * length,
                "generator_1": "reference",
                "generator_2": "model",
                "annotator": "judge",
                "preference": pref,
                "preference_raw_completion": "raw",
            }
        )
    return records


@pytest.mark.parametrize("discrete", [True, False])
def test_leaderboard_numbers_equal_alpaca_eval(discrete):
    records = synthetic_annotations(1, discrete)
    ours = model_metrics(records, DEMO_GAMED, "synthetic")
    frame = pd.DataFrame(records).drop(columns=["prompt_index"])  # alpaca_eval aligns by row position
    with local_df_gamed(DEMO_GAMED):
        theirs = get_length_controlled_winrate(frame.copy(), save_weights_dir=None)
    plain = get_winrate(frame)
    for key in ("win_rate", "standard_error", "n_wins", "n_wins_base", "n_draws", "n_total"):
        assert ours[key] == pytest.approx(float(plain[key]), abs=1e-9)
    for key in ("length_controlled_winrate", "lc_standard_error"):
        assert ours[key] == pytest.approx(float(theirs[key]), abs=1e-9)
    assert ours["unparsed"] == 0
    assert ours["avg_length"] == pytest.approx(np.mean([len(r["output_2"]) for r in records]))


def test_lc_uses_prompt_index_not_row_order():
    """Shuffled rows or a subset keep each prompt's difficulty (alpaca_eval#453)."""
    records = synthetic_annotations(2, discrete=False)
    reference = model_metrics(records, DEMO_GAMED, "x")
    shuffled = [records[i] for i in np.random.default_rng(0).permutation(len(records))]
    assert model_metrics(shuffled, DEMO_GAMED, "x")["length_controlled_winrate"] == pytest.approx(
        reference["length_controlled_winrate"], abs=1e-9
    )
    subset = records[10:25]
    ours = model_metrics(subset, DEMO_GAMED, "x")
    frame = pd.DataFrame(subset).set_index("prompt_index")
    frame.index.name = None
    with local_df_gamed(DEMO_GAMED):
        theirs = get_length_controlled_winrate(frame, save_weights_dir=None)
    assert ours["length_controlled_winrate"] == pytest.approx(float(theirs["length_controlled_winrate"]), abs=1e-9)


def test_unparsed_judgments_are_dropped_and_counted():
    records = synthetic_annotations(3, discrete=True)
    for r in records[:4]:
        r["preference"] = None
    ours = model_metrics(records, DEMO_GAMED, "x")
    assert ours["unparsed"] == 4 and ours["n_total"] == N_PROMPTS - 4


def test_missing_df_gamed_is_one_clear_error(tmp_path):
    with pytest.raises(AlpacaflowError, match="df_gamed file not found"):
        model_metrics(synthetic_annotations(1, True), tmp_path / "df_gamed.csv", "x")


@pytest.mark.parametrize("discrete", [True, False])
def test_error_sample_holds_only_losses_and_is_seeded(tmp_path, discrete):
    records = synthetic_annotations(4, discrete)
    ann = tmp_path / "annotations.json"
    ann.write_text(json.dumps(records))
    first = write_error_sample(ann, "model", discrete, 10, 7, tmp_path / "a.jsonl", tmp_path / "a.md")
    second = write_error_sample(ann, "model", discrete, 10, 7, tmp_path / "b.jsonl", tmp_path / "b.md")
    assert (tmp_path / "a.jsonl").read_bytes() == (tmp_path / "b.jsonl").read_bytes()
    assert first == second and len(first) == 10
    assert all(is_loss(ex["preference"], discrete) for ex in first)
    assert all(ex["preference"] == 1.0 if discrete else ex["preference"] < 1.5 for ex in first)
    assert {"instruction", "model_output", "reference_output", "preference", "judge_raw_output"} <= set(first[0])
    other = sample_losses(records, discrete, 10, 8)
    assert [e["prompt_index"] for e in other] != [e["prompt_index"] for e in first]
    md = (tmp_path / "a.md").read_text()
    assert md.count("**Reference**") == 10


def test_error_sample_with_few_losses_takes_them_all():
    records = synthetic_annotations(5, True)
    losses = [r for r in records if r["preference"] == 1.0]
    assert len(sample_losses(records, True, len(losses) + 5, 0)) == len(losses)
    assert is_loss(1.2, discrete=False) and not is_loss(1.2, discrete=True) and not is_loss(None, False)
