"""The transformers generation engine: batched ``generate``, prompts sorted by length, left padding."""

from __future__ import annotations

import time
from dataclasses import replace
from typing import Any

from ..stopping import StopRules
from .base import Completion, OnDone, Request, split_at_stop, temperature_of
from .batching import batch_sizes, chosen_line, halves_on_out_of_memory, is_out_of_memory
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
        self.batch_size = batch_sizes(generation)[0]  # the size in use (`generate` may halve it)
        self.out_of_memory_retries = 0  # in the last `generate` call (a job with several calls adds them up)
        self.chosen = False  # whether `auto` has logged the size it settled on (once per job)

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

    def generate(
        self, requests: list[Request], on_done: OnDone | None = None, *, batch_size: int | None = None
    ) -> list[Completion]:
        """Batches in a fixed order (by temperature, then longest prompt first); each finished batch goes to `on_done`.

        The order depends only on the requests, so a resumed run that skips
        finished batches forms the same remaining batches (and seeds), given
        the size the finished ones were made at (`batch_size`; by default the
        first of `batching.batch_sizes`). A batch holds requests of one
        temperature. With ``batch_size: auto`` on CUDA a batch that runs out of
        memory runs again at half the size, which is kept from then on; each
        completion carries the size its batch was made at.
        """
        from tqdm import tqdm

        heat = [temperature_of(r, self.generation) for r in requests]
        order = sorted(range(len(requests)), key=lambda i: (heat[i], -len(requests[i].token_ids)))
        self.batch_size = batch_size or batch_sizes(self.generation)[0]
        self.out_of_memory_retries = 0  # this call's
        results: dict[int, Completion] = {}
        with tqdm(total=len(requests), desc="Generating", unit="prompt") as bar:
            for run in _runs(order, heat):
                start = 0
                while start < len(run):
                    batch = run[start : start + self.batch_size]
                    done = self._try_batch(batch, requests)
                    if done is None:  # out of memory: the same prompts again at half the size
                        continue
                    results.update(done)
                    if on_done is not None:
                        on_done(done)
                    start += len(batch)
                    bar.update(len(batch))
        return [results[i] for i in range(len(requests))]

    def _try_batch(self, batch: list[int], requests: list[Request]) -> list[tuple[int, Completion]] | None:
        """`batch` generated, or None after an out-of-memory error that halved the batch size."""
        size = self.batch_size
        try:
            completions = self._run_batch([requests[i] for i in batch])
        except Exception as exc:
            if not (halves_on_out_of_memory(self.generation) and size > 1 and is_out_of_memory(exc)):
                raise
            self.batch_size, self.out_of_memory_retries = size // 2, self.out_of_memory_retries + 1
            if self.chosen:
                print(f"out of memory at batch size {size}: this batch again at {size // 2}, "
                      "the size kept for the rest of the job", flush=True)  # fmt: skip
        else:
            if halves_on_out_of_memory(self.generation) and not self.chosen:
                self.chosen = True
                print(chosen_line(size, self.out_of_memory_retries), flush=True)
            return [(i, replace(c, batch_size=size)) for i, c in zip(batch, completions, strict=True)]
        if self.device == "cuda":
            self.torch.cuda.empty_cache()  # the failed batch's memory back before the smaller one
        return None


def _runs(order: list[int], heat: list[float]) -> list[list[int]]:
    """`order` cut where the temperature changes."""
    runs: list[list[int]] = []
    for i in order:
        if runs and heat[runs[-1][-1]] == heat[i]:
            runs[-1].append(i)
        else:
            runs.append([i])
    return runs
