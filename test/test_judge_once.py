"""The judge loads once per run: one annotate job judges every model with one engine.

Engine starts are counted from vLLM's own log line. The judgments must be
the ones a job judging one model writes, the per-pair caches must still mean
that a rerun judges only new pairs, and a judge that cannot start, or a job
killed while judging, must fail with one line, keep finished judgments and
leave no process behind. Under --keep-going each model gets its own job, so
that one model's failed generate holds back no other model's judgments.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml
from alpacaflow.steps import annotate
from conftest import DEMO_OFFICIAL, REPO, judge_cache, run_snakemake, subprocess_env, write_config
from test_judge import ScriptedRankingJudge, judge_cfg, model_outputs, prompts  # noqa: F401  (fixture)

pytestmark = pytest.mark.slow

ENGINE_START = "Initializing a V1 LLM engine"
MODELS = ("a", "b", "c")
ANSWERS = {  # three models that answer differently (GOOD beats the reference for the scripted judge)
    "a": lambda i, s: f"GOOD answer {i}" if i % 2 else "bad",
    "b": lambda i, s: f"GOOD {s[:40]}",
    "c": lambda i, s: "bad" if i % 3 else f"GOOD, at length: {s}",
}


def tiny_judge(tiny_models: dict[str, Path], **overrides) -> dict:
    settings = dict(method="weighted", model=str(tiny_models["chat"]), device="cpu", tensor_parallel_size=1)
    settings |= dict(max_model_len=1024, batch_size=8, dtype="float32", gpu_memory_utilization=0.2)
    return judge_cfg(**{**settings, "enforce_eager": True, **overrides})


def outputs_of(table: Path, folder: Path) -> dict[str, Path]:
    """Each model's outputs file in `folder`/<model>/, for the prompt table `table`."""
    paths = {}
    for name in MODELS:
        (folder / name).mkdir(parents=True, exist_ok=True)
        paths[name] = model_outputs(table, folder / name, ANSWERS[name])
    return paths


def annotate_args(judge: dict, table: Path, outputs: dict[str, Path], folder: Path) -> list[str]:
    """`python -m alpacaflow annotate` for the models of `outputs`, as the rule runs it; results in `folder`."""
    names = list(outputs)
    args = [sys.executable, "-m", "alpacaflow", "annotate", "--judge", json.dumps(judge), "--model", *names]
    args += ["--prompts", str(table), "--outputs", *map(str, outputs.values())]
    args += ["--cache", *(str(folder / n / "judge_cache") for n in names)]
    return [*args, "--annotations", *(str(folder / n / "annotations.json") for n in names)]


def run_annotate(args: list[str]) -> subprocess.CompletedProcess:
    return subprocess.run(args, env=subprocess_env(), capture_output=True, text=True, timeout=600)


def counts(result: subprocess.CompletedProcess) -> dict[str, dict]:
    """The per-model count lines the step prints."""
    rows = [json.loads(line) for line in result.stdout.splitlines() if line.startswith('{"model"')]
    return {row["model"]: row for row in rows}


def preferences(folder: Path, model: str) -> list[float]:
    return [r["preference"] for r in json.loads((folder / model / "annotations.json").read_text())]


def in_own_session(args: list[str], stderr: int = subprocess.PIPE) -> subprocess.Popen:
    """The step started as the leader of a new session, so that everything it starts can be found and counted."""
    return subprocess.Popen(args, env=subprocess_env(), stdout=subprocess.PIPE, stderr=stderr, text=True,
                            start_new_session=True)  # fmt: skip


def left_in_session(sid: int) -> list[str]:
    """Processes still alive in session `sid` (the step was started as its leader)."""
    out = subprocess.run(["ps", "-eo", "sid=,pid=,stat=,args="], capture_output=True, text=True).stdout
    rows = [line.split(None, 3) for line in out.splitlines()]
    return [" ".join(r) for r in rows if len(r) >= 3 and r[0] == str(sid) and not r[2].startswith("Z")]


def test_three_models_one_engine_same_judgments_and_cache(tmp_path, prompts, tiny_models):  # noqa: F811
    judge = tiny_judge(tiny_models)
    outputs = outputs_of(prompts, tmp_path / "outputs")
    shared = tmp_path / "shared"
    first = run_annotate(annotate_args(judge, prompts, outputs, shared))
    assert first.returncode == 0, first.stderr[-3000:]
    log = first.stdout + first.stderr
    assert log.count(ENGINE_START) == 1
    assert {m: c["judged_this_run"] for m, c in counts(first).items()} == {"a": 8, "b": 8, "c": 8}

    # The path of one model's job (its own engine): the same judgments, to float32's summation order.
    alone = tmp_path / "alone"
    single = run_annotate(annotate_args(judge, prompts, {"c": outputs["c"]}, alone))
    assert single.returncode == 0, single.stderr[-3000:]
    assert preferences(shared, "c") == pytest.approx(preferences(alone, "c"), abs=1e-4)

    # Nothing new: no engine at all. One changed output: one engine, one pair judged.
    again = run_annotate(annotate_args(judge, prompts, outputs, shared))
    assert again.returncode == 0, again.stderr[-3000:]
    assert (again.stdout + again.stderr).count(ENGINE_START) == 0
    assert {m: c["reused_from_cache"] for m, c in counts(again).items()} == {"a": 8, "b": 8, "c": 8}
    records = json.loads(outputs["b"].read_text())
    records[3]["output"] = "A different answer."
    outputs["b"].write_text(json.dumps(records))
    changed = run_annotate(annotate_args(judge, prompts, outputs, shared))
    assert changed.returncode == 0, changed.stderr[-3000:]
    assert (changed.stdout + changed.stderr).count(ENGINE_START) == 1
    assert {m: c["judged_this_run"] for m, c in counts(changed).items()} == {"a": 0, "b": 1, "c": 0}


def test_ranking_judge_one_decoder_same_preferences(tmp_path, prompts, tiny_models, monkeypatch):  # noqa: F811
    """The ranking path with a scripted completion function: one decoder for all models, per-model results."""
    made: list[ScriptedRankingJudge] = []

    def scripted(_judge):
        made.append(ScriptedRankingJudge())
        return made[-1]

    monkeypatch.setattr(annotate, "judge_decoder", scripted)
    judge = judge_cfg(method="ranking", model=str(tiny_models["chat"]), device="cpu", tensor_parallel_size=1)
    outputs = outputs_of(prompts, tmp_path / "outputs")

    def run(names: tuple[str, ...], folder: Path) -> None:
        annotate.run(
            judge=judge,
            model=list(names),
            prompts=prompts,
            outputs=[outputs[n] for n in names],
            cache=[folder / n / "cache.json" for n in names],
            annotations=[folder / n / "annotations.json" for n in names],
        )

    run(MODELS, tmp_path / "shared")
    assert len(made) == 1 and made[0].calls == 3 * 8
    for name in MODELS:
        run((name,), tmp_path / name)
        assert preferences(tmp_path / "shared", name) == preferences(tmp_path / name, name)
    assert len(made) == 4


def test_judge_that_cannot_start_fails_with_one_line_and_leaves_nothing(tmp_path, prompts, tiny_models):  # noqa: F811
    broken = tmp_path / "broken_judge"
    shutil.copytree(tiny_models["chat"], broken)
    weights = broken / "model.safetensors"
    weights.write_bytes(b"\xff" * weights.stat().st_size)
    outputs = outputs_of(prompts, tmp_path / "outputs")
    start = time.monotonic()
    proc = in_own_session(annotate_args(tiny_judge(tiny_models, model=str(broken)), prompts, outputs, tmp_path / "run"))
    try:
        _, stderr = proc.communicate(timeout=300)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
    assert time.monotonic() - start < 300
    assert proc.returncode == 1
    assert stderr.strip().splitlines()[-1].startswith("error: the judge failed (SafetensorError: ")
    assert "0/8 judgments of a saved" in stderr.strip().splitlines()[-1]
    assert not any((tmp_path / "run" / n / "annotations.json").exists() for n in MODELS)
    assert left_in_session(proc.pid) == []


def test_job_killed_while_judging_keeps_finished_judgments_and_leaves_nothing(tmp_path, prompts, tiny_models):  # noqa: F811
    """SIGKILL (the OOM killer) after the first model: its judgments stay cached; the rerun judges only the rest."""
    judge = tiny_judge(tiny_models, checkpoint_every=1, batch_size=1)
    outputs = outputs_of(prompts, tmp_path / "outputs")
    folder = tmp_path / "run"
    proc = in_own_session(annotate_args(judge, prompts, outputs, folder), stderr=subprocess.DEVNULL)
    try:
        for line in proc.stdout:  # the first model's count line: it is judged and written
            if line.startswith('{"model": "a"'):
                os.killpg(proc.pid, signal.SIGKILL)
                break
        proc.wait(timeout=60)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
    assert proc.returncode == -signal.SIGKILL
    assert left_in_session(proc.pid) == []
    assert len(json.loads(judge_cache(folder / "a" / "judge_cache", judge).read_text())) == 8
    rerun = run_annotate(annotate_args(judge, prompts, outputs, folder))
    assert rerun.returncode == 0, rerun.stderr[-3000:]
    judged = {m: c["judged_this_run"] for m, c in counts(rerun).items()}
    assert judged["a"] == 0 and judged["c"] == 8 and judged["b"] <= 8


def test_keep_going_judges_the_models_whose_generate_succeeded(tmp_path, tiny_models):
    """Under --keep-going one annotate job per model: a failed generate holds back only its own model."""
    write_config(tmp_path, tiny_models)
    config = yaml.safe_load((tmp_path / "config.yaml").read_text())
    demo = json.loads((REPO / "test" / "demo" / "prompts.json").read_text())
    good = [{"instruction": r["instruction"], "output": r["output"][:60]} for r in demo]
    (tmp_path / "good.json").write_text(json.dumps(good))
    (tmp_path / "bad.json").write_text(json.dumps(good[:2]))  # covers 2 of the 6 prompts: import fails
    config["models"] = {name: {"outputs": str(tmp_path / f"{name}.json")} for name in ("good", "bad")}
    config["models"]["also_good"] = {"outputs": str(tmp_path / "good.json")}
    (tmp_path / "config.yaml").write_text(yaml.safe_dump(config, sort_keys=False))

    result = run_snakemake("--configfile", "config.yaml", "--cores", "2", "--keep-going", cwd=tmp_path)
    assert result.returncode != 0
    assert "prompt(s) of the prompt set have no output" in result.stderr
    results = tmp_path / "results"
    for name in ("good", "also_good"):
        assert len(json.loads((results / name / "annotations.json").read_text())) == 6
        assert (results / "logs" / "annotate" / f"{name}.log").read_text().count(ENGINE_START) == 1
    assert not (results / "bad" / "annotations.json").exists()
    assert not (results / "leaderboard.csv").exists()


def rewrite_weights(folder: Path, seed: int) -> None:
    """Rewrite a tiny model's weights in place (same files, same shapes, other values), as a new checkpoint would."""
    import torch
    from safetensors.torch import load_file, save_file

    path = folder / "model.safetensors"
    generator = torch.Generator().manual_seed(seed)
    weights = {
        k: v + 0.5 * torch.randn(v.shape, generator=generator, dtype=v.dtype) for k, v in load_file(path).items()
    }
    save_file(weights, path, metadata={"format": "pt"})


def test_judge_weights_rewritten_in_place_rejudge_everything(tmp_path, tiny_models):
    """The judge's identity keys its cache and reruns annotate: new weights at the same path judge every pair again.

    Validation is on: its published pairs are judged in the same job and engine start as the models' pairs.
    """
    judge_folder = tmp_path / "judge"
    shutil.copytree(tiny_models["chat"], judge_folder)
    write_config(tmp_path, tiny_models)
    config = yaml.safe_load((tmp_path / "config.yaml").read_text())
    demo = json.loads((REPO / "test" / "demo" / "prompts.json").read_text())
    for name, cut in (("a", 40), ("b", 90)):
        records = [{"instruction": r["instruction"], "output": f"{name}: {r['output'][:cut]}"} for r in demo]
        (tmp_path / f"{name}.json").write_text(json.dumps(records))
    config["models"] = {name: {"outputs": str(tmp_path / f"{name}.json")} for name in ("a", "b")}
    config["judge"]["model"] = str(judge_folder)
    config["validate_judge"] = {"enabled": True, "source": str(DEMO_OFFICIAL)}
    (tmp_path / "config.yaml").write_text(yaml.safe_dump(config, sort_keys=False))
    results = tmp_path / "results"

    def evaluate() -> tuple[str, dict[str, list]]:
        run = run_snakemake("--configfile", "config.yaml", "--cores", "2", cwd=tmp_path)
        assert run.returncode == 0, run.stderr[-3000:]
        log = (results / "logs" / "annotate.log").read_text()
        prefs = {m: [r["preference"] for r in json.loads((results / m / "annotations.json").read_text())]
                 for m in ("a", "b", "validation")}  # fmt: skip
        return log, prefs

    log, before = evaluate()
    assert log.count(ENGINE_START) == 1  # the models' pairs and judge validation's: one judge load
    judged = [json.loads(line) for line in log.splitlines() if line.startswith('{"model"')]
    assert [(c["model"], c["reference"], c["judged_this_run"]) for c in judged] == [
        ("a", "prompts", 6), ("b", "prompts", 6), ("validation", "official", len(before["validation"]))]  # fmt: skip
    assert ENGINE_START not in (results / "logs" / "validate_judge.log").read_text()
    again = run_snakemake("--configfile", "config.yaml", "--cores", "2", "-n", cwd=tmp_path)
    assert "Nothing to be done" in again.stdout + again.stderr

    rewrite_weights(judge_folder, seed=1)
    log, after = evaluate()
    judged = [json.loads(line) for line in log.splitlines() if line.startswith('{"model"')]
    assert log.count(ENGINE_START) == 1 and all(c["judged_this_run"] == c["n"] for c in judged)
    assert after["a"] != pytest.approx(before["a"], abs=1e-3)  # other weights, other judgments
    identities = {json.loads((results / m / "annotations.json").read_text())[0]["judge_identity"] for m in "ab"}
    assert len(identities) == 1 and identities.pop().startswith("folder sha256:")
    assert len(list((results / "a" / "judge_cache").glob("*.json"))) == 2  # the old judge's cache stays
    again = run_snakemake("--configfile", "config.yaml", "--cores", "2", "-n", cwd=tmp_path)
    assert "Nothing to be done" in again.stdout + again.stderr


class FirstShownJudge:
    """Test double at the completion boundary: a judge that always ranks the output shown first higher."""

    def __init__(self) -> None:
        self.calls = 0

    def __call__(self, prompts, **kwargs):  # noqa: F811  (not the fixture)
        self.calls += len(prompts)
        answer = "[{'model': 'model_1', 'rank': 1}, {'model': 'model_2', 'rank': 2}]"
        n = len(prompts)
        return {"completions": [answer] * n, "price_per_example": [0.0] * n, "time_per_example": [0.0] * n}


@pytest.mark.parametrize(("judge_double", "flips"), [(ScriptedRankingJudge, 0), (FirstShownJudge, 4)])
def test_audit_judges_sampled_pairs_in_both_orders(tmp_path, prompts, tiny_models, monkeypatch,  # noqa: F811
                                                    judge_double, flips):  # fmt: skip
    """4 of 8 pairs judged twice: a judge that reads the answers never flips; one that picks the first always does."""
    from alpacaflow.metrics.audit import position_flips

    made: list = []
    monkeypatch.setattr(annotate, "judge_decoder", lambda _judge: made.append(judge_double()) or made[-1])
    judge = judge_cfg(method="ranking", model=str(tiny_models["chat"]), device="cpu", tensor_parallel_size=1,
                      audit={"swap": 4, "seed": 0})  # fmt: skip
    outputs = outputs_of(prompts, tmp_path / "outputs")

    def run() -> list[dict]:
        folder = tmp_path / "a"
        annotate.run(judge=judge, model=["a"], prompts=prompts, outputs=[outputs["a"]],
                     cache=[folder / "judge_cache"], annotations=[folder / "annotations.json"])  # fmt: skip
        return json.loads((tmp_path / "a" / "annotations.json").read_text())

    rows = run()
    audited = [r for r in rows if "position_audit" in r]
    assert len(audited) == 4 and made[-1].calls == 8 + 2 * 4
    assert position_flips(rows) == (flips, 4)
    for row in audited:  # each order's preference, in the pair's own encoding (2: the model won)
        both = row["position_audit"]
        if judge_double is FirstShownJudge:
            assert (both["reference_first"], both["model_first"]) == (1.0, 2.0)
        else:
            assert both["reference_first"] == both["model_first"] == row["preference"]
    assert judge_cache(tmp_path / "a" / "judge_cache", judge, "audit").exists()
    assert run() == rows and made[-1].calls == 0  # both orders come from their cache
