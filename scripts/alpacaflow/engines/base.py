"""What every generation engine takes and gives: `Request`, `Completion`, and the `Generator` interface.

Engines take prompts as token ids (see `formatting`) and a model's stop rules
(see `stopping`: token ids and strings, which every engine stops at) and
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

Decoding settings mean the same in every engine: temperature 0 is greedy,
top-k is off, generation stops at any stop token id or stop string. A
request's own temperature (`Request.temperature`) overrides the settings'.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol


@dataclass(frozen=True)
class Request:
    """One prompt to complete."""

    token_ids: list[int]
    max_new_tokens: int
    seed: int
    temperature: float | None = None  # None: the generation settings' (MT-Bench sets one per category)


@dataclass(frozen=True)
class Completion:
    """What an engine produced for one request."""

    token_ids: list[int]
    generated_tokens: int
    finish_reason: str
    seconds: float
    stop_token_id: int | None = None  # the stop token that ended it (finish_reason stop)
    batch_size: int | None = None  # transformers: the batch size it was generated at (part of its store key)


#: Receives (request position, completion) pairs as soon as they are finished.
OnDone = Callable[[list[tuple[int, Completion]]], None]


class Generator(Protocol):
    """A loaded model that completes requests (an engine of the generate step), and closes itself."""

    def generate(
        self, requests: list[Request], on_done: OnDone | None = None, *, batch_size: int | None = None
    ) -> list[Completion]:
        """Complete `requests`, returning one `Completion` each, in order; finished groups go to `on_done`.

        `batch_size`: the size to start at (transformers; a resumed job's, see
        `batching`); vLLM schedules itself and has none.
        """
        ...

    def close(self) -> None:
        """Free the model (and stop any engine processes)."""
        ...


class JudgeDecoder(Protocol):
    """A judge's ``fn_completions`` for alpaca_eval's annotator (an engine of the annotate step), and closes itself."""

    def __call__(self, prompts: list[str], **kwargs: Any) -> dict[str, Any]:
        """Completions of rendered judge prompts, in alpaca_eval's ``fn_completions`` form."""
        ...

    def close(self) -> None:
        """Stop the engine it started, if any."""
        ...


def temperature_of(request: Request, generation: dict[str, Any]) -> float:
    """The temperature `request` is decoded at: its own, else the generation settings'."""
    return generation["temperature"] if request.temperature is None else request.temperature


def split_at_stop(token_ids: list[int], stop_ids: set[int], seconds: float) -> Completion:
    """Cut `token_ids` at the first stop token."""
    for i, tok in enumerate(token_ids):
        if tok in stop_ids:
            return Completion(list(token_ids[:i]), i + 1, "stop", seconds, int(tok))
    return Completion(list(token_ids), len(token_ids), "length", seconds)
