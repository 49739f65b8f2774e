"""Generation backends behind one small interface: vLLM and transformers.

Both take prompts as token ids (see `formatting`) and a model's stop rules
(see `stopping`: token ids and strings, which both engines stop at) and
return, per prompt, the generated token ids with the stop token removed (and
which token it was), the number of tokens the engine generated (stop token
included), a finish reason (``stop`` or ``length``) and the seconds
attributed to it (the wall time since the previous group of finished
requests, shared among that group, so the seconds of a run add up to its
wall time). `stopping.finish` then cuts stop strings out of the text.

Finished work is handed to an ``on_done`` callback as it finishes: after each
batch (transformers) or each group of ``checkpoint_every`` finished requests
(vLLM, whose continuous batching keeps running meanwhile). The generate step
writes each group to its store, so a killed job loses at most one group.

Decoding settings mean the same in both: temperature 0 is greedy, top-k is
off, generation stops at any stop token id or stop string.

vLLM code must run under ``if __name__ == "__main__":`` (it spawns workers);
the command-line entry point takes care of that.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

from .errors import AlpacaflowError
from .stopping import StopRules
from .vllm_engine import check_engine_prompt, dtype_name, engine_kwargs, shutdown_llm


@dataclass(frozen=True)
class Request:
    """One prompt to complete."""

    token_ids: list[int]
    max_new_tokens: int
    seed: int


@dataclass(frozen=True)
class Completion:
    """What a backend produced for one request."""

    token_ids: list[int]
    generated_tokens: int
    finish_reason: str
    seconds: float
    stop_token_id: int | None = None  # the stop token that ended it (finish_reason stop)


#: Receives (request position, completion) pairs as soon as they are finished.
OnDone = Callable[[list[tuple[int, Completion]]], None]


class Backend(Protocol):
    """A loaded model that completes requests."""

    def generate(self, requests: list[Request], on_done: OnDone | None = None) -> list[Completion]:
        """Complete `requests`, returning one `Completion` each, in order; finished groups go to `on_done`."""
        ...


def split_at_stop(token_ids: list[int], stop_ids: set[int], seconds: float) -> Completion:
    """Cut `token_ids` at the first stop token."""
    for i, tok in enumerate(token_ids):
        if tok in stop_ids:
            return Completion(list(token_ids[:i]), i + 1, "stop", seconds, int(tok))
    return Completion(list(token_ids), len(token_ids), "length", seconds)


class VLLMBackend:
    """All prompts enqueued at once into one continuous batch; per-request seeds."""

    def __init__(
        self,
        path: str,
        revision: str | None,
        generation: dict[str, Any],
        stop: StopRules,
        *,
        ignore_eos: bool = False,
    ) -> None:
        from vllm import LLM

        self.generation = generation
        self.stop = stop
        self.ignore_eos = ignore_eos  # benchmarks: every request writes exactly its token budget
        engine = engine_kwargs(
            dtype=generation["dtype"],
            device=generation["device"],
            max_model_len=generation["max_model_len"],
            gpu_memory_utilization=generation["gpu_memory_utilization"],
            enforce_eager=generation["enforce_eager"],
            seed=generation["seed"],
            revision=revision,
            tensor_parallel_size=generation["tensor_parallel_size"],
            max_num_seqs=generation.get("max_num_seqs"),
            trust_remote_code=generation["trust_remote_code"],
        )
        self.llm = LLM(model=path, tokenizer=path, **engine)

    def _params(self, request: Request) -> Any:
        from vllm import SamplingParams

        greedy = self.generation["temperature"] == 0
        return SamplingParams(
            temperature=self.generation["temperature"],
            top_p=1.0 if greedy else self.generation["top_p"],
            top_k=0,
            max_tokens=request.max_new_tokens,
            seed=request.seed,
            stop_token_ids=[] if self.ignore_eos else self.stop.token_ids,
            stop=None if self.ignore_eos else self.stop.strings or None,
            ignore_eos=self.ignore_eos,
            detokenize=bool(self.stop.strings) and not self.ignore_eos,  # stop strings are matched on text
        )

    def close(self) -> None:
        """Stop the engine's processes."""
        shutdown_llm(self.llm)

    def generate(self, requests: list[Request], on_done: OnDone | None = None) -> list[Completion]:
        """Enqueue every request, then step the engine, handing finished groups to `on_done`.

        Uses `LLM.enqueue` and the engine's `step()` loop (what `LLM.generate`
        runs inside) so that finished outputs can be saved while the rest
        keep decoding in the same continuous batch.
        """
        from tqdm import tqdm
        from vllm.inputs import TokensPrompt

        prompts = [TokensPrompt(prompt_token_ids=r.token_ids) for r in requests]
        ids = self.llm.enqueue(prompts, [self._params(r) for r in requests], use_tqdm=False)
        # Outputs carry the id without the random suffix that `enqueue` returns ("7-1a2b" -> "7").
        position = {request_id.split("-")[0]: i for i, request_id in enumerate(ids)}
        engine = self.llm.llm_engine
        stop = set() if self.ignore_eos else set(self.stop.token_ids)
        every = self.generation.get("checkpoint_every") or len(requests)
        results: dict[int, Completion] = {}
        group: list[tuple[int, list[int]]] = []
        clock = time.perf_counter()

        def flush() -> None:
            nonlocal clock, group
            now = time.perf_counter()
            share = (now - clock) / len(group)
            done = []
            for i, token_ids in group:
                results[i] = split_at_stop(token_ids, stop, share)
                done.append((i, results[i]))
            clock, group = now, []
            if on_done is not None:
                on_done(done)

        with tqdm(total=len(requests), desc="Generating", unit="prompt") as bar:
            try:
                while engine.has_unfinished_requests():
                    for out in engine.step():
                        if out.finished:
                            i = position[out.request_id.split("-")[0]]
                            check_engine_prompt(out.prompt_token_ids, requests[i].token_ids)
                            group.append((i, list(out.outputs[0].token_ids)))
                            bar.update(1)
                    if len(group) >= every:
                        flush()
            finally:  # also on SIGTERM (see cli): hand over what has finished
                if group:
                    flush()
        return [results[i] for i in range(len(requests))]


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

    def _generation_config(self, max_new_tokens: int) -> Any:
        from transformers import GenerationConfig

        sample = self.generation["temperature"] > 0
        extra = {"temperature": self.generation["temperature"], "top_p": self.generation["top_p"]} if sample else {}
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
                generation_config=self._generation_config(max(r.max_new_tokens for r in batch)),
                tokenizer=self.tokenizer,
            )
        share = (time.perf_counter() - start) / len(batch)
        stop = set() if self.ignore_eos else set(self.stop.token_ids)
        return [
            split_at_stop(row[: request.max_new_tokens], stop, share)
            for row, request in zip(out[:, width:].tolist(), batch, strict=True)
        ]

    def generate(self, requests: list[Request], on_done: OnDone | None = None) -> list[Completion]:
        """Batches in a fixed order (longest prompt first); each finished batch goes to `on_done`.

        The order depends only on the requests, so a resumed run that skips
        finished batches forms the same remaining batches (and seeds).
        """
        from tqdm import tqdm

        order = sorted(range(len(requests)), key=lambda i: -len(requests[i].token_ids))
        size = self.generation["batch_size"]
        results: dict[int, Completion] = {}
        batches = [order[i : i + size] for i in range(0, len(order), size)]
        for batch in tqdm(batches, desc="Generating (batches)", unit="batch"):
            done = list(zip(batch, self._run_batch([requests[i] for i in batch]), strict=True))
            results.update(done)
            if on_done is not None:
                on_done(done)
        return [results[i] for i in range(len(requests))]


def load_backend(
    path: str, revision: str | None, generation: dict[str, Any], stop: StopRules, *, tokenizer: Any
) -> Backend:
    """Instantiate the configured backend (this loads the model)."""
    backend = generation["backend"]
    if backend == "vllm":
        return VLLMBackend(path, revision, generation, stop)
    if backend == "transformers":
        return TransformersBackend(path, revision, generation, stop, tokenizer=tokenizer)
    raise AlpacaflowError(f"unknown generation backend '{backend}' (use 'vllm' or 'transformers')")
