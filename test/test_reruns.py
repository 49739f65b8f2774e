"""Incremental reruns of the workflow tell the truth: what a run adds, what it redoes, what a kill leaves behind.

One small workflow (two models on 4 prompts, also judged against sft, transformers on CPU, the weighted vLLM
judge on CPU), run in its own folder: a first run; two models added, one of them sft's twin with identical
outputs (unchanged models' annotations are the same bytes, the history gains the new models' rows only, and
the jobs that run are the ones the README names); the annotate job
killed mid-run and a plain rerun (every deliverable back, the same bytes, no judge engine started).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest
import yaml
from alpacaflow.io import read_parquet
from conftest import REPO, run_snakemake, subprocess_env, write_config
from test_workflow import scheduled

ENGINE_START = "Initializing a V1 LLM engine"


def smk(workdir: Path, *args: str) -> subprocess.CompletedProcess:
    result = run_snakemake("--configfile", "config.yaml", "--cores", "2", *args, cwd=workdir)
    assert result.returncode == 0, result.stderr[-3000:]
    return result


def deliverables(results: Path) -> dict[str, bytes]:
    """Every model's model_outputs.json and annotations.json (AlpacaEval's format), by path."""
    files = sorted(results.glob("*/model_outputs.json")) + sorted(results.glob("*/annotations.json"))
    return {str(p.relative_to(results)): p.read_bytes() for p in files}


def annotate_pids(workdir: Path) -> list[int]:
    """The processes of a running annotate step in `workdir`."""
    pids = []
    for proc in Path("/proc").iterdir():
        try:
            argv = (proc / "cmdline").read_bytes().split(b"\0")
            if b"alpacaflow" in argv and b"annotate" in argv and Path(os.readlink(proc / "cwd")) == workdir:
                pids.append(int(proc.name))
        except (OSError, ValueError):
            continue
    return pids


def kill_annotate(workdir: Path) -> subprocess.CompletedProcess:
    """`snakemake --forcerun annotate` with its annotate job SIGKILLed once started; Snakemake's own exit."""
    args = [sys.executable, "-m", "snakemake", "--snakefile", str(REPO / "Snakefile"), "--configfile", "config.yaml",
            "--cores", "2", "--forcerun", "annotate"]  # fmt: skip
    proc = subprocess.Popen(args, cwd=workdir, env=subprocess_env(), stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True)  # fmt: skip
    deadline = time.monotonic() + 300
    while not annotate_pids(workdir):
        if proc.poll() is not None or time.monotonic() > deadline:
            proc.kill()
            pytest.fail(f"the annotate job never started:\n{proc.stdout.read()[-3000:]}")
        time.sleep(0.05)
    time.sleep(1.0)  # well inside its imports: it writes nothing for several seconds
    for pid in annotate_pids(workdir):
        os.kill(pid, signal.SIGKILL)
    out, _ = proc.communicate(timeout=300)
    return subprocess.CompletedProcess(args, proc.returncode, out, "")


@pytest.mark.slow
def test_added_model_and_killed_annotate_leave_the_truth(tmp_path, tiny_models):
    write_config(tmp_path, tiny_models, backend="transformers")
    config = yaml.safe_load((tmp_path / "config.yaml").read_text())
    config["prompts"]["max_instances"] = 4
    config["references"] = ["prompts", "sft"]  # head to head too: the twin below is judged against its own outputs
    config["judge"]["audit"] = {"swap": 2}  # and 2 pairs of each in both orders, as the demo does
    (tmp_path / "config.yaml").write_text(yaml.safe_dump(config, sort_keys=False))
    results = tmp_path / "results"
    smk(tmp_path)
    before = deliverables(results)
    history = read_parquet(results / "history.parquet")
    assert sorted(history["model"]) == ["sft", "zero_shot", "zero_shot"]

    # Two models added, one of them sft's twin (same weights, format and seed: the same outputs); the others'
    # annotations are rewritten by the one annotate job, to the same bytes.
    config["models"]["ckpt"] = {"path": str(tiny_models["chat"]), "prompt_format": "chat",
                                "generation": {"temperature": 0.3}}  # fmt: skip
    config["models"]["twin"] = dict(config["models"]["sft"])
    (tmp_path / "config.yaml").write_text(yaml.safe_dump(config, sort_keys=False))
    added = smk(tmp_path)
    after = deliverables(results)
    assert {k: after[k] for k in before} == before
    assert after["twin/model_outputs.json"].replace(b'"twin"', b'"sft"') == before["sft/model_outputs.json"]
    grown = read_parquet(results / "history.parquet")
    new = grown.iloc[len(history) :]
    assert grown.iloc[: len(history)].equals(history)
    assert sorted(zip(new["model"], new["reference"], strict=True)) == [
        ("ckpt", "prompts"), ("ckpt", "sft"), ("twin", "prompts"), ("twin", "sft")]  # fmt: skip
    # Against its twin's outputs every pair is a tie (alpaca_eval does not ask the judge): 50%, LC n/a.
    twin = new[(new["model"] == "twin") & (new["reference"] == "sft")].iloc[0]
    assert twin["win_rate"] == 50.0 and pd.isna(twin["length_controlled_winrate"])
    # What ran: the new model's generation, the one annotate job, and the cheap steps after it, for every model
    # (README, "Reruns": annotate rewrites every model's annotations, so their per-model steps run again).
    ran = set(scheduled(added.stdout + added.stderr))
    assert ran == {
        ("generate", "ckpt"),
        ("generate", "twin"),
        ("annotate", ""),
        *(("error_sample", m) for m in ("zero_shot", "sft", "ckpt", "twin")),
        *(("error_taxonomy", m) for m in ("zero_shot", "sft", "ckpt", "twin")),
        ("leaderboard", ""),
        ("overview", ""),
        ("compare", ""),
        ("plots", ""),
        ("history", ""),
        ("summary", ""),
        ("report", ""),
        ("all", ""),
    }

    # The annotate job killed: Snakemake removes its outputs (every model's annotations.json) ...
    killed = kill_annotate(tmp_path)
    assert killed.returncode != 0
    assert not any((results / m / "annotations.json").exists() for m in ("zero_shot", "sft", "ckpt", "twin"))
    # ... and a plain run puts them back from the judge cache, the same bytes, with no judge engine started.
    smk(tmp_path)
    assert deliverables(results) == after
    assert ENGINE_START not in (results / "logs" / "annotate.log").read_text()
    assert read_parquet(results / "history.parquet").equals(grown)
