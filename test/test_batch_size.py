"""generation.batch_size: auto (transformers): halved on CUDA's out-of-memory error, kept, recorded, resumed.

There is no GPU here, so the out-of-memory error comes from a test double:
`CudaOutOfMemoryAbove`, the real transformers backend (on the CPU, a tiny
model) that raises torch's CUDA out-of-memory error for a batch of more than
`limit` prompts, as a GPU does for a batch too large for its memory. Its
`limits` can tighten after some batches (an out-of-memory error in the
middle of a job) and it can stop the job after some batches, as a kill at a
batch boundary does (the finished batches are in the store by then).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from alpacaflow.engines.base import Request
from alpacaflow.engines.batching import AUTO_START, CPU_BATCH_SIZE, batch_sizes
from alpacaflow.engines.transformers_generate import TransformersBackend
from alpacaflow.io import read_parquet
from alpacaflow.steps.generate import run_generation
from alpacaflow.store import request_key
from conftest import demo_prompt_table, resolved_settings

N_PROMPTS = 20


class Killed(Exception):
    """The job stopped at a batch boundary, as by SIGKILL between two batches."""


class CudaOutOfMemoryAbove(TransformersBackend):
    """Test double: the CPU transformers backend raising CUDA's out-of-memory error above a batch size."""

    def __init__(self, *args, limits: list[tuple[int, int]], kill_after: int | None = None, **kwargs) -> None:
        path, revision, generation, stop = args
        super().__init__(path, revision, {**generation, "device": "cpu"}, stop, **kwargs)
        self.generation = generation  # device cuda: what `auto` sizes by; the model runs on the CPU
        self.limits = limits  # (after this many finished batches, the largest batch that fits)
        self.kill_after = kill_after
        self.formed: list[int] = []  # the size of every batch that finished

    def _run_batch(self, batch: list[Request]):
        if self.kill_after is not None and len(self.formed) == self.kill_after:
            raise Killed
        limit = [fits for after, fits in self.limits if len(self.formed) >= after][-1]
        if len(batch) > limit:
            raise torch.cuda.OutOfMemoryError(f"CUDA out of memory (test double: {len(batch)} > {limit} prompts)")
        self.formed.append(len(batch))
        return super()._run_batch(batch)


@pytest.fixture(scope="module")
def prompt_table(tmp_path_factory) -> Path:
    return demo_prompt_table(tmp_path_factory.mktemp("prompts"), N_PROMPTS)


def settings(tiny_models, device: str, batch_size) -> dict:
    generation = {"backend": "transformers", "device": device, "dtype": "float32", "temperature": 0.7,
                  "top_p": 0.9, "max_new_tokens": 12, "batch_size": batch_size}  # fmt: skip
    return resolved_settings("m", {"path": str(tiny_models["chat"]), "prompt_format": "chat"}, generation)


def run(monkeypatch, s: dict, prompts: Path, out: Path, **double) -> list[CudaOutOfMemoryAbove]:
    """The generate step in this process, on the test double; the doubles it loaded."""
    loaded = []

    def load(path, revision, generation, stop, *, tokenizer):
        loaded.append(CudaOutOfMemoryAbove(path, revision, generation, stop, tokenizer=tokenizer, **double))
        return loaded[-1]

    monkeypatch.setattr("alpacaflow.generation.load_generator", load)
    run_generation(s, prompts, out)
    return loaded


def token_ids(out: Path) -> list[list[int]]:
    return [list(ids) for ids in read_parquet(out / "generations.parquet")["output_token_ids"]]


def throughput(out: Path) -> dict:
    return json.loads((out / "throughput.json").read_text())


def test_batch_sizes_by_backend_device_and_setting():
    gen = {"backend": "transformers", "device": "cuda", "batch_size": "auto"}
    assert batch_sizes(gen) == [AUTO_START // 2**i for i in range(11)] and batch_sizes(gen)[-1] == 1
    assert batch_sizes({**gen, "device": "cpu"}) == [CPU_BATCH_SIZE]
    assert batch_sizes({**gen, "batch_size": 24}) == [24]
    assert batch_sizes({**gen, "backend": "vllm"}) == [None]


def test_auto_is_the_default_and_cpu_keeps_16(tiny_models, prompt_table, tmp_path):
    s = resolved_settings("m", {"path": str(tiny_models["chat"]), "prompt_format": "chat"},
                          {"backend": "transformers", "device": "cpu", "max_new_tokens": 4})  # fmt: skip
    assert s["generation"]["batch_size"] == "auto"
    run_generation(s, prompt_table, tmp_path)
    assert throughput(tmp_path)["batch_size"] == CPU_BATCH_SIZE
    assert throughput(tmp_path)["batch_size_setting"] == "auto"


def test_the_store_key_holds_the_size_used_and_vllm_has_none(tiny_models):
    s = settings(tiny_models, "cuda", "auto")
    request = Request([1, 2, 3], 8, 42)
    fixed = settings(tiny_models, "cpu", 8)
    assert request_key(s, {}, request, 8) == request_key(fixed, {}, request, 8)  # auto at 8 is batch_size 8
    assert request_key(s, {}, request, 8) != request_key(s, {}, request, 4)
    vllm = {**s, "generation": {**s["generation"], "backend": "vllm"}}
    other = {**vllm, "generation": {**vllm["generation"], "batch_size": 3}}
    assert request_key(vllm, {}, request) == request_key(other, {}, request)  # vLLM's outputs do not depend on it


def test_auto_halves_until_a_batch_fits_and_keeps_that_size(monkeypatch, capfd, tiny_models, prompt_table, tmp_path):
    """1024 down to 4 (8 retries) on the first batch; then 4 for the rest; the same outputs as batch_size 4."""
    [double] = run(monkeypatch, settings(tiny_models, "cuda", "auto"), prompt_table, tmp_path / "auto",
                   limits=[(0, 5)])  # fmt: skip
    log = capfd.readouterr().out
    assert log.count("chosen after") == 1 and "batch size 4 chosen after 8 out-of-memory retries" in log
    assert double.formed == [4] * 5
    summary = throughput(tmp_path / "auto")
    assert (summary["batch_size"], summary["batch_size_setting"], summary["out_of_memory_retries"]) == (4, "auto", 8)
    # the plain backend (no double) at a fixed 4 on the CPU: the same batches, seeds and outputs
    monkeypatch.undo()
    run_generation(settings(tiny_models, "cpu", 4), prompt_table, tmp_path / "fixed")
    assert token_ids(tmp_path / "auto") == token_ids(tmp_path / "fixed")


def test_an_integer_batch_size_is_never_changed(monkeypatch, tiny_models, prompt_table, tmp_path):
    with pytest.raises(torch.cuda.OutOfMemoryError):
        run(monkeypatch, settings(tiny_models, "cuda", 8), prompt_table, tmp_path, limits=[(0, 5)])


MID_JOB = [(0, 8), (1, 3)]  # 8 prompts fit at first; after one batch only 3 (memory fragmented)


def test_out_of_memory_mid_job_and_resume_after_a_kill_form_the_same_batches(monkeypatch, capfd, tiny_models,
                                                                           prompt_table, tmp_path):  # fmt: skip
    """Uninterrupted: 8, then 2 x 6 after a retry in the middle; killed after 3 batches and resumed: the same."""
    s = settings(tiny_models, "cuda", "auto")
    [whole] = run(monkeypatch, s, prompt_table, tmp_path / "whole", limits=MID_JOB)
    assert whole.formed == [8, 2, 2, 2, 2, 2, 2]
    log = capfd.readouterr().out
    assert "batch size 8 chosen after 7 out-of-memory retries" in log
    assert "out of memory at batch size 8: this batch again at 4" in log
    assert throughput(tmp_path / "whole")["batch_size"] == 2
    assert throughput(tmp_path / "whole")["out_of_memory_retries"] == 9

    with pytest.raises(Killed):
        run(monkeypatch, s, prompt_table, tmp_path / "killed", limits=MID_JOB, kill_after=3)
    capfd.readouterr()
    [resumed] = run(monkeypatch, s, prompt_table, tmp_path / "killed", limits=MID_JOB)
    log = capfd.readouterr().out
    assert "12 of 20 outputs already in" in log
    assert resumed.formed == [2, 2, 2, 2] and resumed.out_of_memory_retries == 0  # went on at the size it had
    assert token_ids(tmp_path / "killed") == token_ids(tmp_path / "whole")
    assert throughput(tmp_path / "killed")["batch_size"] == 2
    lines = (tmp_path / "killed" / "generation_store.jsonl").read_text().splitlines()
    assert len(lines) == N_PROMPTS  # nothing generated twice


def test_a_finished_auto_job_reruns_from_the_store(monkeypatch, tiny_models, prompt_table, tmp_path):
    s = settings(tiny_models, "cuda", "auto")
    run(monkeypatch, s, prompt_table, tmp_path, limits=MID_JOB)
    assert run(monkeypatch, s, prompt_table, tmp_path, limits=MID_JOB) == []  # no model loaded
    assert throughput(tmp_path)["batch_size"] == 2 and throughput(tmp_path)["generated_this_run"] == 0
