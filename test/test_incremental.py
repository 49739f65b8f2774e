"""Incremental work: only new prompts are generated and only new pairs judged (counts, not timings)."""

from __future__ import annotations

import json

from alpacaflow.io import read_parquet, read_records
from alpacaflow.judge import make_annotator, pair_table
from conftest import demo_prompt_table
from test_generate import generate, settings
from test_judge import ScriptedRankingJudge, judge_cfg, model_outputs


def test_generation_reuses_unchanged_prompts(tmp_path, tiny_models):
    s = settings("m", tiny_models["chat"], "chat", "transformers")
    s["generation"].update(temperature=0.7, top_p=0.9)  # sampled: reuse must keep the exact output
    out = tmp_path / "model"
    small = demo_prompt_table(tmp_path / "p4", 4)
    big = demo_prompt_table(tmp_path / "p8", 8)

    first = generate(out, small, s)
    assert json.loads((out / "throughput.json").read_text())["generated_this_run"] == 4

    second = generate(out, big, s)
    tp = json.loads((out / "throughput.json").read_text())
    assert (tp["generated_this_run"], tp["reused_from_store"]) == (4, 4)
    for i in range(4):
        assert list(second["output_token_ids"][i]) == list(first["output_token_ids"][i])
        assert second["output"][i] == first["output"][i]

    generate(out, big, s)
    tp = json.loads((out / "throughput.json").read_text())
    assert (tp["generated_this_run"], tp["reused_from_store"], tp["load_seconds"]) == (0, 8, None)

    s["generation"]["temperature"] = 0.3
    generate(out, big, s)
    assert json.loads((out / "throughput.json").read_text())["generated_this_run"] == 8


def test_judging_reuses_unchanged_pairs(tmp_path):
    small = demo_prompt_table(tmp_path / "p4", 4)
    big = demo_prompt_table(tmp_path / "p8", 8)
    cache = tmp_path / "cache.json"

    def judge_all(prompts):
        judge = ScriptedRankingJudge()
        outputs = model_outputs(prompts, tmp_path)
        pairs = pair_table(read_parquet(prompts), read_records(outputs), str(outputs), "m")
        annotator, recorder = make_annotator(judge_cfg(), cache, tmp_path / "cfg", fn_completions=judge)
        annotated = annotator.annotate_pairs(pairs)
        return judge.calls, len(recorder.raw), annotated

    calls, sent, annotated = judge_all(small)
    assert (calls, sent, len(annotated)) == (4, 4, 4)
    calls, sent, annotated = judge_all(big)
    assert (calls, sent, len(annotated)) == (4, 4, 8)
    calls, _, _ = judge_all(big)
    assert calls == 0
