"""Arena-Hard-Auto beside AlpacaEval in the run's outputs: losses for error analysis, sweeps, summary.json."""

from __future__ import annotations

import json

import pandas as pd
from alpacaflow.board import ALL_COLUMNS
from alpacaflow.markdown import sweep_section
from alpacaflow.steps import error_sample
from alpacaflow.steps.summary import benchmark_entries
from alpacaflow.steps.sweep import add_benchmarks, benchmark_scores


def arena_record(uid: str, labels: list[str | None]) -> dict:
    return {"uid": uid, "category": "arena-hard-v0.1", "judge": "j", "model": "m", "baseline": "b",
            "games": [{"score": g, "judgment": {"answer": f"[[{g}]]"}} for g in labels],
            "prompt_index": int(uid[1:]), "instruction": f"question {uid}", "output": f"answer {uid}",
            "reference_output": f"baseline {uid}"}  # fmt: skip


def test_arena_losses_are_questions_lost_on_balance(tmp_path):
    records = [
        arena_record("q0", ["A>B", "B>A"]),  # the baseline (A in game 1) better twice: lost
        arena_record("q1", ["B>>A", "A>B"]),  # the model better twice: won
        arena_record("q2", ["A=B", "A=B"]),  # a tie: no loss
        arena_record("q3", ["A>>B", "A>B"]),  # 0, 0, 0 and 1: lost on balance
        arena_record("q4", [None, "B>A"]),  # a game without a label: left out
    ]
    path = tmp_path / "annotations.json"
    path.write_text(json.dumps(records))
    jsonl, md = tmp_path / "s.jsonl", tmp_path / "s.md"
    error_sample.run(annotations=path, model="m on arena_hard-v0.1", discrete=True, n=10, seed=0, jsonl=jsonl, md=md)
    sample = [json.loads(line) for line in jsonl.read_text().splitlines()]
    assert sorted(s["prompt_index"] for s in sample) == [0, 3]
    q3 = next(s for s in sample if s["prompt_index"] == 3)
    assert q3["preference"] == 1.25 and q3["judge_raw_output"] == "game 1: A>>B | game 2: A>B"
    texts = (q3["instruction"], q3["model_output"], q3["reference_output"])
    assert texts == ("question q3", "answer q3", "baseline q3")
    assert md.read_text().startswith("### m on arena_hard-v0.1: 2 of 2 losses to the reference (5 judged)")


def board() -> pd.DataFrame:
    rows = [{"model": "run_step1", "reference": "prompts", "benchmark": "alpaca_eval", "win_rate": 10.0},
            {"model": "run_step1", "reference": "o3", "benchmark": "arena_hard-v2.0", "category": "hard_prompt",
             "score": 20.0, "score_ci_low": 15.0, "score_ci_high": 25.0, "style_score": 22.0, "battles": 9,
             "null_games": 1, "n_total": 4, "judge": "gpt-4.1", "judge_identity": "gpt-4.1 at https://api.openai.com/v1"},
            {"model": "run_step2", "reference": "o3", "benchmark": "arena_hard-v2.0", "category": "hard_prompt",
             "score": 30.0, "score_ci_low": 26.0, "score_ci_high": 35.0, "judge": "gpt-4.1",
             "judge_identity": "gpt-4.1 at https://api.openai.com/v1"},
            {"model": "run_step2", "reference": "gemini", "benchmark": "arena_hard-v2.0",
             "category": "creative_writing", "score": 40.0, "score_ci_low": 30.0, "score_ci_high": 50.0,
             "judge": "gpt-4.1", "judge_identity": "gpt-4.1 at https://api.openai.com/v1"}]  # fmt: skip
    return pd.DataFrame(rows).reindex(columns=ALL_COLUMNS)


def test_sweeps_carry_each_benchmarks_score_per_step(tmp_path):
    scores = benchmark_scores(board(), ["run_step1", "run_step2"])
    assert list(scores) == ["arena_hard-v2.0 hard_prompt", "arena_hard-v2.0 creative_writing"]
    table = pd.DataFrame({"step": [1, 2], "model": ["run_step1", "run_step2"], "win_rate": [10.0, 12.0],
                          "win_rate_ci_low": [5.0, 6.0], "win_rate_ci_high": [15.0, 18.0], "lc_win_rate": [None] * 2,
                          "lc_win_rate_ci_low": [None] * 2, "lc_win_rate_ci_high": [None] * 2})  # fmt: skip
    averages = (("run_step1", 5.5), ("run_step2", 6.25))
    mt_bench = pd.DataFrame([{"model": m, "benchmark": "mt_bench", "average": a, "average_ci_low": a - 1,
                              "average_ci_high": a + 1} for m, a in averages])  # fmt: skip
    every = pd.concat([board(), mt_bench.reindex(columns=ALL_COLUMNS)], ignore_index=True)
    assert list(benchmark_scores(every, ["run_step1", "run_step2"])) == list(scores)  # MT-Bench has no score column
    table = add_benchmarks(table, scores, every, ["run_step1", "run_step2"])
    assert table["arena_hard-v2.0 hard_prompt_score"].tolist() == [20.0, 30.0]
    assert table["mt_bench_average"].tolist() == [5.5, 6.25] and table["mt_bench_average_ci_high"].tolist() == [
        6.5,
        7.25,
    ]
    assert table["arena_hard-v2.0 creative_writing_score"].isna().tolist() == [True, False]
    paired = {"win_rate_diff": 2.0, "win_rate_diff_ci_low": -1.0, "win_rate_diff_ci_high": 5.0, "lc_diff": None,
              "against": "base"}  # fmt: skip
    trend = {**paired, "from_step": 1, "to_step": 2, "improving": False}
    verdict = {"sweep": "run", "baseline": "base", "metric": "win_rate", "trend": trend,
               "best": {"step": 2, "model": "run_step2", "value": 12.0, "vs_baseline": paired,
                        "vs_final": None}}  # fmt: skip
    text = "\n".join(sweep_section(tmp_path / "report.md", table, verdict, tmp_path / "f.png"))
    assert "| arena_hard-v2.0 hard_prompt score (%, 90%) | arena_hard-v2.0 creative_writing score (%, 90%) |" in text
    assert "MT-Bench Average (95%) |" in text and "| 6.25 [5.25, 7.25] |" in text
    assert "| 20.0 [15.0, 25.0] | n/a |" in text and "| 30.0 [26.0, 35.0] | 40.0 [30.0, 50.0] |" in text


def test_summary_lists_each_version_with_its_comparability(tmp_path):
    protocol = tmp_path / "protocol.json"
    protocol.write_text(json.dumps({"benchmark": "arena_hard-v2.0", "judge_model": "gpt-4.1"}))
    entries = benchmark_entries(board(), [protocol])
    v2 = entries["arena_hard-v2.0"]
    assert v2["official_judge"] == "gpt-4.1" and v2["comparable"] is True and v2["judges"] == ["gpt-4.1"]
    step1 = v2["models"]["run_step1"]["hard_prompt"]
    assert step1["baseline"] == "o3" and step1["score"] == 20.0 and step1["style_score"] == 22.0
    assert step1["null_games"] == 1 and v2["models"]["run_step2"]["creative_writing"]["score"] == 40.0
