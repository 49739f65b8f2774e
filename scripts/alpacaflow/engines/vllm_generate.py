"""The vLLM generation engine: every prompt enqueued at once into one continuous batch, per-request seeds.

vLLM code must run under ``if __name__ == "__main__":`` (it spawns workers);
the command-line entry point takes care of that.
"""

from __future__ import annotations

import time
from typing import Any

from ..stopping import StopRules
from .base import Completion, OnDone, Request, split_at_stop, temperature_of
from .vllm_engine import check_engine_prompt, engine_kwargs, shutdown_llm


class VLLMBackend:
    """All prompts enqueued at once into one continuous batch; per-request seeds."""

    def __init__(
        self,
        path: str,
        revision: str | None,
        generation: dict[str, Any],
        stop: StopRules,
        *,
        tokenizer: Any = None,  # part of the interface; vLLM gets prompts as token ids and stops on them
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

        temperature = temperature_of(request, self.generation)
        greedy = temperature == 0
        return SamplingParams(
            temperature=temperature,
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

    def generate(
        self, requests: list[Request], on_done: OnDone | None = None, *, batch_size: int | None = None
    ) -> list[Completion]:
        """Enqueue every request, then step the engine, handing finished groups to `on_done`.

        `batch_size` is the transformers backend's; vLLM schedules itself (`batching.batch_sizes`).

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
