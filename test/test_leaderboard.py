"""leaderboard and error_sample: alpaca_eval's numbers exactly, prompt-index alignment, seeded samples."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from alpaca_eval.metrics import get_length_controlled_winrate, get_winrate
from alpacaflow.errors import AlpacaflowError
from alpacaflow.metrics.winrate import local_df_gamed, model_metrics
from alpacaflow.preferences import is_loss
from alpacaflow.steps.error_sample import run as run_error_sample
from alpacaflow.steps.error_sample import sample_losses
from conftest import DEMO_GAMED, DEMO_PROMPTS, run_cli

N_PROMPTS = 30
DEMO_INSTRUCTIONS = [r["instruction"] for r in json.loads(DEMO_PROMPTS.read_text())]


def synthetic_annotations(seed: int, discrete: bool, n: int = N_PROMPTS, instructions=None) -> list[dict]:
    """Annotations of the demo prompts (the ones DEMO_GAMED's indices stand for) unless `instructions` are given."""
    instructions = instructions or DEMO_INSTRUCTIONS
    rng = np.random.default_rng(seed)
    records = []
    for i in range(n):
        length = int(rng.integers(5, 400))
        p_win = 1 / (1 + np.exp(-(length - 150) / 60))
        pref = (2.0 if rng.random() < p_win else 1.0) if discrete else float(1 + rng.beta(2 * p_win + 0.1, 1.0))
        records.append(
            {
                "prompt_index": i,
                "instruction": instructions[i],
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
    assert ours["unparsed"] == 0 and ours["lc_note"] == ""
    # alpaca_eval's avg_length: int() of the mean characters (main.evaluate), not a rounded float
    assert ours["avg_length"] == int(pd.Series([r["output_2"] for r in records]).str.len().mean())
    assert isinstance(ours["avg_length"], int)


def test_avg_length_truncates_as_alpaca_eval_does():
    records = synthetic_annotations(1, True)
    for i, r in enumerate(records):  # model outputs of mean length 2173.5, references of about that length
        r["output_2"] = "a" * (2173 - 10 * (i // 2) if i % 2 else 2174 + 10 * (i // 2))
        r["output_1"] = "r" * (2023 + (37 * i) % 300)
    assert np.mean([len(r["output_2"]) for r in records]) == 2173.5
    assert model_metrics(records, DEMO_GAMED, "x")["avg_length"] == 2173  # round() would say 2174
    records[0]["output_2"] = ""  # an empty output counts 0 characters: mean 2101.03
    assert model_metrics(records, DEMO_GAMED, "x")["avg_length"] == 2101


def _without_instruction_column(tmp_path) -> Path:
    path = tmp_path / "df_gamed.csv"
    pd.read_csv(DEMO_GAMED).drop(columns="instruction").to_csv(path, index=False)
    return path


@pytest.mark.parametrize(
    ("case", "reason"),
    [
        ("custom_instructions", "30 of 30 judged instructions are not the instruction at their index"),
        ("longer_than_df_gamed", "prompt index 30 is not among df_gamed's 30 prompts"),
        ("df_gamed_without_instructions", "df_gamed does not say which instruction each of its indices is"),
    ],
)
def test_lc_is_na_with_its_reason_where_df_gamed_does_not_apply(tmp_path, case, reason):
    gamed = _without_instruction_column(tmp_path) if case == "df_gamed_without_instructions" else DEMO_GAMED
    n = 120 if case == "longer_than_df_gamed" else N_PROMPTS
    custom = [f"my own prompt {i}" for i in range(n)]
    records = synthetic_annotations(6, True, n, None if case == "df_gamed_without_instructions" else custom)
    ours = model_metrics(records, gamed, "x")
    assert np.isnan(ours["length_controlled_winrate"]) and np.isnan(ours["lc_standard_error"])
    assert ours["lc_note"].startswith("n/a: ") and reason in ours["lc_note"]
    plain = get_winrate(pd.DataFrame(records))
    assert ours["win_rate"] == pytest.approx(float(plain["win_rate"]), abs=1e-9)
    assert ours["n_total"] == n


@pytest.mark.parametrize(
    ("case", "reason"),
    [
        ("identical_outputs", "both outputs have the same length in every pair"),
        ("one_pair", "one judged pair"),
        ("output_not_text", "an output is not text"),
    ],
)
def test_lc_is_na_where_length_differences_have_no_spread(case, reason):
    """A model judged against its twin (every pair identical, all ties): alpaca_eval's GLM fails; LC is n/a."""
    records = synthetic_annotations(8, True)
    for r in records:
        r["output_2"] = r["output_1"]
        r["preference"] = 1.5 if case == "identical_outputs" else r["preference"]
    records = records[:1] if case == "one_pair" else records
    if case == "output_not_text":
        records[3]["output_2"] = None
    frame = pd.DataFrame(records).drop(columns=["prompt_index"])
    with local_df_gamed(DEMO_GAMED), pytest.raises(ValueError):  # alpaca_eval itself gives no number
        get_length_controlled_winrate(frame.copy(), save_weights_dir=None)
    ours = model_metrics(records, DEMO_GAMED, "x")
    assert np.isnan(ours["length_controlled_winrate"]) and ours["lc_note"].startswith(f"n/a: {reason}")
    assert ours["win_rate"] == pytest.approx(float(get_winrate(frame)["win_rate"]), abs=1e-9)


def test_lc_of_a_subset_of_the_official_set_is_kept():
    records = synthetic_annotations(7, False)[5:17]
    assert model_metrics(records, DEMO_GAMED, "x")["lc_note"] == ""


def test_lc_check_reads_instructions_as_written(tmp_path):
    """An instruction such as "NA" or "None" is text, not a missing value (pandas' default reading)."""
    gamed = pd.read_csv(DEMO_GAMED)
    gamed.loc[gamed["index"] == 3, "instruction"] = "NA"
    gamed.loc[gamed["index"] == 4, "instruction"] = "None"
    path = tmp_path / "df_gamed.csv"
    gamed.to_csv(path, index=False)
    instructions = list(DEMO_INSTRUCTIONS)
    instructions[3], instructions[4] = "NA", "None"
    assert model_metrics(synthetic_annotations(7, False, instructions=instructions), path, "x")["lc_note"] == ""


def test_leaderboard_and_compare_steps_report_na_instead_of_crashing(tmp_path):
    """120 prompts of one's own against a 30-row df_gamed: alpaca_eval raises 'Transform function failed'."""
    paths = {}
    for model, seed in (("base", 8), ("sft", 9)):
        records = synthetic_annotations(seed, True, 120, [f"my own prompt {i}" for i in range(120)])
        for r in records:
            r["generator_2"] = model
        paths[model] = tmp_path / f"{model}.json"
        paths[model].write_text(json.dumps(records))
        (tmp_path / f"{model}_tp.json").write_text(json.dumps({"examples_per_second": 1.0}))
    with pytest.raises(ValueError, match="Transform function failed"), local_df_gamed(DEMO_GAMED):
        get_length_controlled_winrate(pd.DataFrame(json.loads(paths["sft"].read_text())), save_weights_dir=None)
    models = ["base", "sft"]
    annotations = [str(paths[m]) for m in models]
    board = run_cli("leaderboard", "--models", *models, "--annotations", *annotations, "--throughputs",
                    *[str(tmp_path / f"{m}_tp.json") for m in models], "--df-gamed", str(DEMO_GAMED),
                    "--csv", str(tmp_path / "lb.csv"), "--md", str(tmp_path / "lb.md"))  # fmt: skip
    assert board.returncode == 0, board.stderr[-2000:]
    table = pd.read_csv(tmp_path / "lb.csv")
    assert table["length_controlled_winrate"].isna().all() and table["win_rate"].notna().all()
    assert table["win_rate"].tolist() == sorted(table["win_rate"], reverse=True)  # LC n/a: sorted by win rate
    md = (tmp_path / "lb.md").read_text()
    assert "| n/a |" in md and "The LC win rate is n/a for base, sft: prompt index 30 is not among" in md
    compare = run_cli("compare", "--models", *models, "--annotations", *annotations, "--df-gamed", str(DEMO_GAMED),
                      "--resamples", "1000", "--seed", "0", "--csv", str(tmp_path / "cmp.csv"))  # fmt: skip
    assert compare.returncode == 0, compare.stderr[-2000:]
    row = pd.read_csv(tmp_path / "cmp.csv").iloc[0]
    assert np.isnan(row["lc_diff"]) and not np.isnan(row["win_rate_diff"]) and row["n_paired"] == 120


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
    for out in "ab":
        run_error_sample(annotations=ann, model="model", discrete=discrete, n=10, seed=7,
                         jsonl=tmp_path / f"{out}.jsonl", md=tmp_path / f"{out}.md")  # fmt: skip
    first, second = (
        [json.loads(line) for line in (tmp_path / f"{out}.jsonl").read_text().splitlines()] for out in "ab"
    )
    assert (tmp_path / "a.jsonl").read_bytes() == (tmp_path / "b.jsonl").read_bytes()
    assert first == second and len(first) == 10
    assert all(is_loss(ex["preference"], discrete) for ex in first)
    assert all(ex["preference"] == 1.0 if discrete else ex["preference"] < 1.5 for ex in first)
    assert {"instruction", "model_output", "reference_output", "preference", "judge_raw_output"} <= set(first[0])
    other = sample_losses(records, discrete, 10, 8)
    assert [e["prompt_index"] for e in other] != [e["prompt_index"] for e in first]
    md = (tmp_path / "a.md").read_text()
    assert md.count("**Reference**") == 10


def test_error_sample_markdown_escapes_control_characters(tmp_path):
    """NUL, BEL or ESC in an output: the Markdown shows them escaped (a NUL makes it binary); the JSON keeps them."""
    records = synthetic_annotations(4, True)
    for r in records:
        r["output_2"] = "say\x00 hi\x07\nnext line\ttab"
        r["preference_raw_completion"] = "raw\x1b[0m"
    ann = tmp_path / "annotations.json"
    ann.write_text(json.dumps(records))
    run_error_sample(annotations=ann, model="m", discrete=True, n=2, seed=0, jsonl=tmp_path / "s.jsonl",
                     md=tmp_path / "s.md")  # fmt: skip
    md = (tmp_path / "s.md").read_bytes()
    assert b"\x00" not in md and b"\x07" not in md and b"\x1b" not in md
    assert b"> say\\x00 hi\\x07\n> next line\ttab" in md and b"raw\\x1b[0m" in md
    assert json.loads((tmp_path / "s.jsonl").read_text().splitlines()[0])["model_output"].startswith("say\x00")


def test_error_sample_with_few_losses_takes_them_all():
    records = synthetic_annotations(5, True)
    losses = [r for r in records if r["preference"] == 1.0]
    assert len(sample_losses(records, True, len(losses) + 5, 0)) == len(losses)
    assert is_loss(1.2, discrete=False) and not is_loss(1.2, discrete=True) and not is_loss(None, False)
