"""The Snakemake workflow on the tiny models: DAG shape, rerun triggers, bad targets and configs.

Each test works in its own folder with the repo's Snakefile, so the
developer's results/ and .snakemake/ are never touched.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import jsonschema
import pandas as pd
import pytest
import yaml
from alpacaflow.board import read_leaderboard
from alpacaflow.cli import STEPS
from alpacaflow.io import read_parquet
from conftest import DEMO_OFFICIAL, NO_SLURM, REPO, run_snakemake, write_config


def smk(workdir: Path, *args: str, timeout: int = 900):
    return run_snakemake("--configfile", "config.yaml", "--cores", "2", *args, cwd=workdir, timeout=timeout)


MODELS_3 = ("zero_shot", "sft", "imported")  # conftest's demo_run: two generated models and one imported


def scheduled(output: str) -> list[tuple[str, str]]:
    """(rule, model) of every job a dry run lists."""
    jobs = []
    for block in re.split(r"\n(?=(?:local)?rule \w+:)", output):
        rule = re.match(r"(?:local)?rule (\w+):", block.strip())
        if rule:
            model = re.search(r"wildcards: model=([^,\s]+)", block)
            jobs.append((rule.group(1), model.group(1) if model else ""))
    return jobs


def test_generate_jobs_do_not_depend_on_each_other(tmp_path, tiny_models):
    write_config(tmp_path, tiny_models)
    result = smk(tmp_path, "--dag")
    assert result.returncode == 0, result.stderr
    dot = result.stdout
    nodes = dict(re.findall(r'(\d+)\[label = "([^"]+)"', dot))
    edges = re.findall(r"(\d+) -> (\d+)", dot)
    generate = {n for n, label in nodes.items() if label.startswith("generate")}
    download = {n for n, label in nodes.items() if label.startswith("download_prompts")}
    assert len(generate) == 2 and len(download) == 1
    assert not [(a, b) for a, b in edges if a in generate and b in generate]
    assert {(d, g) for d in download for g in generate} <= set(edges)
    rules = sorted({label.split("\\n")[0] for label in nodes.values()})
    assert rules == ["all", "annotate", "compare", "context", "download_prompts", "error_sample", "error_taxonomy",
                     "generate", "history", "leaderboard", "overview", "plots", "report", "summary"]  # fmt: skip


@pytest.mark.slow
def test_demo_run_is_complete_up_to_date_and_reruns_only_changed_model(demo_run):
    """The shared demo run (conftest's `demo_run`); config edits below are dry runs, undone at the end."""
    original = (demo_run / "config.yaml").read_text()
    try:
        _check_demo_run(demo_run)
    finally:
        (demo_run / "config.yaml").write_text(original)


def _check_mt_bench(results: Path, graded: list[dict]) -> None:
    """MT-Bench in the demo run: both turns answered, graded, scored, exported in FastChat's layout, reported."""
    from alpacaflow.metrics.mt_bench import scores

    every = read_leaderboard(results / "leaderboard.csv", None, "mt_bench")
    overall = every[every["category"].isna()].set_index("model")
    assert sorted(overall.index) == ["sft", "zero_shot"] and (overall["n_total"] == 8).all()
    for model in ("zero_shot", "sft"):
        generations = read_parquet(results / model / "mt_bench" / "generations.parquet")
        assert generations["turn"].tolist() == [1, 2] * 8
        records = json.loads((results / model / "mt_bench" / "annotations.json").read_text())
        assert len(records) == 16 and {r["judge"][0] for r in records} == {"gpt-4"}
        found = scores(pd.DataFrame(records))
        assert found["unparsed"] == overall.loc[model, "unparsed"]
        for column in ("turn1", "turn2", "average"):
            assert found[column] == pytest.approx(overall.loc[model, column])
        row = overall.loc[model]
        assert row["average_ci_low"] <= row["average"] <= row["average_ci_high"]
        sample = (results / model / "mt_bench" / "error_sample.md").read_text()
        assert sample.startswith(f"### {model} on mt_bench: the ")
    assert overall.loc["sft", "average"] != overall.loc["zero_shot", "average"]  # the stand-in rates each answer
    assert sorted(every["category"].dropna().unique()) == sorted(
        ["coding", "extraction", "humanities", "math", "reasoning", "roleplay", "stem", "writing"])  # fmt: skip
    official = results / "official" / "data" / "mt_bench"
    assert sorted(p.name for p in (official / "model_answer").iterdir()) == ["sft.jsonl", "zero_shot.jsonl"]
    assert (official / "model_judgment" / "gpt-4_single.jsonl").read_text().count("\n") == 32
    report = (results / "report.md").read_text()
    part = report.split("## MT-Bench")[1].split("## Generation speed")[0]
    assert "**Not comparable with published MT-Bench numbers:** graded by gpt-4 (gpt-4 at http://127.0.0.1" in part
    assert "Average per category:" in part and "](figures/mt_bench_categories.png)" in part
    assert (results / "sft" / "mt_bench" / "error_sample.md").read_text() in part
    assert (results / "figures" / "mt_bench_categories.png").read_bytes().startswith(b"\x89PNG")
    summary = json.loads((results / "summary.json").read_text())["benchmarks"]["mt_bench"]
    assert summary["comparable"] is False and summary["models"]["sft"]["average"] == overall.loc["sft", "average"]
    assert len(summary["models"]["sft"]["categories"]) == 8


def _check_demo_run(workdir: Path) -> None:
    results = workdir / "results"
    for model in ("zero_shot", "sft"):
        for name in ("model_outputs.json", "generations.parquet", "throughput.json", "annotations.json"):
            assert (results / model / name).stat().st_size > 0
        assert len((results / model / "error_sample.jsonl").read_text().splitlines()) <= 3
        for rule in ("generate", "error_sample"):
            assert (results / "logs" / rule / f"{model}.log").exists()
            assert (results / "benchmarks" / rule / f"{model}.tsv").exists()
    # One annotate job judged the three models (two generated, one imported), judge validation's published
    # pairs and the audit's pairs in both orders with one judge engine; validate_judge loads no judge.
    annotate_log = (results / "logs" / "annotate.log").read_text()
    assert annotate_log.count("Initializing a V1 LLM engine") == 1
    assert "Initializing a V1 LLM engine" not in (results / "logs" / "validate_judge.log").read_text()
    counts = [json.loads(line) for line in annotate_log.splitlines() if line.startswith('{"model"')]
    assert [(c["model"], c["reference"]) for c in counts] == [
        *((m, "prompts") for m in MODELS_3),
        ("zero_shot", "sft"),
        ("imported", "sft"),
        ("validation", "official"),
        ("zero_shot", "arena_hard-v0.1"),  # the generated models' Arena-Hard answers, and the imported ones
        ("sft", "arena_hard-v0.1"),
        ("imported", "arena_hard-v0.1"),
        ("zero_shot", "arena_hard-v0.1/vs_sft"),  # head to head on Arena-Hard too (references: [prompts, sft])
        ("imported", "arena_hard-v0.1/vs_sft"),
        ("zero_shot", "mt_bench"),  # MT-Bench: the generated models' two-turn answers (imported has none)
        ("sft", "mt_bench"),
    ]  # sft is never judged against itself
    graded = [c for c in counts if c["reference"] == "mt_bench"]
    assert all(c["gradings"] == c["judged_this_run"] == 16 and c["judge"] == "gpt-4" for c in graded)
    _check_mt_bench(results, graded)
    counts = [c for c in counts if c not in graded]
    arena = [c for c in counts if c["reference"] == "arena_hard-v0.1"]
    heads = [c for c in counts if c["reference"] == "arena_hard-v0.1/vs_sft"]
    assert all(c["judged_this_run"] == 12 and c["null_games"] == 0 for c in heads)
    counts = [c for c in counts if c not in arena + heads]
    assert all(c["judged_this_run"] == c["n"] == 6 and c["audited"] == 3 for c in counts[:-1])
    assert counts[-1]["judged_this_run"] == counts[-1]["n"] > 0
    assert [(c["model"], c["judge"], c["judged_this_run"], c["null_games"]) for c in arena] == [
        ("zero_shot", "gpt-4-1106-preview", 12, 0), ("sft", "gpt-4-1106-preview", 12, 0),
        ("imported", "gpt-4-1106-preview", 12, 0)]  # fmt: skip
    every = read_leaderboard(results / "leaderboard.csv", None, None)
    arena_every = every[every["benchmark"] == "arena_hard-v0.1"]
    arena_rows = arena_every[arena_every["reference"] != "sft"].set_index("model")
    # Head to head on Arena-Hard: sft's answers in the baseline's place, both games, scored and style-controlled.
    vs_sft = json.loads((results / "zero_shot" / "arena_hard-v0.1" / "vs_sft" / "annotations.json").read_text())
    sft_answers = {r["instruction"]: r["output"] for r in
                   json.loads((results / "sft" / "arena_hard-v0.1" / "model_outputs.json").read_text())}  # fmt: skip
    assert all(r["baseline"] == "sft" and r["reference_output"] == sft_answers[r["instruction"]] for r in vs_sft)
    assert sft_answers[vs_sft[0]["instruction"]] in vs_sft[0]["games"][0]["prompt"][1]["content"]
    arena_heads = arena_every[arena_every["reference"] == "sft"].set_index("model")
    assert sorted(arena_heads.index) == ["imported", "zero_shot"]
    assert arena_heads["score"].notna().all() and arena_heads["style_score"].notna().all()
    assert sorted(arena_rows.index) == ["imported", "sft", "zero_shot"] and arena_rows["score"].notna().all()
    assert (arena_rows["null_games"] == 0).all() and (arena_rows["reference"] == "standin-baseline").all()
    # The official layout (export_arena): both models' and the baseline's answers with style metadata, the
    # judgments under the judge's name; the style-controlled score is read from it.
    official = results / "official" / "data" / "arena-hard-v0.1"
    assert sorted(p.name for p in (official / "model_answer").iterdir()) == [
        "imported.jsonl", "sft.jsonl", "standin-baseline.jsonl", "zero_shot.jsonl"]  # fmt: skip
    assert sorted(p.name for p in (official / "model_judgment" / "gpt-4-1106-preview").iterdir()) == [
        "imported.jsonl", "sft.jsonl", "zero_shot.jsonl"]  # fmt: skip
    answer = json.loads((official / "model_answer" / "sft.jsonl").read_text().split("\n")[0])
    assert list(answer["metadata"]) == ["token_len", "header_count", "list_count", "bold_count"]
    assert arena_rows["style_score"].notna().all()
    assert re.match(r"judge: weighted_alpaca_eval_vllm_chat, folder sha256:[0-9a-f]{16} \(cache key", annotate_log)
    # Every annotation records the judge's identity; the audit's pairs carry both orders' judgments.
    first = json.loads((results / "sft" / "annotations.json").read_text())
    assert {r["judge_identity"] for r in first} == {annotate_log.split(", ", 1)[1].split(" (cache")[0]}
    assert sum("position_audit" in r for r in first) == 3
    # Head to head against sft: its outputs are the reference; a leaderboard section and summary entry each.
    vs_sft = json.loads((results / "zero_shot" / "vs_sft" / "annotations.json").read_text())
    sft_outputs = {
        r["instruction"]: r["output"] for r in json.loads((results / "sft" / "model_outputs.json").read_text())
    }
    assert all(r["output_1"] == sft_outputs[r["instruction"]] and r["generator_1"] == "sft" for r in vs_sft)
    pairs = read_leaderboard(results / "leaderboard.csv", None)[["model", "reference"]].values.tolist()
    assert sorted(pairs) == sorted([*([m, "prompts"] for m in MODELS_3), ["zero_shot", "sft"], ["imported", "sft"]])
    # The history: one row per leaderboard row, Arena-Hard's beside AlpacaEval's (the version's questions' hash);
    # the report says there is no earlier one yet.
    history = read_parquet(results / "history.parquet")
    keys = ["benchmark", "model", "reference"]
    every = read_leaderboard(results / "leaderboard.csv", None, None)
    # (MT-Bench's rows have no reference: blank in the history)
    assert sorted(history[keys].values.tolist()) == sorted(every[keys].fillna({"reference": ""}).values.tolist())
    arena_history = history[history["benchmark"] == "arena_hard-v0.1"].set_index("model")
    assert set(arena_history.index) == {*MODELS_3} and arena_history["score"].notna().all()
    arena_meta = json.loads((results / "arena_hard-v0.1" / "prompts_meta.json").read_text())
    assert (arena_history["prompts_sha256"] == arena_meta["sha256"]).all()
    # Logs and benchmarks as the README says: <rule>/<model>.log for per-model rules (generate on a benchmark:
    # <rule>/<model>/<benchmark>.log), <rule>.log otherwise.
    per_job = {"generate", "error_sample", "error_taxonomy", "download_model", "download_benchmark", "export_arena"}
    history_mt = history[history["benchmark"] == "mt_bench"]
    assert sorted(history_mt["model"].unique()) == ["sft", "zero_shot"] and history_mt["average"].notna().all()
    for kind, suffix in (("logs", ".log"), ("benchmarks", ".tsv")):
        files = [p.relative_to(results / kind) for p in (results / kind).rglob("*") if p.is_file()]
        assert files
        for rel in files:
            rule = rel.parts[0].removesuffix(suffix)
            assert rule in STEPS and rel.suffix == suffix, rel
            on_benchmark = rule in ("generate", "error_sample") and rel.stem.startswith(("arena_hard-", "mt_bench"))
            assert len(rel.parts) == (3 if on_benchmark else 2 if rule in per_job else 1), rel
    # summary.json: valid, and the leaderboard's numbers under the demo's reference.
    summary = json.loads((results / "summary.json").read_text())
    jsonschema.validate(summary, yaml.safe_load((REPO / "schemas" / "summary.schema.yaml").read_text()))
    board = read_leaderboard(results / "leaderboard.csv").set_index("model")  # against the prompt set's references
    for model in ("zero_shot", "sft"):
        ours = summary["models"][model]["references"]["alpacaflow_demo_reference"]
        assert ours["win_rate"] == board.loc[model, "win_rate"] and ours["n_total"] == board.loc[model, "n_total"]
    assert summary["models"]["sft"]["references"]["alpacaflow_demo_reference"]["paired"]["baseline"] == "zero_shot"
    # Arena-Hard in summary.json: the judge (a stand-in server: not comparable), each model's numbers per category.
    arena_summary = summary["benchmarks"]["arena_hard-v0.1"]
    assert arena_summary["official_judge"] == "gpt-4-1106-preview" and arena_summary["comparable"] is False
    for model in ("zero_shot", "sft"):
        numbers = arena_summary["models"][model]["arena-hard-v0.1"]
        assert numbers["baseline"] == "standin-baseline" and numbers["score"] == arena_rows.loc[model, "score"]
        assert numbers["style_score"] == arena_rows.loc[model, "style_score"]
    head = arena_summary["head_to_head"]["zero_shot"]["sft"]["arena-hard-v0.1"]
    assert head["baseline"] == "sft" and head["score"] == arena_heads.loc["zero_shot", "score"]
    alpaca_stops = "stop strings ['### Instruction:', '### Input:', '### Response:']"
    assert alpaca_stops in (results / "logs" / "generate" / "zero_shot.log").read_text()
    assert "stop strings []" in (results / "logs" / "generate" / "sft.log").read_text()
    board = (results / "leaderboard.csv").read_text()
    assert board.startswith("model,reference,win_rate,standard_error,length_controlled_winrate,lc_standard_error,")
    report = (results / "report.md").read_text()
    # Every imported output opens with "assistant\n\n": counted, logged, and the report opens with the warning.
    leaked = read_leaderboard(results / "leaderboard.csv").set_index("model")["leaked_template"]
    assert leaked["imported"] == 6
    assert report.startswith(
        "# Evaluation report: AlpacaEval 2.0, Arena-Hard-Auto v0.1 and MT-Bench\n\n"
        "> **Warning: leaked chat template.** imported: 6 of 6 outputs (100.0%) open with "
        "chat-template markup (bare role header (special tokens stripped): 'assistant\\n'), e.g. 'assistant\\n\\n"
    )
    assert "Likely cause: the prompt format does not match how the model was trained" in report.split("\n\n")[1]
    assert "WARNING: imported: 6 of 6 outputs" in (results / "logs" / "generate" / "imported.log").read_text()
    assert "| leaked_template |" in report
    judged = set(read_parquet(results / "prompts.parquet")["instruction"])
    official = {r["instruction"] for r in json.loads(DEMO_OFFICIAL.read_text())}
    n_official = len(judged & official)  # the published pairs among the prompts max_instances kept
    assert n_official > 0
    for text in (
        "## Leaderboard",
        "zero_shot",
        "sft",
        "LC win rate",
        "## Generation speed",
        "## Against zero_shot",
        "## Error samples",
        "losses to the reference",
        "## Plots",
        "](figures/win_rates.png)",
        "## Paired comparison against zero_shot",
        "sign test",
        "## Error taxonomy",
        "| truncated |",
        "## Published leaderboard context",
        "| FuseChat-Llama-3.2-1B-Instruct |",
        "not comparable",
        "## Judge validation",
        "## Head to head: against sft",
        "## History",
        f"re-judged {n_official} published pairs",
        "## Judge audit",
        "| **all pairs** | | ",
        "## Arena-Hard-Auto v0.1",
        "**Not comparable with the published leaderboard:** judged by gpt-4-1106-preview (gpt-4-1106-preview at http",
        "Agreement with the official judge (judge validation): same winner in",
    ):
        assert text in report
    # Arena-Hard losses for error analysis, in the version's section (the stand-in judge makes some).
    arena_part = report.split("## Arena-Hard-Auto v0.1")[1].split("## Generation speed")[0]
    sample = (results / "sft" / "arena_hard-v0.1" / "error_sample.md").read_text()
    assert sample.startswith("### sft on arena_hard-v0.1: ") and sample in arena_part
    assert "Head to head against sft (its answers in the baseline's place" in arena_part
    assert "### arena_hard-v0.1 head to head: against sft" in (results / "leaderboard.md").read_text()
    for name in ("win_rates", "lengths", "length_preference", "subsets"):
        figure = results / "figures" / f"{name}.png"
        assert figure.read_bytes().startswith(b"\x89PNG") and figure.stat().st_size > 5000
    agreement = json.loads((results / "validation" / "agreement.json").read_text())
    assert agreement["n_pairs"] == n_official and 0 <= agreement["same_winner"] <= 1
    assert "The judge is **" in report.split("## Judge audit")[1].split("## History")[0]
    assert read_leaderboard(results / "leaderboard.csv", None)["position_flips"].notna().all()
    assert summary["judge"]["identity"] == sorted({r["judge_identity"] for r in first})
    html = smk(workdir, "--report", "results/report.html")
    assert html.returncode == 0, html.stderr[-2000:]
    assert (results / "report.html").stat().st_size > 50_000

    again = smk(workdir, "-n")
    assert again.returncode == 0
    assert "Nothing to be done" in again.stdout + again.stderr
    assert summary["models"]["zero_shot"]["references"]["sft"]["n_total"] == 6
    assert "sft" not in summary["models"]["sft"]["references"]
    # Forced again, the history step adds no row: nothing changed.
    forced = smk(workdir, "--forcerun", "history", "--until", "history")
    assert forced.returncode == 0, forced.stderr[-2000:]
    assert len(read_parquet(results / "history.parquet")) == len(history)

    config = yaml.safe_load((workdir / "config.yaml").read_text())
    config["models"]["sft"]["generation"] = {"temperature": 0.3}
    (workdir / "config.yaml").write_text(yaml.safe_dump(config, sort_keys=False))
    changed = smk(workdir, "-n")
    assert changed.returncode == 0, changed.stderr
    # One annotate job judges every model and judge validation's pairs (the judge loads once); it rewrites
    # each model's annotations, so the other models' error samples and taxonomies and the cheap agreement
    # step are redone too.
    assert set(scheduled(changed.stdout)) == {
        ("generate", "sft"),
        ("annotate", ""),
        ("validate_judge", ""),
        *(("error_sample", m) for m in MODELS_3),
        *(("error_taxonomy", m) for m in MODELS_3),
        ("history", ""),
        ("export_arena", ""),  # the annotate job rewrites the Arena-Hard judgments too
        ("export_mt_bench", ""),  # and the MT-Bench gradings
        ("leaderboard", ""),
        ("overview", ""),
        ("compare", ""),
        ("plots", ""),
        ("report", ""),
        ("summary", ""),
        ("all", ""),
    }

    config["judge"]["seed"] = 1
    (workdir / "config.yaml").write_text(yaml.safe_dump(config, sort_keys=False))
    rejudge = smk(workdir, "-n")
    assert {job for job in scheduled(rejudge.stdout) if job[0] in ("annotate", "validate_judge")} == {
        ("annotate", ""),
        ("validate_judge", ""),
    }
    # Under --keep-going each model has its own annotate job, so one failed generate holds back no other judgment;
    # judge validation's published pairs get a job of their own.
    per_model = smk(workdir, "-n", "--keep-going")
    assert per_model.returncode == 0, per_model.stderr
    annotate_jobs = [job for job in scheduled(per_model.stdout) if job[0] == "annotate"]
    assert set(annotate_jobs) == {("annotate", m) for m in (*MODELS_3, "validation")}
    # A job per pair: each model's against the prompt set's references and against Arena-Hard's baseline (the
    # imported model's answers included), zero_shot's and imported's against sft, and validation's; the generated
    # models' MT-Bench gradings.
    assert len(annotate_jobs) == 13  # and on Arena-Hard, zero_shot's and imported's against sft


def test_new_checkpoint_from_the_command_line(tmp_path, tiny_models):
    """A model given with --config joins the configured ones, with no file edits."""
    write_config(tmp_path, tiny_models)
    entry = f"models={{ckpt: {{path: {tiny_models['chat']}, generation: {{temperature: 0.2}}}}}}"
    result = smk(tmp_path, "-n", "--config", entry)
    assert result.returncode == 0, result.stderr
    assert ("generate", "ckpt") in scheduled(result.stdout)
    # The one annotate job judges it with the others.
    assert ("annotate", "") in scheduled(result.stdout)
    assert "results/ckpt/annotations.json" in result.stdout.split("rule annotate:")[1].split("rule ")[0]


def test_unknown_model_target_names_it(tmp_path, tiny_models):
    write_config(tmp_path, tiny_models)
    result = smk(tmp_path, "-n", "results/nope/model_outputs.json")
    assert result.returncode != 0
    assert "unknown model 'nope'; configured models: sft, zero_shot" in result.stdout + result.stderr


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (lambda c: c["generation"].update(temperature=5), "config error at 'generation.temperature'"),
        (lambda c: c["models"]["sft"].update(path="/no/such/model"), "model folder not found: /no/such/model"),
        # a relative path whose first folder is here (checkpoints/): surely a local folder, and it is missing
        (
            lambda c: c["models"]["sft"].update(path="checkpoints/step-2000"),
            "model folder not found: no folder checkpoints/step-2000 under ",
        ),  # fmt: skip
        (lambda c: c.update(unknown_key=1), "'unknown_key' was unexpected"),
    ],
)
def test_bad_config_stops_before_any_job(tmp_path, tiny_models, edit, message):
    (tmp_path / "checkpoints" / "step-1000").mkdir(parents=True)
    path = write_config(tmp_path, tiny_models)
    config = yaml.safe_load(path.read_text())
    edit(config)
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    result = smk(tmp_path)
    assert result.returncode != 0
    # What the README says: Snakemake's header, our one line naming the key, Snakemake's File line.
    lines = (result.stdout + result.stderr).splitlines()
    at = next(i for i, line in enumerate(lines) if message in line)
    assert lines[at].startswith("config error at '"), lines[at - 1 : at + 2]
    assert lines[at - 1].startswith("WorkflowError in file") and lines[at + 1].strip().startswith("File "), lines
    assert not (tmp_path / "results").exists()


def test_a_path_neither_a_folder_nor_a_hub_model_stops_before_any_generation(tmp_path, tiny_models):
    """No checkpoints/ here: it reads as a hub id; the download job runs first and names both readings."""
    path = write_config(tmp_path, tiny_models)
    config = yaml.safe_load(path.read_text())
    config["models"]["sft"]["path"] = "checkpoints/step-2000"
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    result = run_snakemake("--configfile", "config.yaml", "--cores", "1", cwd=tmp_path)
    assert result.returncode != 0
    log = (tmp_path / "results" / "logs" / "download_model" / "sft.log").read_text()
    assert log.strip().splitlines()[-1] == (
        "error: cannot download checkpoints/step-2000: the hub is unreachable and it is not cached; "
        f"and there is no folder checkpoints/step-2000 under {tmp_path}: is it a local path?"
    )
    assert not (tmp_path / "results" / "logs" / "generate").exists()  # the other model was not generated


def test_bad_prompt_file_fails_the_rule_with_one_line(tmp_path, tiny_models):
    write_config(tmp_path, tiny_models)
    config = yaml.safe_load((tmp_path / "config.yaml").read_text())
    bad = tmp_path / "prompts.json"
    bad.write_text('[{"instruction": "a", "output": "b"}, {"instruction": "a", "output": "c"}]')
    config["prompts"]["source"] = str(bad)
    (tmp_path / "config.yaml").write_text(yaml.safe_dump(config, sort_keys=False))
    result = smk(tmp_path)
    assert result.returncode != 0
    assert f"error: {bad}: rows 0 and 1 have the same instruction: 'a'" in result.stderr
    assert not (tmp_path / "results" / "prompts.parquet").exists()


def test_slurm_profile_dry_run_on_the_real_config():
    """`snakemake --profile profiles/slurm -n` plans the real job with its GPU requests."""
    result = run_snakemake("--profile", str(REPO / "profiles" / "slurm"), "-n", cwd=REPO)
    assert result.returncode == 0, result.stderr[-3000:]
    jobs = scheduled(result.stdout)
    assert sorted(jobs) == sorted(
        [
            ("download_prompts", ""),
            ("download_model", ""),
            ("download_model", ""),
            ("download_model", ""),
            ("generate", "zero_shot"),
            ("generate", "sft"),
            ("annotate", ""),
            ("leaderboard", ""),
            ("overview", ""),
            ("error_sample", "zero_shot"),
            ("error_sample", "sft"),
            ("error_taxonomy", "zero_shot"),
            ("error_taxonomy", "sft"),
            ("compare", ""),
            ("context", ""),
            ("plots", ""),
            ("history", ""),
            ("report", ""),
            ("summary", ""),
            ("all", ""),
        ]
    )
    blocks = re.split(r"\n(?=(?:local)?rule \w+:)", result.stdout)
    gpus = {b.split(":")[0].split()[-1]: re.search(r"gpu=(\d+)", b) for b in blocks if "resources:" in b}
    assert gpus["generate"].group(1) == "1" and gpus["annotate"].group(1) == "2"
    assert gpus["report"] is None and gpus["leaderboard"] is None and gpus["plots"] is None


def test_a_model_split_over_two_gpus_requests_two():
    """generation.tensor_parallel_size from --config: that model's generate job requests 2 GPUs, the other 1."""
    override = "models={sft: {generation: {tensor_parallel_size: 2}}}"
    result = run_snakemake("--profile", str(REPO / "profiles" / "slurm"), "-n", "--config", override, cwd=REPO)
    assert result.returncode == 0, result.stderr[-3000:]
    blocks = re.split(r"\n(?=(?:local)?rule \w+:)", result.stdout)
    generate = {re.search(r"model=(\w+)", b).group(1): re.search(r"gpu=(\d+)", b).group(1)
                for b in blocks if b.startswith("rule generate:")}  # fmt: skip
    assert generate == {"sft": "2", "zero_shot": "1"}
    one_gpu_judge = "judge={tensor_parallel_size: 1}"
    too_few = run_snakemake("-n", "--resources", "gpu=1", "--config", override, one_gpu_judge, cwd=REPO)
    assert too_few.returncode != 0
    message = "config error at 'models.sft.generation.tensor_parallel_size': sft needs 2 GPUs but only 1 are declared"
    assert message in too_few.stdout + too_few.stderr


def test_wandb_tracking_is_opt_in():
    """The track job is planned only with tracking.wandb.project set, after summary.json."""
    plain = run_snakemake("-n", cwd=REPO)
    assert plain.returncode == 0, plain.stderr[-3000:]
    assert "track" not in {rule for rule, _ in scheduled(plain.stdout)}
    tracked = run_snakemake("-n", "--config", "tracking={wandb: {project: my-evals, mode: offline}}", cwd=REPO)
    assert tracked.returncode == 0, tracked.stderr[-3000:]
    assert ("track", "") in scheduled(tracked.stdout)
    assert "--project my-evals" in tracked.stdout and "--mode offline" in tracked.stdout


def test_judge_validation_is_opt_in_and_judged_in_the_annotate_job():
    """With validation on, the annotate job (the judge's GPUs) judges the published pairs; validate_judge needs none."""
    result = run_snakemake("--profile", str(REPO / "profiles" / "slurm"), "-n", "--config",
                           "validate_judge={enabled: true}", cwd=REPO)  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]
    jobs = scheduled(result.stdout)
    assert ("fetch_official", "") in jobs and ("validate_judge", "") in jobs
    assert [job for job in jobs if job[0] == "annotate"] == [("annotate", "")]
    blocks = re.split(r"\n(?=(?:local)?rule \w+:)", result.stdout)
    annotate_block = next(b for b in blocks if b.startswith("rule annotate"))
    assert "results/validation/annotations.json" in annotate_block
    assert "gpu=2" in annotate_block and "runtime=240" in annotate_block
    validate_block = next(b for b in blocks if re.match(r"(local)?rule validate_judge:", b))
    assert "gpu=" not in validate_block
    plain = run_snakemake("-n", cwd=REPO)
    assert "validate_judge" not in {rule for rule, _ in scheduled(plain.stdout)}
    assert "validation/annotations.json" not in plain.stdout


def test_venv_snakemake_without_activating_the_venv(tmp_path, tiny_models):
    """`.venv/bin/snakemake` from a shell whose `python` is another one: jobs still run with the venv's."""
    write_config(tmp_path, tiny_models)
    fake = tmp_path / "bin"
    fake.mkdir()
    (fake / "python").write_text("#!/bin/sh\necho 'not the venv python' >&2\nexit 3\n")
    (fake / "python").chmod(0o755)
    env = {**os.environ, "PATH": f"{fake}:{NO_SLURM}:/usr/bin:/bin"}
    env.pop("PYTHONPATH", None)
    result = subprocess.run(
        [str(Path(sys.executable).parent / "snakemake"), "--snakefile", str(REPO / "Snakefile"),
         "--configfile", "config.yaml", "--cores", "1", "results/prompts.parquet"],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-2000:]
    assert (tmp_path / "results" / "prompts.parquet").stat().st_size > 0
