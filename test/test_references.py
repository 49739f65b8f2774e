"""Head to head: any model as the reference. Config, pairs, judging against a model's outputs with the cache keyed
by the reference's text, and the leaderboard's numbers as alpaca_eval computes them."""

from __future__ import annotations

import json

import pandas as pd
import pytest
from alpacaflow.board import read_leaderboard
from alpacaflow.config import check_config, judged_pairs
from alpacaflow.errors import AlpacaflowError
from alpacaflow.steps import annotate
from alpacaflow.steps.leaderboard import build_leaderboard, write_leaderboard
from conftest import DEMO_GAMED, DEMO_PROMPTS
from test_judge import ScriptedRankingJudge, judge_cfg, model_outputs, prompts  # noqa: F401  (fixture)


def config(references: list[str]) -> dict:
    models = {name: {"outputs": str(DEMO_PROMPTS)} for name in ("sft", "dpo_a", "dpo_b")}  # any existing file
    return check_config({"models": models, "references": references})


def test_pairs_judge_every_other_model_against_each_reference_never_itself():
    assert judged_pairs(config(["prompts"])) == [("sft", "prompts"), ("dpo_a", "prompts"), ("dpo_b", "prompts")]
    assert judged_pairs(config(["prompts", "sft", "dpo_a"]))[3:] == [
        ("dpo_a", "sft"), ("dpo_b", "sft"), ("sft", "dpo_a"), ("dpo_b", "dpo_a"),
    ]  # fmt: skip
    with pytest.raises(AlpacaflowError, match="config error at 'references': no model named 'nope'"):
        config(["prompts", "nope"])
    with pytest.raises(AlpacaflowError, match="the first entry must be prompts"):
        config(["sft"])


def test_head_to_head_judges_against_the_model_and_rejudges_only_changed_reference_text(
    tmp_path,
    prompts,  # noqa: F811
    tiny_models,
    monkeypatch,
):
    made: list[ScriptedRankingJudge] = []
    monkeypatch.setattr(annotate, "judge_decoder", lambda _judge: made.append(ScriptedRankingJudge()) or made[-1])
    judge = judge_cfg(method="ranking", model=str(tiny_models["chat"]), device="cpu", tensor_parallel_size=1)
    for name in ("sft", "dpo"):
        (tmp_path / name).mkdir()
    sft = model_outputs(prompts, tmp_path / "sft", lambda i, s: f"GOOD sft answer {i}" if i % 2 else "bad")
    sft.write_text(json.dumps([{**r, "generator": "sft"} for r in json.loads(sft.read_text())]))
    dpo = model_outputs(prompts, tmp_path / "dpo", lambda i, s: f"GOOD dpo answer {i}")
    folder = tmp_path / "dpo" / "vs_sft"

    def judge_dpo_vs_sft() -> list[dict]:
        annotate.run(judge=judge, model=["dpo"], reference=["sft"], prompts=prompts, outputs=[dpo],
                     reference_models=[sft], cache=[folder / "judge_cache"],
                     annotations=[folder / "annotations.json"])  # fmt: skip
        return json.loads((folder / "annotations.json").read_text())

    rows = judge_dpo_vs_sft()
    sft_records = json.loads(sft.read_text())
    assert [r["output_1"] for r in rows] == [r["output"] for r in sft_records]  # the judge saw sft's outputs
    assert {r["generator_1"] for r in rows} == {"sft"} and {r["generator_2"] for r in rows} == {"dpo"}
    # The scripted judge prefers GOOD over "bad"; both GOOD: the first shown wins, so only sft's "bad" ones are sure.
    assert all(r["preference"] == 2 for r, s in zip(rows, sft_records, strict=True) if s["output"] == "bad")
    assert made[-1].calls == len(rows)
    sft_records[0]["output"] = "a regenerated answer"
    sft_records[3]["output"] = "another regenerated answer"
    sft.write_text(json.dumps(sft_records))
    judge_dpo_vs_sft()
    assert made[-1].calls == 2  # exactly the pairs whose reference text changed


def annotation(i: int, preference: float, model: str, reference: str) -> dict:
    return {"instruction": f"instruction {i}", "output_1": "r" * (50 + i), "output_2": "m" * (40 + 3 * i),
            "generator_1": reference, "generator_2": model, "preference": preference, "prompt_index": i,
            "annotator": "scripted", "dataset": "helpful_base"}  # fmt: skip


def test_head_to_head_rows_are_what_alpaca_eval_computes(tmp_path):
    from alpaca_eval.metrics import get_winrate

    preferences = [1, 2, 2, 1.5, 2, 1, 2, 2, 1, 2, 1.2, 1.8]
    files = {}
    for model, reference, shift in (("dpo", "prompts", 0), ("dpo", "sft", 1), ("zero_shot", "sft", 2)):
        rows = [annotation(i, preferences[(i + shift) % len(preferences)], model, reference) for i in range(12)]
        files[(model, reference)] = tmp_path / f"{model}_{reference}.json"
        files[(model, reference)].write_text(json.dumps(rows))
    for model in ("dpo", "zero_shot"):
        (tmp_path / f"{model}.json").write_text(json.dumps({"examples_per_second": 1.0}))
    pairs = list(files)
    table = build_leaderboard([m for m, _ in pairs], list(files.values()),
                              [tmp_path / "dpo.json", tmp_path / "zero_shot.json"], DEMO_GAMED,
                              [r for _, r in pairs])  # fmt: skip
    assert table[["model", "reference"]].values.tolist()[0] == ["dpo", "prompts"]
    assert set(map(tuple, table[["model", "reference"]].values.tolist())) == set(pairs)
    for (model, reference), path in files.items():
        expected = get_winrate(pd.DataFrame(json.loads(path.read_text())))
        row = table[(table["model"] == model) & (table["reference"] == reference)].iloc[0]
        for key in ("win_rate", "standard_error", "n_wins", "n_wins_base", "n_draws", "n_total"):
            assert row[key] == pytest.approx(expected[key]), key
    write_leaderboard(table, tmp_path / "leaderboard.csv", tmp_path / "leaderboard.md")
    head_to_head = read_leaderboard(tmp_path / "leaderboard.csv", "sft")
    assert head_to_head["model"].tolist() == table[table["reference"] == "sft"]["model"].tolist()
    assert set(head_to_head["model"]) == {"dpo", "zero_shot"}
    markdown = (tmp_path / "leaderboard.md").read_text()
    assert markdown.index("| dpo |") < markdown.index("## Head to head: against sft") < markdown.index("| zero_shot |")
