"""Any subset of the benchmarks, in any order: each runs alone through Snakemake and writes its deliverables.

`benchmarks: [arena_hard]`, `[mt_bench]` and `[mt_bench, alpaca_eval]` run end
to end on the tiny models (the Arena-Hard games and MT-Bench gradings by the
stand-in API judge, a test double; AlpacaEval's pairs by the tiny local
judge): each writes report.md (titled by what it covers, opening with the
overview, its sections in the list's order), leaderboard.csv, one tidy table
per benchmark, overview.csv (equal to the leaderboard's numbers) and a valid
summary.json; a run without alpaca_eval downloads, generates and judges
nothing of AlpacaEval's.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import jsonschema
import pandas as pd
import pytest
import yaml
from alpacaflow.board import BOARD_COLUMNS, benchmark_board, read_leaderboard
from alpacaflow.headlines import headline_names, overview_markdown, overview_table
from alpacaflow.io import load_prompt_table, read_records
from alpacaflow.steps.report import report_title
from conftest import ARENA_STANDINS, MT_STANDINS, REPO, run_snakemake, write_config


def subset_config(workdir: Path, tiny_models: dict[str, Path], o200k: Path, benchmarks: list[str],
                  base_url: str, copies: int = 0, max_instances: dict[str, int] | None = None,
                  ) -> Path:  # fmt: skip
    """The test workflow's config with `benchmarks`, both benchmarks' stand-ins judged by the API double.

    `copies` more models are sft's weights under other names (their answers come from the generation store);
    `max_instances` a benchmark's subset size.
    """
    max_instances = max_instances or {}
    path = write_config(workdir, tiny_models)
    config = yaml.safe_load(path.read_text())
    config["models"] |= {f"copy{i}": dict(config["models"]["sft"]) for i in range(copies)}
    api = {"backend": "openai", "method": "weighted", "base_url": base_url, "api_max_retries": 1}
    config |= {
        "benchmarks": benchmarks,
        "references": ["prompts", "sft"],
        "arena_hard": {"source": str(ARENA_STANDINS), "encoding": str(o200k), "judge": api,
                       "generation": {"max_new_tokens": 16, "temperature": 0.0, "max_model_len": 512},
                       "judge_max_new_tokens": 64},
        "mt_bench": {"source": str(MT_STANDINS), "generation": {"max_new_tokens": 16},
                     "judge": {**api, "openai_model": "gpt-4"}, "judge_max_new_tokens": 64},
    }  # fmt: skip
    config["arena_hard"]["max_instances"] = max_instances.get("arena_hard")
    config["mt_bench"]["max_instances"] = max_instances.get("mt_bench")
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    return path


def headings(report: str) -> list[str]:
    return [line for line in report.splitlines() if line.startswith("## ")]


def check_overview(results: Path, expected: list[str]) -> pd.DataFrame:
    """overview.csv: one row per model, the expected headlines, each equal to its leaderboard row."""
    overview = pd.read_csv(results / "overview.csv")
    assert list(overview["model"][:2]) == ["zero_shot", "sft"]
    assert headline_names(overview) == expected
    board = read_leaderboard(results / "leaderboard.csv", None, None)
    for model in ("zero_shot", "sft"):
        row = overview.set_index("model").loc[model]
        if "arena_hard-v0.1" in expected:
            arena = board[(board["benchmark"] == "arena_hard-v0.1") & (board["model"] == model)
                          & (board["reference"] != "sft")].iloc[0]  # fmt: skip
            assert row["arena_hard-v0.1"] == pytest.approx(arena["score"])
            assert row["arena_hard-v0.1_ci_low"] == pytest.approx(arena["score_ci_low"])
        if "mt_bench" in expected:
            mt = board[(board["benchmark"] == "mt_bench") & (board["model"] == model) & board["category"].isna()]
            assert row["mt_bench"] == pytest.approx(mt.iloc[0]["average"])
            assert row["mt_bench/turn2"] == pytest.approx(mt.iloc[0]["turn2"])
        if "alpaca_eval" in expected:
            alpaca = board[(board["benchmark"] == "alpaca_eval") & (board["model"] == model)
                           & (board["reference"] == "prompts")].iloc[0]  # fmt: skip
            assert row["alpaca_eval"] == pytest.approx(alpaca["length_controlled_winrate"])
            assert row["alpaca_eval/win_rate_ci_high"] == pytest.approx(alpaca["win_rate"] + alpaca["standard_error"])
    return overview


SUBSETS = {
    "arena_hard": (["arena_hard"], "Arena-Hard-Auto v0.1", ["arena_hard-v0.1"]),
    "mt_bench": (["mt_bench"], "MT-Bench", ["mt_bench", "mt_bench/turn1", "mt_bench/turn2"]),
    "mt_bench_then_alpaca_eval": (["mt_bench", "alpaca_eval"], "MT-Bench and AlpacaEval 2.0",
                                  ["mt_bench", "mt_bench/turn1", "mt_bench/turn2", "alpaca_eval",
                                   "alpaca_eval/win_rate"]),
}  # fmt: skip


#: max_instances of a benchmark that runs alone (of the 6 Arena-Hard and 8 MT-Bench stand-in questions).
SUBSET_SIZES = {"arena_hard": 4, "mt_bench": 5}


@pytest.mark.slow
@pytest.mark.parametrize("name", list(SUBSETS))
def test_a_subset_of_the_benchmarks_runs_alone_and_writes_its_deliverables(tmp_path, tiny_models, o200k, name):
    from alpacaflow.testing.judge_server import StandinJudgeServer, template_of

    benchmarks, title, expected = SUBSETS[name]
    with StandinJudgeServer(template_of(ARENA_STANDINS / "config" / "arena-hard-v0.1.yaml")) as server:
        # MT-Bench alone with four models: beyond three, each model's detail is on its own page.
        # Alone, each runs on a max_instances subset of its stand-in questions (6 on Arena-Hard, 8 on MT-Bench).
        subset_config(tmp_path, tiny_models, o200k, benchmarks, server.base_url, copies=2 if name == "mt_bench" else 0,
                      max_instances=SUBSET_SIZES if len(benchmarks) == 1 else None)  # fmt: skip
        run = run_snakemake("--configfile", "config.yaml", "--cores", "2", cwd=tmp_path, env={"OPENAI_API_KEY": "k"})
    assert run.returncode == 0, run.stderr[-3000:]
    results = tmp_path / "results"
    report = (results / "report.md").read_text(encoding="utf-8")
    assert report.startswith(f"# Evaluation report: {title}\n")
    overview = check_overview(results, expected)
    sections = headings(report)
    assert sections[0] == "## Overview" and "\n".join(overview_markdown(overview)) in report
    assert "](figures/overview.png)" in report and (results / "figures" / "overview.png").stat().st_size > 5000
    # Each benchmark's own table: its rows of leaderboard.csv, only its columns.
    board = read_leaderboard(results / "leaderboard.csv", None, None)
    folders = ["arena_hard-v0.1" if b == "arena_hard" else b for b in benchmarks]  # the demo's one version
    assert sorted(p.stem for p in (results / "leaderboards").iterdir()) == sorted(folders)
    for folder in folders:
        own = pd.read_csv(results / "leaderboards" / f"{folder}.csv")
        assert len(own) == (board["benchmark"] == folder).sum() > 0
        assert set(own.columns) < set(board.columns) and "benchmark" not in own.columns
    assert set(board["benchmark"]) == set(folders)
    for folder in folders:
        if folder != "alpaca_eval":  # a benchmark's questions, each model's answers: the subset, or all
            kept = load_prompt_table(results / folder / "prompts.parquet")
            meta = json.loads((results / folder / "prompts_meta.json").read_text())
            size = SUBSET_SIZES[folder.split("-")[0]] if len(benchmarks) == 1 else meta["rows_in_source"]
            assert len(kept) == meta["rows_kept"] == size <= meta["rows_in_source"]
            assert meta["max_instances"] == (size if len(benchmarks) == 1 else None)
            assert len(read_records(results / "sft" / folder / "model_outputs.json")) == size
    summary = json.loads((results / "summary.json").read_text())
    jsonschema.validate(summary, yaml.safe_load((REPO / "schemas" / "summary.schema.yaml").read_text()))
    assert set(summary.get("benchmarks", {})) == set(folders) - {"alpaca_eval"}
    if "alpaca_eval" not in benchmarks:
        # Nothing of AlpacaEval's: no prompt download, no outputs or judgments, no AlpacaEval section.
        assert not (results / "prompts.parquet").exists() and not (results / "df_gamed.csv").exists()
        assert not (results / "sft" / "model_outputs.json").exists() and "models" not in summary
        assert "## AlpacaEval 2.0" not in report and "## Leaderboard" not in report
        assert "## History" in sections
    else:
        # The list's order is the sections' order: MT-Bench's before AlpacaEval's, AlpacaEval's detail after.
        assert sections.index("## MT-Bench") < sections.index("## AlpacaEval 2.0") < sections.index("## Leaderboard")
        assert sections.index("## Leaderboard") < sections.index("## Generation speed")
        assert summary["baseline"] == "zero_shot" and set(summary["models"]) == {"zero_shot", "sft"}
    # Each model's page: its error samples on every benchmark; in report.md too up to three models, else linked.
    models = list(overview["model"])
    for model in models:
        page = (results / model / "report.md").read_text(encoding="utf-8")
        assert page.startswith(f"# {model}: error samples and error classes\n\nBack to the [report](../report.md).")
        for folder in folders:
            sample = results / model / ("" if folder == "alpaca_eval" else folder) / "error_sample.md"
            assert sample.read_text(encoding="utf-8") in page
            assert (sample.read_text(encoding="utf-8") in report) == (len(models) <= 3)
    if len(models) > 3:
        assert (
            f"With {len(models)} models, each model's error samples and error-class examples are on its own "
            "page: [zero_shot](zero_shot/report.md), [sft](sft/report.md)" in report
        )
        assert len(report.splitlines()) < 80
    again = run_snakemake("--configfile", "config.yaml", "--cores", "2", "-n", cwd=tmp_path)
    assert again.returncode == 0 and "Nothing to be done" in again.stdout + again.stderr


def test_without_alpaca_eval_the_dag_asks_nothing_of_alpaca_evals(tmp_path, tiny_models, o200k):
    """A dry run of `[arena_hard]` alone: no download_prompts, compare, context or plots job; one per model else."""
    subset_config(tmp_path, tiny_models, o200k, ["arena_hard"], "http://127.0.0.1:9/v1")
    dry = run_snakemake("--configfile", "config.yaml", "--cores", "2", "-n", "--quiet", "rules", cwd=tmp_path)
    assert dry.returncode == 0, dry.stderr[-2000:]
    text = dry.stdout + dry.stderr
    for rule in ("download_prompts", "compare", "context", "plots", "error_taxonomy", "download_mt_bench"):
        assert f"{rule} " not in text and f"{rule}\n" not in text, text
    for rule in ("download_benchmark", "generate", "annotate", "leaderboard", "overview", "report", "summary"):
        assert rule in text, text


def test_the_overview_holds_each_benchmarks_headline_with_its_interval():
    rows = [
        {"model": "a", "reference": "prompts", "benchmark": "alpaca_eval", "win_rate": 40.0, "standard_error": 2.0,
         "length_controlled_winrate": 45.0, "lc_standard_error": 1.0},
        {"model": "b", "reference": "prompts", "benchmark": "alpaca_eval", "win_rate": 60.0, "standard_error": 3.0,
         "length_controlled_winrate": float("nan"), "lc_standard_error": float("nan")},
        {"model": "a", "reference": "base", "benchmark": "arena_hard-v2.0", "category": "hard_prompt", "score": 30.0,
         "score_ci_low": 25.0, "score_ci_high": 36.0},
        {"model": "a", "reference": "base2", "benchmark": "arena_hard-v2.0", "category": "creative_writing",
         "score": 20.0, "score_ci_low": 15.0, "score_ci_high": 26.0},
        {"model": "b", "reference": "a", "benchmark": "arena_hard-v2.0", "category": "hard_prompt", "score": 70.0,
         "score_ci_low": 60.0, "score_ci_high": 80.0},  # head to head: not a headline
        {"model": "b", "benchmark": "mt_bench", "turn1": 6.0, "turn2": 5.0, "average": 5.5, "average_ci_low": 5.0,
         "average_ci_high": 6.0},
        {"model": "b", "benchmark": "mt_bench", "category": "math", "turn1": 1.0, "turn2": 1.0, "average": 1.0},
    ]  # fmt: skip
    board = pd.DataFrame(rows).reindex(columns=list(dict.fromkeys(
        [*BOARD_COLUMNS["alpaca_eval"], "benchmark", "category", "score", "score_ci_low", "score_ci_high", "turn1",
         "turn2", "average", "average_ci_low", "average_ci_high"])))  # fmt: skip
    table = overview_table(board, ["a", "b", "c"], ["mt_bench", "arena_hard-v2.0", "alpaca_eval"])
    assert headline_names(table) == [
        "mt_bench",
        "mt_bench/turn1",
        "mt_bench/turn2",
        "arena_hard-v2.0/hard_prompt",
        "arena_hard-v2.0/creative_writing",
        "alpaca_eval",
        "alpaca_eval/win_rate",
    ]
    a, b, c = (table.set_index("model").loc[m] for m in "abc")
    assert (a["alpaca_eval"], a["alpaca_eval_ci_low"], a["alpaca_eval_ci_high"]) == (45.0, 44.0, 46.0)
    assert (b["alpaca_eval/win_rate_ci_low"], math.isnan(b["alpaca_eval"])) == (57.0, True)
    assert (a["arena_hard-v2.0/creative_writing"], a["arena_hard-v2.0/creative_writing_ci_high"]) == (20.0, 26.0)
    assert math.isnan(b["arena_hard-v2.0/hard_prompt"]) and math.isnan(a["mt_bench"])
    assert (b["mt_bench"], b["mt_bench_ci_low"], b["mt_bench/turn1"]) == (5.5, 5.0, 6.0)
    assert table.drop(columns="model").loc[2].isna().all()  # c answered nothing
    markdown = overview_markdown(table)
    assert (
        markdown[2] == "| a | – | – | – | 30.00 [25.00, 36.00] | 20.00 [15.00, 26.00] | 45.00 [44.00, 46.00] | "
        "40.00 [38.00, 42.00] |"
    )
    assert "`arena_hard-v2.0`: 90% bootstrap interval" in markdown[-2]
    own = benchmark_board(board, "arena_hard-v2.0")
    assert list(own.columns) == BOARD_COLUMNS["arena_hard-"] and len(own) == 3


def test_the_title_names_what_the_report_covers():
    assert report_title(["alpaca_eval"]) == "AlpacaEval 2.0"
    assert report_title(["arena_hard-v0.1", "arena_hard-v2.0"]) == "Arena-Hard-Auto v0.1 and v2.0"
    assert report_title(["mt_bench", "alpaca_eval", "arena_hard-v2.0"]) == (
        "MT-Bench, AlpacaEval 2.0 and Arena-Hard-Auto v2.0"
    )
