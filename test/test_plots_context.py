"""Figures and per-subset win rates; published context rows with their judge."""

from __future__ import annotations

import json

import pandas as pd
import pytest
from alpacaflow.steps.context import context_rows, leaderboard_dir, published_rows
from alpacaflow.steps.leaderboard import build_leaderboard, write_leaderboard
from alpacaflow.steps.plots import write_plots
from conftest import DEMO_GAMED
from test_leaderboard import synthetic_annotations

PNG = b"\x89PNG\r\n\x1a\n"
SUBSETS = ["helpful_base", "koala", "oasst", "selfinstruct", "vicuna"]


def test_plots_are_written_and_subset_rates_are_right(tmp_path):
    models, annotations, throughputs = ["base", "sft"], [], []
    for k, model in enumerate(models):
        records = synthetic_annotations(10 + k, discrete=False)
        for r in records:
            r["dataset"] = SUBSETS[r["prompt_index"] % 5]
        path = tmp_path / f"{model}.json"
        path.write_text(json.dumps(records))
        annotations.append(path)
        throughput = tmp_path / f"{model}_tp.json"
        throughput.write_text(json.dumps({"examples_per_second": 1.0, "output_tokens_per_second": 10.0}))
        throughputs.append(throughput)
    board = build_leaderboard(models, annotations, throughputs, DEMO_GAMED)
    write_leaderboard(board, tmp_path / "leaderboard.csv", tmp_path / "leaderboard.md")
    figures = write_plots(
        models, annotations, tmp_path / "leaderboard.csv", out_dir=tmp_path / "fig", subsets_csv=tmp_path / "sub.csv"
    )
    assert [f.name for f in figures] == ["win_rates.png", "lengths.png", "length_preference.png", "subsets.png"]
    for figure in figures:
        data = figure.read_bytes()
        assert data.startswith(PNG) and len(data) > 5000, figure
    subsets = pd.read_csv(tmp_path / "sub.csv")
    assert sorted(subsets["dataset"].unique()) == SUBSETS and len(subsets) == 10
    records = json.loads(annotations[1].read_text())
    koala = [r["preference"] - 1 for r in records if r["dataset"] == "koala"]
    row = subsets[(subsets["model"] == "sft") & (subsets["dataset"] == "koala")].iloc[0]
    assert row["n"] == len(koala) and row["win_rate"] == pytest.approx(100 * sum(koala) / len(koala))


def test_published_rows_carry_their_judge():
    rows = published_rows(["FuseChat-Llama-3.2-1B-Instruct", "gpt4_1106_preview", "no-such-model"])
    assert set(rows["model"]) == {"FuseChat-Llama-3.2-1B-Instruct", "gpt4_1106_preview"}
    csv = pd.read_csv(leaderboard_dir() / "weighted_alpaca_eval_gpt4_turbo_leaderboard.csv", index_col=0)
    fuse = rows[rows["model"] == "FuseChat-Llama-3.2-1B-Instruct"].iloc[0]
    assert fuse["judge"] == "weighted_alpaca_eval_gpt4_turbo"
    assert fuse["length_controlled_winrate"] == csv.loc["FuseChat-Llama-3.2-1B-Instruct", "length_controlled_winrate"]
    assert {"claude_3_opus_ranking", "weighted_alpaca_eval_gpt4_turbo"} <= set(rows["judge"])  # several boards


@pytest.mark.parametrize(
    ("judge", "reference", "comparable"),
    [
        ("weighted_alpaca_eval_gpt4_turbo", "gpt4_1106_preview", True),
        ("alpaca_eval_vllm_llama3_3_70b_fn", "gpt4_1106_preview", False),
        ("weighted_alpaca_eval_gpt4_turbo", "alpacaflow_demo_reference", False),
    ],
)
def test_context_rows_are_comparable_only_with_the_same_judge_and_reference(judge, reference, comparable):
    rows = context_rows(["FuseChat-Llama-3.2-1B-Instruct", "gemma-2b-it"], judge, reference)
    assert list(rows["model"]) == ["FuseChat-Llama-3.2-1B-Instruct", "gemma-2b-it"]  # by LC win rate
    assert rows["comparable"].tolist() == [comparable, comparable]
