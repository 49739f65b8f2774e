"""summary.json: built from the step outputs, valid against schemas/summary.schema.yaml, keyed by reference."""

from __future__ import annotations

import copy
import math

import jsonschema
import pandas as pd
import pytest
import yaml
from alpacaflow.board import ALL_COLUMNS
from alpacaflow.metrics.paired import COMPARISON_COLUMNS
from alpacaflow.steps.summary import build_summary
from conftest import REPO

SCHEMA = yaml.safe_load((REPO / "schemas" / "summary.schema.yaml").read_text())
JUDGE = {"backend": "vllm", "method": "ranking", "model": "meta-llama/Llama-3.3-70B-Instruct", "name": None,
         "openai_model": "gpt-4-1106-preview", "audit": {"swap": 20, "seed": 0}}  # fmt: skip
HUB_JUDGE = "meta-llama/Llama-3.3-70B-Instruct@6f6073b423013f6a7d4d9f39144961bfbfbc386b"
META = {"source": "tatsu-lab/alpaca_eval/alpaca_eval_gpt4_baseline.json", "revision_requested": "main",
        "revision_resolved": "a" * 40, "sha256": "b" * 64, "df_gamed_sha256": "c" * 64, "rows_kept": 805}  # fmt: skip


def board_row(model: str, win_rate: float, lc: float) -> dict:
    row = dict.fromkeys(ALL_COLUMNS, 0)  # a leaderboard.csv row: AlpacaEval's, against the prompt set's reference
    row.update(model=model, reference="prompts", benchmark="alpaca_eval", category=math.nan, win_rate=win_rate,
               standard_error=1.2, length_controlled_winrate=lc,
               lc_standard_error=0.8, lc_note=math.nan, n_total=805, ties="half", avg_length=1500, judge="j",
               judge_identity=HUB_JUDGE, position_flips=5.0, examples_per_second=3.0,
               output_tokens_per_second=900.0)  # fmt: skip
    return row


def comparison_row() -> dict:
    row = dict.fromkeys(COMPARISON_COLUMNS, 0.0)
    row.update(model="sft", baseline="zero_shot", n_paired=805, win_rate_diff=5.0, win_rate_diff_ci_low=2.0,
               win_rate_diff_ci_high=8.0, lc_diff=4.0, lc_diff_ci_low=1.0, lc_diff_ci_high=7.0, n_model_better=400,
               n_baseline_better=300, n_same=105, sign_test_p=0.001, n_resamples=2000, seed=0)  # fmt: skip
    return row


def summary() -> dict:
    throughput = {"n_examples": 805, "load_seconds": 20.0, "generate_seconds": 260.0, "examples_per_second": 3.1,
                  "backend": "vllm", "device": "cuda", "weights": {"commit": "d" * 40}, "prompt_date": "26 Jul 2024",
                  "versions": {"vllm": "0.11.0", "torch": "2.8.0"}}  # fmt: skip
    return build_summary(
        models=["zero_shot", "sft"],
        board=pd.DataFrame([board_row("sft", 12.5, 14.0), board_row("zero_shot", 3.0, 4.5)]),
        comparison=pd.DataFrame([comparison_row()]),
        throughputs={"zero_shot": throughput, "sft": throughput},
        meta=META,
        reference="gpt4_turbo",
        judge=JUDGE,
    )


def test_summary_holds_every_model_against_its_reference_and_validates():
    data = summary()
    jsonschema.validate(data, SCHEMA)
    sft = data["models"]["sft"]["references"]["gpt4_turbo"]
    assert sft["win_rate"] == 12.5 and sft["length_controlled_winrate"] == 14.0 and sft["lc_note"] is None
    assert sft["paired"]["baseline"] == "zero_shot" and sft["paired"]["win_rate_diff_ci_low"] == 2.0
    assert data["models"]["zero_shot"]["references"]["gpt4_turbo"]["paired"] is None  # the baseline itself
    assert data["judge"]["name"] == "alpaca_eval_vllm_llama3_3_70b_fn" and data["baseline"] == "zero_shot"
    assert data["models"]["sft"]["weights"] == {"commit": "d" * 40}
    # Provenance: the judge's identity as its annotations recorded it, the audit's size, the pinned prompt date.
    assert (data["judge"]["identity"], data["judge"]["audit_swap"]) == ([HUB_JUDGE], 20)
    assert data["models"]["sft"]["prompt_date"] == "26 Jul 2024" and sft["position_flips"] == 5.0
    assert data["alpacaflow"]["version"]
    assert data["prompts"]["revision"] == "a" * 40 and data["prompts"]["n"] == 805
    assert set(data["versions"]) >= {"alpaca_eval", "vllm", "transformers", "torch"}


@pytest.mark.parametrize(
    "breaks",
    [
        lambda d: d["models"]["sft"]["references"]["gpt4_turbo"].pop("win_rate"),
        lambda d: d["models"]["sft"]["references"]["gpt4_turbo"].update(win_rate=140.0),
        lambda d: d["prompts"].update(sha256="not-a-digest"),
        lambda d: d["models"]["sft"].update(references={}),
    ],
)
def test_the_schema_rejects_a_broken_summary(breaks):
    data = copy.deepcopy(summary())
    breaks(data)
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(data, SCHEMA)
