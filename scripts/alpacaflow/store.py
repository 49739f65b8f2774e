"""The per-prompt generation store: finished outputs, reused when nothing that shapes them changed.

One JSON Lines file per model folder (``results/{model}/generation_store.jsonl``),
appended to (and flushed to disk) after every finished group of outputs. An entry is keyed by a hash of
everything that determines that prompt's output: the weights' identity
(`weights.weights_identity`: a local folder's fingerprint or the hub commit,
not the path or configured revision, which stay the same when a checkpoint is
rewritten), the prompt format, the stop rules, the decoding settings, the prompt's token ids,
its seed and its token budget (and its own temperature, when it has one). Raising
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

#: Settings that do not change what is generated.
NOT_IN_KEY = {"gpu_memory_utilization", "device", "max_num_seqs", "checkpoint_every", "tensor_parallel_size"}


def request_key(settings: dict[str, Any], weights: dict[str, str], request: Request) -> str:
    """Hash of everything that determines one prompt's output (`weights`: `weights.weights_identity`)."""
    generation = {k: v for k, v in settings["generation"].items() if k not in NOT_IN_KEY}
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
