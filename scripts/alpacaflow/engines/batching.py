"""The transformers backend's batch size: a fixed one, or ``auto``: on CUDA the largest batch that fits.

``generation.batch_size`` is an integer (prompts per batch, as given) or
``auto``. On CPU ``auto`` is `CPU_BATCH_SIZE`. On CUDA it starts at
`AUTO_START` (a batch never holds more prompts than the job has, so 805
prompts make one batch) and, when a batch runs out of GPU memory, halves and
runs the same batch again; the size that worked is kept for the rest of the
job. Every size ``auto`` can use is in `batch_sizes`, a fixed list that does
not depend on the job, so that the generation store can key each output by the
size it was generated at (`store.request_key`) and a resumed job can find its
finished outputs and go on at the size they were made with.
"""

from __future__ import annotations

from typing import Any

#: ``batch_size: auto`` on CPU (the largest gain there comes by 16; larger batches pad more).
CPU_BATCH_SIZE = 16
#: ``batch_size: auto`` on CUDA starts here, then halves on out-of-memory: 1024, 512, ..., 1.
AUTO_START = 1024


def batch_sizes(generation: dict[str, Any]) -> list[int | None]:
    """The sizes a job may generate at, the first one tried first.

    vLLM schedules itself (`None`: the size does not shape its outputs); an
    integer is that size alone; ``auto`` is `CPU_BATCH_SIZE` on CPU and
    `AUTO_START` halved down to 1 on CUDA.
    """
    if generation["backend"] != "transformers":
        return [None]
    setting = generation["batch_size"]
    if setting != "auto":
        return [int(setting)]
    if generation["device"] != "cuda":
        return [CPU_BATCH_SIZE]
    sizes, size = [], AUTO_START
    while size >= 1:
        sizes.append(size)
        size //= 2
    return sizes


def halves_on_out_of_memory(generation: dict[str, Any]) -> bool:
    """Whether a batch that runs out of GPU memory is run again at half the size (``auto`` on CUDA)."""
    return generation["batch_size"] == "auto" and generation["device"] == "cuda"


def is_out_of_memory(exc: BaseException) -> bool:
    """Whether `exc` is CUDA's out-of-memory error (torch raises `torch.cuda.OutOfMemoryError`)."""
    import torch

    return isinstance(exc, torch.cuda.OutOfMemoryError)


def chosen_line(size: int, retries: int) -> str:
    """The log's one line on the size ``auto`` settled on."""
    plural = "retry" if retries == 1 else "retries"
    return f"batch size {size} chosen after {retries} out-of-memory {plural}"
