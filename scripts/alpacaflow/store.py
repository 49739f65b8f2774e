"""The per-prompt generation store: finished outputs, reused when nothing that shapes them changed.

One JSON Lines file per model folder (``results/{model}/generation_store.jsonl``),
appended to (and flushed to disk) after every finished group of outputs. An entry is keyed by a hash of
everything that determines that prompt's output: the weights' identity
(`weights.weights_identity`: a local folder's fingerprint or the hub commit,
not the path or configured revision, which stay the same when a checkpoint is
rewritten), the prompt format, the stop rules, the decoding settings, the prompt's token ids,
its seed and its token budget (and its own temperature, when it has one), and on the
transformers backend the batch size it was made at (`JobKeys`: a ``batch_size: auto``
job finds its outputs at whichever size it used, and a resumed job goes on at it). Raising
``max_instances`` or adding prompts therefore
generates only the new prompts, an unchanged prompt keeps its exact
output, and new weights regenerate every prompt. The store is not a Snakemake output, so reruns do not delete it;
delete the file to force fresh generations.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Any

from .engines.base import Completion, Request
from .engines.batching import batch_sizes

#: Settings that do not change what is generated.
NOT_IN_KEY = {"gpu_memory_utilization", "device", "max_num_seqs", "checkpoint_every", "tensor_parallel_size"}


def request_key(
    settings: dict[str, Any], weights: dict[str, str], request: Request, batch_size: int | None = None
) -> str:
    """Hash of everything that determines one prompt's output (`weights`: `weights.weights_identity`).

    `batch_size`: the transformers batch size it is generated at (batches are
    seeded from their first request and padded together, so the size shapes
    the output); None for vLLM, where it does not.
    """
    generation = {k: v for k, v in settings["generation"].items() if k not in NOT_IN_KEY | {"batch_size"}}
    if batch_size is not None:
        generation["batch_size"] = batch_size
    payload = {
        "weights": weights,
        "prompt_format": settings["prompt_format"],
        "stop": {key: settings[key] for key in ("stop", "stop_token_ids")},
        "generation": generation,
        "prompt_token_ids": request.token_ids,
        "seed": request.seed,
        "max_new_tokens": request.max_new_tokens,
    }
    if request.temperature is not None:  # a request's own temperature (MT-Bench's per category)
        payload["temperature"] = request.temperature
    return hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()


class JobKeys:
    """The store keys of one job's requests at each batch size the job may use (`batching.batch_sizes`)."""

    def __init__(self, settings: dict[str, Any], weights: dict[str, str], requests: list[Request]) -> None:
        self.settings, self.weights, self.requests = settings, weights, requests
        self.sizes = batch_sizes(settings["generation"])
        self._keys: dict[int | None, list[str]] = {}
        self._size: dict[str, int | None] = {}

    def at(self, size: int | None) -> list[str]:
        """Every request's key at batch size `size`."""
        if size not in self._keys:
            self._keys[size] = [request_key(self.settings, self.weights, r, size) for r in self.requests]
            self._size.update(dict.fromkeys(self._keys[size], size))
        return self._keys[size]

    def stored(self, store: GenerationStore) -> dict[int, str]:
        """Request position -> its key in `store`, for the requests stored at any of the sizes (the first found)."""
        found: dict[int, str] = {}
        for size in self.sizes:
            for i, key in enumerate(self.at(size)):
                if i not in found and key in store:
                    found[i] = key
            if len(found) == len(self.requests):
                break
        return found

    def size_of(self, key: str) -> int | None:
        """The batch size `key` was made at."""
        return self._size[key]

    def resume_size(self, found: dict[int, str]) -> int | None:
        """The size to go on at: the smallest the stored outputs were made at (`auto` only halves), else the first."""
        made = [size for size in {self.size_of(key) for key in found.values()} if size is not None]
        return min(made) if made else self.sizes[0]


class GenerationStore:
    """Append-only store of completions by request key."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self.entries: dict[str, Completion] = {}
        if self.path.exists():
            for line in self.path.read_text(encoding="utf-8").splitlines():
                try:
                    row = json.loads(line)
                except json.JSONDecodeError:
                    continue  # a line cut short by a killed job: generated again
                self.entries[row["key"]] = Completion(
                    row["token_ids"],
                    row["generated_tokens"],
                    row["finish_reason"],
                    row["seconds"],
                    row.get("stop_token_id"),
                )

    def __contains__(self, key: str) -> bool:
        return key in self.entries

    def __getitem__(self, key: str) -> Completion:
        return self.entries[key]

    def count(self, keys: list[str]) -> int:
        """How many of `keys` are stored."""
        return sum(key in self.entries for key in keys)

    def _ends_with_newline(self) -> bool:
        with self.path.open("rb") as handle:
            handle.seek(-1, os.SEEK_END)
            return handle.read(1) == b"\n"

    def add(self, items: list[tuple[str, Completion]]) -> None:
        """Append completions and flush them to disk."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self.path.open("a", encoding="utf-8") as handle:
            if handle.tell() > 0 and not self._ends_with_newline():
                handle.write("\n")  # a line cut short by a kill stays on its own (ignored) line
            for key, c in items:
                row = {
                    "key": key,
                    "token_ids": c.token_ids,
                    "generated_tokens": c.generated_tokens,
                    "finish_reason": c.finish_reason,
                    "seconds": c.seconds,
                    "stop_token_id": c.stop_token_id,
                }
                handle.write(json.dumps(row) + "\n")
                self.entries[key] = c
            handle.flush()
            os.fsync(handle.fileno())
