"""history.parquet: one row per leaderboard row (AlpacaEval's (model, reference) pairs, Arena-Hard's per version and
category) and evaluation, never rewritten, nothing added by a rerun that changes nothing; the report shows each
pair's earlier rows."""

from __future__ import annotations

import json

import alpacaflow
import pandas as pd
import pytest
from alpacaflow.board import ALL_COLUMNS, LEADERBOARD_COLUMNS
from alpacaflow.history_table import HISTORY_COLUMNS, LATER_COLUMNS, append, read_history
from alpacaflow.steps.history import run
from alpacaflow.steps.report import history_section
from test_judge import judge_cfg


def board(lc_sft: float, judge_identity: str = "folder sha256:0123456789abcdef") -> pd.DataFrame:
    rows = []
    for model, reference, lc in (("sft", "prompts", lc_sft), ("dpo", "prompts", 14.0), ("dpo", "sft", 55.0)):
        row = dict.fromkeys(LEADERBOARD_COLUMNS, 0)
        row.update(model=model, reference=reference, win_rate=lc - 1, length_controlled_winrate=lc, n_total=805,
                   judge_identity=judge_identity)  # fmt: skip
        rows.append(row)
    return pd.DataFrame(rows)


@pytest.fixture
def evaluate(tmp_path):
    """Run the history step on a leaderboard, as the rule does; return the appended.json record."""
    for model in ("sft", "dpo"):
        tp = {"weights": {"fingerprint": model}, "prompt_date": "26 Jul 2024"}
        (tmp_path / f"{model}_tp.json").write_text(json.dumps(tp))
        (tmp_path / f"{model}_out.json").write_text(json.dumps([{"instruction": "i", "output": model}]))
    (tmp_path / "meta.json").write_text(json.dumps({"sha256": "a" * 64}))

    def step(table: pd.DataFrame, settings: str = "s1") -> dict:
        table.to_csv(tmp_path / "leaderboard.csv", index=False)
        run(leaderboard=tmp_path / "leaderboard.csv",
            settings={f"{m}|{r}": settings for m, r in (("sft", "prompts"), ("dpo", "prompts"), ("dpo", "sft"))},
            models=["sft", "dpo"], throughputs=[tmp_path / "sft_tp.json", tmp_path / "dpo_tp.json"],
            outputs=[tmp_path / "sft_out.json", tmp_path / "dpo_out.json"], meta=tmp_path / "meta.json",
            judge=judge_cfg(), history=tmp_path / "history.parquet", appended=tmp_path / "appended.json")  # fmt: skip
        return json.loads((tmp_path / "appended.json").read_text())

    return step


def test_rows_are_appended_once_and_never_rewritten(tmp_path, evaluate):
    first = evaluate(board(12.1))
    history = read_history(tmp_path / "history.parquet")
    assert list(history.columns) == HISTORY_COLUMNS and len(history) == len(first["appended"]) == 3
    assert history[["model", "reference"]].values.tolist() == [["sft", "prompts"], ["dpo", "prompts"], ["dpo", "sft"]]
    row = history.iloc[0]
    assert (row["prompts_sha256"], row["settings_hash"], row["weights"]) == ("a" * 64, "s1", '{"fingerprint": "sft"}')
    assert len(row["outputs_sha256"]) == 64 and row["judge"] and row["time"].startswith("20")
    assert (row["judge_identity"], row["prompt_date"]) == ("folder sha256:0123456789abcdef", "26 Jul 2024")
    assert row["alpacaflow_version"] == alpacaflow.__version__

    again = evaluate(board(12.1))  # nothing changed: nothing added
    assert again["appended"] == [] and len(read_history(tmp_path / "history.parquet")) == 3
    assert [c["time"] for c in again["current"]] == history["time"].tolist()

    later = evaluate(board(13.4))  # sft's numbers changed: one row added, the old ones kept as they were
    updated = read_history(tmp_path / "history.parquet")
    assert len(later["appended"]) == 1 and len(updated) == 4
    pd.testing.assert_frame_equal(updated.iloc[:3], history)
    assert evaluate(board(13.4), settings="s2")["appended"] and len(read_history(tmp_path / "history.parquet")) == 7

    lines = history_section(tmp_path / "appended.json")
    assert lines[0] == "## History"
    sft = next(line for line in lines if line.startswith("- sft:"))
    assert sft.startswith("- sft: LC 12.1 (20") and sft.endswith("→ LC 13.4 now")
    assert any(line.startswith("- dpo (vs sft): LC 55.0 (") for line in lines)


def test_a_foreign_file_is_refused(tmp_path):
    pd.DataFrame({"x": [1]}).to_parquet(tmp_path / "history.parquet")
    with pytest.raises(Exception, match="not an alpacaflow history"):
        append(tmp_path / "history.parquet", pd.DataFrame(columns=HISTORY_COLUMNS))


def test_a_judge_change_between_rows_is_marked_and_older_histories_still_read(tmp_path, evaluate):
    """Rows by another judge (name or identity) are marked; a history written before the identity was kept reads."""
    evaluate(board(12.1))
    history = read_history(tmp_path / "history.parquet")
    old = history.drop(columns=LATER_COLUMNS)
    old.to_parquet(tmp_path / "history.parquet", index=False)  # as earlier versions wrote it
    assert read_history(tmp_path / "history.parquet")["judge_identity"].isna().all()
    assert (read_history(tmp_path / "history.parquet")["benchmark"] == "alpaca_eval").all()
    record = evaluate(board(12.1, judge_identity="meta-llama/Llama-3.3-70B-Instruct@6f6073b42301"))
    assert len(record["appended"]) == 3 and len(read_history(tmp_path / "history.parquet")) == 6
    sft = next(line for line in history_section(tmp_path / "appended.json") if line.startswith("- sft:"))
    assert "judge changed" not in sft  # the old row recorded no identity: nothing to compare
    record = evaluate(board(12.1, judge_identity="folder sha256:fedcba9876543210"))
    sft = next(line for line in history_section(tmp_path / "appended.json") if line.startswith("- sft:"))
    assert sft.endswith(f"→ **judge changed to {record['current'][0]['judge']} (folder sha256:fedcba9876543210):** "
                        "LC 12.1 now")  # fmt: skip
    assert "(meta-llama/Llama-3.3-70B-Instruct@6f6073b42301)" not in sft.split(" → ")[0]


def arena_board(score: float) -> pd.DataFrame:
    """leaderboard.csv as a run on AlpacaEval and Arena-Hard v2.0 writes it: sft's rows, two categories on v2.0."""
    rows = []
    v2 = "arena_hard-v2.0"
    for benchmark, category, reference, value in (("alpaca_eval", None, "prompts", 12.0),
                                                  (v2, "hard_prompt", "o3-mini-2025-01-31", score),
                                                  (v2, "creative_writing", "gemini-2.0-flash-001", 30.0)):  # fmt: skip
        row = dict.fromkeys(ALL_COLUMNS)
        row.update(model="sft", reference=reference, benchmark=benchmark, category=category, n_total=750,
                   judge="gpt-4.1" if category else "j",
                   judge_identity="gpt-4.1-2025-04-14" if category else "")  # fmt: skip
        if category:
            row.update(score=value, score_ci_low=value - 2, score_ci_high=value + 2, style_score=value - 5,
                       style_ci_low=value - 8, style_ci_high=value - 1, battles=1500, null_games=3)  # fmt: skip
        else:
            row.update(win_rate=value, length_controlled_winrate=value + 1)
        rows.append(row)
    return pd.DataFrame(rows)


def test_arena_hard_rows_are_kept_per_version_and_category(tmp_path):
    """Each Arena-Hard version and category gets its own row: its score, its questions' and answers' hashes, its
    judge; rerunning adds nothing, a changed score one row, and the report shows the category's earlier scores."""
    (tmp_path / "tp.json").write_text(json.dumps({"weights": {"fingerprint": "sft"}, "prompt_date": "26 Jul 2024"}))
    (tmp_path / "out.json").write_text(json.dumps([{"instruction": "i", "output": "alpaca"}]))
    (tmp_path / "arena.json").write_text(json.dumps([{"instruction": "q", "output": "arena"}]))
    (tmp_path / "meta.json").write_text(json.dumps({"sha256": "a" * 64}))
    (tmp_path / "arena_meta.json").write_text(json.dumps({"sha256": "b" * 64}))

    def step(score: float) -> dict:
        arena_board(score).to_csv(tmp_path / "leaderboard.csv", index=False)
        run(leaderboard=tmp_path / "leaderboard.csv", settings={"sft|prompts": "s1", "sft@arena_hard-v2.0": "s2"},
            models=["sft"], throughputs=[tmp_path / "tp.json"], outputs=[tmp_path / "out.json"],
            meta=tmp_path / "meta.json", judge=judge_cfg(), history=tmp_path / "history.parquet",
            appended=tmp_path / "appended.json", arena_pairs=["sft@arena_hard-v2.0"],
            arena_outputs=[tmp_path / "arena.json"], benchmarks=["arena_hard-v2.0"],
            benchmark_metas=[tmp_path / "arena_meta.json"])  # fmt: skip
        return json.loads((tmp_path / "appended.json").read_text())

    assert len(step(40.0)["appended"]) == 3
    history = read_history(tmp_path / "history.parquet").set_index("category")
    hard, alpaca = history.loc["hard_prompt"], history[history["benchmark"] == "alpaca_eval"].iloc[0]
    assert (hard["benchmark"], hard["reference"], hard["judge"], hard["settings_hash"]) == (
        "arena_hard-v2.0",
        "o3-mini-2025-01-31",
        "gpt-4.1",
        "s2",
    )
    assert (hard["score"], hard["style_score"], hard["battles"], hard["null_games"]) == (40.0, 35.0, 1500, 3)
    assert hard["prompts_sha256"] == "b" * 64 and alpaca["prompts_sha256"] == "a" * 64
    assert hard["outputs_sha256"] != alpaca["outputs_sha256"] and pd.isna(hard["win_rate"])
    assert pd.isna(alpaca["score"]) and alpaca["length_controlled_winrate"] == 13.0
    assert history.loc["creative_writing", "reference"] == "gemini-2.0-flash-001"

    assert step(40.0)["appended"] == []  # nothing changed
    later = step(45.5)  # hard_prompt's score changed: its row alone is added
    assert [(r["benchmark"], r["category"], r["score"]) for r in later["appended"]] == [
        ("arena_hard-v2.0", "hard_prompt", 45.5)
    ]
    lines = history_section(tmp_path / "appended.json")
    hard_line = next(line for line in lines if line.startswith("- sft on hard_prompt"))
    assert hard_line.startswith("- sft on hard_prompt (vs o3-mini-2025-01-31): score 40.0 (20")
    assert hard_line.endswith("→ score 45.5 now")
    assert not any(line.startswith(("- sft:", "- sft on creative_writing")) for line in lines)  # unchanged
