"""The transformers generation engine: batched ``generate``, prompts sorted by length, left padding."""

from __future__ import annotations

import time
from typing import Any

from ..stopping import StopRules
from .base import Completion, OnDone, Request, split_at_stop, temperature_of
from .vllm_engine import dtype_name


class TransformersBackend:
    """Batched `generate`: prompts sorted by length, left padding."""

    def __init__(
        self,
        path: str,
        revision: str | None,
        generation: dict[str, Any],
        stop: StopRules,
        *,
        tokenizer: Any,
        ignore_eos: bool = False,
    ) -> None:
        import torch
        from transformers import AutoModelForCausalLM

        self.torch = torch
        self.generation = generation
        self.stop = stop
        self.tokenizer = tokenizer  # transformers matches stop strings with it
        self.ignore_eos = ignore_eos  # benchmarks: every request writes exactly its token budget
        pad = tokenizer.pad_token_id
        self.pad_id = pad if pad is not None else (stop.token_ids or [0])[0]
        self.device = "cuda" if generation["device"] == "cuda" else "cpu"
        model = AutoModelForCausalLM.from_pretrained(
            path,
            revision=revision,
            dtype=getattr(torch, dtype_name(generation["dtype"], generation["device"])),
            trust_remote_code=generation["trust_remote_code"],
        )
        self.model = model.to(self.device).eval()

    def _generation_config(self, max_new_tokens: int, temperature: float) -> Any:
        from transformers import GenerationConfig

        sample = temperature > 0
        extra = {"temperature": temperature, "top_p": self.generation["top_p"]} if sample else {}
        if self.ignore_eos:
            extra["min_new_tokens"] = max_new_tokens
        return GenerationConfig(
            max_new_tokens=max_new_tokens,
            do_sample=sample,
            top_k=0 if sample else None,
            eos_token_id=self.stop.token_ids,
            pad_token_id=self.pad_id,
            stop_strings=None if self.ignore_eos else self.stop.strings or None,
            **extra,
        )

    def _run_batch(self, batch: list[Request]) -> list[Completion]:
        torch = self.torch
        width = max(len(r.token_ids) for r in batch)
        ids = [[self.pad_id] * (width - len(r.token_ids)) + r.token_ids for r in batch]
        mask = [[0] * (width - len(r.token_ids)) + [1] * len(r.token_ids) for r in batch]
        torch.manual_seed(batch[0].seed)
        start = time.perf_counter()
        with torch.inference_mode():
            out = self.model.generate(
                input_ids=torch.tensor(ids, device=self.device),
                attention_mask=torch.tensor(mask, device=self.device),
                generation_config=self._generation_config(
                    max(r.max_new_tokens for r in batch), temperature_of(batch[0], self.generation)
                ),
                tokenizer=self.tokenizer,
            )
        share = (time.perf_counter() - start) / len(batch)
        stop = set() if self.ignore_eos else set(self.stop.token_ids)
        return [
            split_at_stop(row[: request.max_new_tokens], stop, share)
            for row, request in zip(out[:, width:].tolist(), batch, strict=True)
        ]

    def close(self) -> None:
        """Free the model (and the GPU memory it held)."""
        self.model = None
        if self.device == "cuda":
            self.torch.cuda.empty_cache()

    def generate(self, requests: list[Request], on_done: OnDone | None = None) -> list[Completion]:
        """Batches in a fixed order (by temperature, then longest prompt first); each finished batch goes to `on_done`.

        The order depends only on the requests, so a resumed run that skips
        finished batches forms the same remaining batches (and seeds). A
        batch holds requests of one temperature.
        """
        from tqdm import tqdm

        heat = [temperature_of(r, self.generation) for r in requests]
        order = sorted(range(len(requests)), key=lambda i: (heat[i], -len(requests[i].token_ids)))
        size = self.generation["batch_size"]
        results: dict[int, Completion] = {}
        batches = [group[i : i + size] for group in _runs(order, heat) for i in range(0, len(group), size)]
        for batch in tqdm(batches, desc="Generating (batches)", unit="batch"):
            done = list(zip(batch, self._run_batch([requests[i] for i in batch]), strict=True))
            results.update(done)
            if on_done is not None:
                on_done(done)
        return [results[i] for i in range(len(requests))]


def _runs(order: list[int], heat: list[float]) -> list[list[int]]:
    """`order` cut where the temperature changes."""
    runs: list[list[int]] = []
    for i in order:
        if runs and heat[runs[-1][-1]] == heat[i]:
            runs[-1].append(i)
        else:
            runs.append([i])
    return runs
