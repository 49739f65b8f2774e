"""GPU allocation between concurrent jobs, with a fake device count (no GPU needed)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from alpacaflow.errors import AlpacaflowError
from alpacaflow.gpus import claim_gpus
from conftest import subprocess_env

HOLDER = """
import sys, time
from alpacaflow.gpus import claim_gpus
start = time.time()
ids = claim_gpus(int(sys.argv[1]), poll_seconds=0.05)
import os
print(os.environ["CUDA_VISIBLE_DEVICES"], round(time.time() - start, 2), flush=True)
time.sleep(float(sys.argv[2]))
"""


def holder(lock_dir: Path, n: int, seconds: float, devices: int = 2) -> subprocess.Popen:
    env = subprocess_env(ALPACAFLOW_GPU_COUNT=str(devices), ALPACAFLOW_GPU_LOCK_DIR=str(lock_dir))
    env.pop("CUDA_VISIBLE_DEVICES", None)
    return subprocess.Popen(
        [sys.executable, "-c", HOLDER, str(n), str(seconds)], env=env, stdout=subprocess.PIPE, text=True
    )


def claimed(proc: subprocess.Popen) -> tuple[list[str], float]:
    ids, waited = proc.stdout.readline().split()
    return ids.split(","), float(waited)


def test_two_jobs_get_disjoint_devices(tmp_path):
    a, b = holder(tmp_path, 1, 1.0), holder(tmp_path, 1, 1.0)
    ids_a, _ = claimed(a)
    ids_b, _ = claimed(b)
    assert len(ids_a) == len(ids_b) == 1
    assert set(ids_a).isdisjoint(ids_b)
    assert set(ids_a) | set(ids_b) == {"0", "1"}
    assert a.wait(10) == 0 and b.wait(10) == 0


def test_a_job_asking_for_two_waits_until_both_are_free(tmp_path):
    first = holder(tmp_path, 1, 1.5)
    claimed(first)
    started = time.time()
    both = holder(tmp_path, 2, 0)
    ids, waited = claimed(both)
    assert sorted(ids) == ["0", "1"]
    assert waited >= 1.0 and time.time() - started >= 1.0
    assert first.wait(10) == 0 and both.wait(10) == 0


def test_a_killed_job_releases_its_devices(tmp_path):
    victim = holder(tmp_path, 2, 60)
    assert sorted(claimed(victim)[0]) == ["0", "1"]
    victim.send_signal(signal.SIGKILL)
    victim.wait(10)
    after = holder(tmp_path, 2, 0)
    ids, waited = claimed(after)
    assert sorted(ids) == ["0", "1"] and waited < 1.0
    assert after.wait(10) == 0


def test_scheduler_assignment_is_respected(monkeypatch, tmp_path):
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "3,5")
    monkeypatch.setenv("ALPACAFLOW_GPU_LOCK_DIR", str(tmp_path))
    assert claim_gpus(2) == [3, 5]
    assert os.environ["CUDA_VISIBLE_DEVICES"] == "3,5"
    assert not list(tmp_path.iterdir())


def test_too_few_devices_is_one_clear_error(monkeypatch, tmp_path):
    monkeypatch.delenv("CUDA_VISIBLE_DEVICES", raising=False)
    monkeypatch.setenv("ALPACAFLOW_GPU_COUNT", "1")
    monkeypatch.setenv("ALPACAFLOW_GPU_LOCK_DIR", str(tmp_path))
    with pytest.raises(AlpacaflowError, match="needs 2 GPU\\(s\\) but the machine has 1"):
        claim_gpus(2)
    assert claim_gpus(0) == []


def test_a_tensor_parallel_generate_job_claims_its_gpus(tmp_path):
    """`generation.tensor_parallel_size: 2` on cuda: the job claims two devices before it loads anything."""
    from conftest import demo_prompt_table, resolved_settings, run_cli

    settings = resolved_settings("big", {"path": str(tmp_path / "no_model")}, {"tensor_parallel_size": 2})
    prompts = demo_prompt_table(tmp_path, 2)
    result = run_cli("generate", "--settings", json.dumps(settings), "--prompts", str(prompts), "--out-dir",
                     str(tmp_path / "out"), "--gpu", "2", ALPACAFLOW_GPU_COUNT="2",
                     ALPACAFLOW_GPU_LOCK_DIR=str(tmp_path / "locks"), CUDA_VISIBLE_DEVICES="")  # fmt: skip
    assert "using GPU(s) 0,1" in result.stderr, result.stderr[-2000:]
    assert result.returncode == 1 and "model folder not found" in result.stderr.strip().splitlines()[-1]
    assert sorted(p.name for p in (tmp_path / "locks").iterdir()) == ["gpu0.lock", "gpu1.lock"]
