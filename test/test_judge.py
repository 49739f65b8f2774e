"""annotate: alpaca_eval's annotators with our judges; the ranking path with a scripted judge; bad input."""

from __future__ import annotations

import json
import math
import re
from pathlib import Path

import pytest
from alpacaflow.config import validate_config
from alpacaflow.errors import AlpacaflowError
from alpacaflow.io import read_parquet
from alpacaflow.judge import annotate_with_retries, check_cache, make_annotator
from alpacaflow.judge_prompts import ranking_template, weighted_template
from alpacaflow.judge_settings import COURSE_RANKING_NAME, judge_name
from alpacaflow.steps.annotate import pair_table
from conftest import demo_prompt_table, run_cli

N = 8


def judge_cfg(**overrides) -> dict:
    """The `judge` section with the schema's defaults filled in, as the Snakefile passes it."""
    return validate_config({"models": {"m": {"path": "unused"}}, "judge": overrides})["judge"]


@pytest.fixture(scope="module")
def prompts(tmp_path_factory) -> Path:
    return demo_prompt_table(tmp_path_factory.mktemp("prompts"), N)


def annotate_cli(judge: dict, prompts: Path, outputs: Path, tmp_path: Path, **env: str):
    """Run the annotate step as the rule does; annotations go to tmp_path/annotations.json."""
    args = ["--judge", json.dumps(judge), "--model", "m", "--prompts", str(prompts), "--outputs", str(outputs)]
    args += ["--cache", str(tmp_path / "judge_cache"), "--annotations", str(tmp_path / "annotations.json")]
    return run_cli("annotate", *args, **env)


def model_outputs(prompts: Path, tmp_path: Path, fn=lambda i, s: f"GOOD answer {i}" if i % 2 else "bad") -> Path:
    table = read_parquet(prompts)
    pairs = zip(table["index"], table["instruction"], strict=True)  # by prompt index: the same in any subset
    records = [{"instruction": s, "output": fn(int(i), s), "generator": "m"} for i, s in pairs]
    path = tmp_path / "model_outputs.json"
    path.write_text(json.dumps(records))
    return path


def test_ranking_prompt_is_the_course_format():
    text = ranking_template()
    assert text.startswith(
        "<|begin_of_text|><|start_header_id|>system<|end_header_id|>\n\n"
        "You are a helpful assistant that ranks models by the quality of their answers.<|eot_id|>"
        "<|start_header_id|>user<|end_header_id|>\n\nI want you to create a leaderboard"
    )
    assert text.endswith(
        "Please provide the ranking that the majority of humans would give.<|eot_id|>"
        "<|start_header_id|>assistant<|end_header_id|>\n"
    )
    assert "<|im_start|>" not in text and "Cutting Knowledge" not in text
    assert text.count("{output_1}") == text.count("{output_2}") == text.count("{instruction}") == 1
    weighted = weighted_template()
    assert weighted.endswith("## Best Model Identifier<|eot_id|><|start_header_id|>assistant<|end_header_id|>\n\n")
    assert '"model_identifier": "m"' in weighted


def test_default_judge_name_is_the_course_config():
    assert judge_name(judge_cfg()) == COURSE_RANKING_NAME
    assert judge_name(judge_cfg(backend="openai", method="weighted")) == "weighted_alpaca_eval_gpt4_turbo"
    assert judge_name(judge_cfg(name="mine")) == "mine"


class ScriptedRankingJudge:
    """Test double at the completion boundary: GOOD answers beat the reference, which beats "bad".

    It reads the rendered judge prompt as a real judge would, so alpaca_eval's
    output-order randomization, ranking_parser and preference flipping all run.
    """

    def __init__(self, garbage_every: int = 0) -> None:
        self.calls = 0
        self.garbage_every = garbage_every

    def __call__(self, prompts, **kwargs):
        completions = []
        for prompt in prompts:
            self.calls += 1
            if self.garbage_every and self.calls % self.garbage_every == 0:
                completions.append("I cannot decide.")
                continue
            answers = re.findall(r'"answer": """(.*?)"""', prompt, re.S)
            score = [2 if "GOOD" in a else 0 if a == "bad" else 1 for a in answers]
            first = 1 if score[0] > score[1] else 2
            completions.append(
                f"[{{'model': 'model_1', 'rank': {first}}}, {{'model': 'model_2', 'rank': {3 - first}}}]"
            )
        n = len(prompts)
        return {"completions": completions, "price_per_example": [0.0] * n, "time_per_example": [0.0] * n}


def _annotate(prompts: Path, outputs: Path, tmp_path: Path, judge: ScriptedRankingJudge):
    from alpacaflow.io import read_records

    table = read_parquet(prompts)
    pairs = pair_table(table, read_records(outputs), str(outputs), "m")
    annotator, _ = make_annotator(judge_cfg(), tmp_path / "cache.json", tmp_path / "cfg", fn_completions=judge)
    return pairs, annotator.annotate_pairs(pairs)


def test_ranking_path_with_scripted_judge(tmp_path, prompts):
    judge = ScriptedRankingJudge()
    pairs, annotated = _annotate(prompts, model_outputs(prompts, tmp_path), tmp_path, judge)
    assert judge.calls == N
    for row in annotated:
        expected = 2.0 if row["output_2"].startswith("GOOD") else 1.0
        assert row["preference"] == expected, row
        assert row["annotator"] == COURSE_RANKING_NAME
        assert "'rank'" in row["preference_raw_completion"]
    # Both output orders were shown to the judge (alpaca_eval's randomization).
    shown_first = [re.findall(r"'rank': (\d)", r["preference_raw_completion"])[0] for r in annotated]
    assert len(set(shown_first)) == 2
    # The per-job cache holds every judgment: a second run asks the judge nothing.
    again = ScriptedRankingJudge()
    _, cached = _annotate(prompts, model_outputs(prompts, tmp_path), tmp_path, again)
    assert again.calls == 0
    assert [r["preference"] for r in cached] == [r["preference"] for r in annotated]


def test_unparseable_rankings_are_nan(tmp_path, prompts):
    _, annotated = _annotate(prompts, model_outputs(prompts, tmp_path), tmp_path, ScriptedRankingJudge(garbage_every=3))
    prefs = [r["preference"] for r in annotated]
    assert sum(p is None or p != p for p in prefs) == N // 3


def _unparsed_count(annotated) -> int:
    return sum(r["preference"] is None or r["preference"] != r["preference"] for r in annotated)


def test_unparsed_judgments_are_retried_then_kept_uncached(tmp_path, prompts):
    from alpacaflow.io import read_records

    pairs = pair_table(read_parquet(prompts), read_records(model_outputs(prompts, tmp_path)), "x", "m")
    cache = tmp_path / "cache.json"
    # Garbage on calls 3 and 6 (first pass: 2 unparsed), 9 (retry 1: 1 left), call 10 parses (retry 2).
    judge = ScriptedRankingJudge(garbage_every=3)
    annotator, _ = make_annotator(judge_cfg(parse_retries=2), cache, tmp_path / "cfg", fn_completions=judge)
    annotated, retried = annotate_with_retries(annotator, pairs, judge_cfg(parse_retries=2), cache)
    assert (judge.calls, retried, _unparsed_count(annotated)) == (N + 3, 3, 0)
    for row in annotated:
        assert row["preference"] == (2.0 if row["output_2"].startswith("GOOD") else 1.0)

    # Without retries the unparsed stay unparsed and uncached: a rerun asks the judge only for them.
    cache2 = tmp_path / "cache2.json"
    judge = ScriptedRankingJudge(garbage_every=3)
    annotator, _ = make_annotator(judge_cfg(), cache2, tmp_path / "cfg2", fn_completions=judge)
    annotated, retried = annotate_with_retries(annotator, pairs, judge_cfg(parse_retries=0), cache2)
    assert (retried, _unparsed_count(annotated)) == (0, 2)
    assert len(json.loads(cache2.read_text())) == N - 2
    again = ScriptedRankingJudge()
    annotator, _ = make_annotator(judge_cfg(), cache2, tmp_path / "cfg3", fn_completions=again)
    annotated, _ = annotate_with_retries(annotator, pairs, judge_cfg(parse_retries=0), cache2)
    assert (again.calls, _unparsed_count(annotated)) == (2, 0)


def test_outputs_must_match_the_prompt_set(tmp_path, prompts):
    from alpacaflow.io import read_records

    table = read_parquet(prompts)
    path = model_outputs(prompts, tmp_path)
    records = read_records(path)
    with pytest.raises(AlpacaflowError, match="1 missing, 0 extra"):
        pair_table(table, records[1:], "x.json", "m")
    with pytest.raises(AlpacaflowError, match="0 missing, 1 extra"):
        pair_table(table, [*records, {"instruction": "new", "output": "y"}], "x.json", "m")
    with pytest.raises(AlpacaflowError, match="row 0: 'output' must be a string"):
        pair_table(table, [{**records[0], "output": ["x"]}, *records[1:]], "x.json", "m")
    empty = pair_table(table, [{**r, "output": "  "} for r in records], "x.json", "m")
    assert set(empty["output_2"]) == {""}  # empty outputs are judged, not dropped


def test_foreign_or_corrupt_cache_is_refused(tmp_path):
    cache = tmp_path / "cache.json"
    cache.write_text(json.dumps([{"annotator": "someone_else", "preference": 1}]))
    with pytest.raises(AlpacaflowError, match="judgments by someone_else, not by mine"):
        check_cache(cache, "mine")
    cache.write_text("[{")
    with pytest.raises(AlpacaflowError, match="corrupt annotation cache"):
        check_cache(cache, "mine")
    cache.write_text(json.dumps([{"annotator": "mine"}]))
    check_cache(cache, "mine")


def test_cli_errors_are_one_line(tmp_path, prompts):
    outputs = model_outputs(prompts, tmp_path)
    missing = annotate_cli(judge_cfg(model=str(tmp_path / "no_judge")), prompts, outputs, tmp_path)
    assert missing.returncode == 1
    assert "config error at 'judge.model': model folder not found" in missing.stderr.strip().splitlines()[-1]
    no_key = annotate_cli(judge_cfg(backend="openai", method="weighted"), prompts, outputs, tmp_path, OPENAI_API_KEY="")
    assert no_key.returncode == 1
    assert no_key.stderr.strip().splitlines()[-1] == (
        "error: judge.backend is openai but OPENAI_API_KEY is not set in the environment"
    )
    assert not (tmp_path / "annotations.json").exists()


def test_ranking_on_a_real_vllm_judge_counts_unparsed(tmp_path, prompts, tiny_models):
    """The default ranking path for real: alpaca_eval's vllm_local_completions on a tiny CPU judge.

    A random-weight judge writes no valid ranking, so every judgment is
    unparsed; the step must still finish, keep the raw completions and count them.
    """
    outputs = model_outputs(prompts, tmp_path)
    judge = judge_cfg(
        model=str(tiny_models["chat"]),
        device="cpu",
        tensor_parallel_size=1,
        max_model_len=2048,
        max_new_tokens=8,
        batch_size=8,
        dtype="float32",
        gpu_memory_utilization=0.2,
        enforce_eager=True,
    )
    out = tmp_path / "annotations.json"
    result = annotate_cli(judge, prompts, outputs, tmp_path)
    assert result.returncode == 0, result.stderr[-3000:]
    rows = json.loads(out.read_text())
    assert len(rows) == N
    unparsed = sum(r["preference"] is None for r in rows)
    summary = json.loads(result.stdout.strip().splitlines()[-1])
    assert summary["unparsed"] == unparsed
    # Each unparsed judgment was asked again parse_retries (2) times, sampled.
    assert summary["retried_unparsed"] >= 2 * unparsed and "retry 2/2" in result.stdout
    assert all(isinstance(r["preference_raw_completion"], str) for r in rows)  # kept even when unparsed
    assert all(r["generator_1"] == "alpacaflow_demo_reference" and r["generator_2"] == "m" for r in rows)
    assert {r["annotator"] for r in rows} == {f"alpaca_eval_vllm_{tiny_models['chat'].name}"}


class ScriptedWeightedJudge:
    """A weighted judge's answers in the form our vLLM decoder gives them: P(m) = 1/3 for every pair."""

    def __call__(self, prompts, **kwargs):
        top = [{"token": "m", "logprob": math.log(1 / 3)}, {"token": "M", "logprob": math.log(2 / 3)}]
        completion = {"text": "m", "logprobs": {"content": [{"token": "m", "top_logprobs": top}]}}
        n = len(prompts)
        return {"completions": ["m"] * n, "completions_all": [completion] * n, "price_per_example": [0.0] * n,
                "time_per_example": [0.0] * n}  # fmt: skip


def test_a_pair_judged_now_and_read_from_the_cache_is_the_same_bytes(tmp_path, prompts, tiny_models):
    """alpaca_eval's cache keeps 10 decimals; a fresh judgment is written as the cache will give it back."""
    from alpacaflow.io import read_records
    from alpacaflow.judge import audit_pairs, judge_pairs

    judge = judge_cfg(model=str(tiny_models["chat"]), device="cpu", method="weighted")
    outputs = model_outputs(prompts, tmp_path)
    pairs = pair_table(read_parquet(prompts), read_records(outputs), str(outputs), "m")
    fresh, counts = judge_pairs(pairs, judge, tmp_path / "cache.json", decoder=ScriptedWeightedJudge())
    assert counts["judged_this_run"] == N
    assert {round(r["preference"], 9) for r in fresh} == {round(1 + 2 / 3, 9), round(1 + 1 / 3, 9)}  # both orders
    assert all(len(repr(r["preference"])) <= 12 for r in fresh)  # 10 decimals, as the cache keeps them
    cached, counts = judge_pairs(pairs, judge, tmp_path / "cache.json", decoder=ScriptedWeightedJudge())
    assert counts["reused_from_cache"] == N
    assert json.dumps(cached) == json.dumps(fresh)
    # The judge audit (each pair judged in both orders) too.
    audit = [audit_pairs(pairs, judge, tmp_path / "audit.json", ScriptedWeightedJudge()) for _ in range(2)]
    assert json.dumps(audit[1]) == json.dumps(audit[0])
    assert {a["reference_first"] for a in audit[0].values()} == {round(1 + 2 / 3, 10)}
