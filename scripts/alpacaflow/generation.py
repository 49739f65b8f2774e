"""Generating answers: a model's prompts through its stop rules, its store and one engine, as a per-example table.

What the generate step does for any prompt set, and the MT-Bench turns
(`two_turns`) do twice: check the prompts (one BOS, the length), build
requests (seed = base + index; a per-request temperature where the
benchmark sets one), take stored completions and generate the rest with one
engine (`Decoding`, started on the first request not in the store, each
finished group stored at once), cut each completion at its stop rules, and
tabulate (`generations_table`).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import pandas as pd

from .dialogues import from_json
from .engines import load_generator
from .engines.base import Completion, Request
from .errors import AlpacaflowError, Terminated, stopped_by_signal
from .formatting import FormattedPrompt, PromptFormat, check_bos, format_conversation, format_prompt
from .stopping import Finished, finish, summary_line
from .store import GenerationStore, JobKeys


def load_tokenizer(path: str, trust_remote_code: bool = False, revision: str | None = None) -> Any:
    """Load a model's tokenizer, turning every failure into one clear line."""
    from transformers import AutoTokenizer

    try:
        return AutoTokenizer.from_pretrained(path, trust_remote_code=trust_remote_code, revision=revision)
    except (OSError, ValueError) as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise AlpacaflowError(f"cannot load a tokenizer from '{path}': {first}") from exc


def generation_eos(path: str, revision: str | None = None) -> int | list[int] | None:
    """EOS ids from the model's generation_config.json, if it has one."""
    from transformers import GenerationConfig

    try:
        return GenerationConfig.from_pretrained(path, revision=revision).eos_token_id
    except OSError:
        return None


#: How a too-long prompt is named in the length check's error: (its position, its tokens) -> words.
Namer = Callable[[int, int], str]


def check_lengths(model: str, prompts: list[FormattedPrompt], indices: list[int], generation: dict[str, Any], *,
                  name: Namer | None = None, setting: str = "generation") -> None:  # fmt: skip
    """Stop before any engine starts when the longest prompt plus max_new_tokens exceeds max_model_len.

    `name` names that prompt in the error line (default: "the longest prompt"
    and its index); `setting` is where its max_new_tokens is configured.
    """
    if not prompts:
        return
    longest = max(range(len(prompts)), key=lambda i: len(prompts[i].token_ids))
    n, budget, limit = len(prompts[longest].token_ids), generation["max_new_tokens"], generation["max_model_len"]
    if n + budget <= limit:
        return
    fix = f"raise generation.max_model_len to {n + budget} or more"
    if n < limit:
        fix += f", or lower {setting}.max_new_tokens to {limit - n} or less"
    what = name(longest, n) if name else f"the longest prompt (index {indices[longest]}, {n} tokens)"
    raise AlpacaflowError(
        f"model '{model}': {what} plus max_new_tokens {budget} is {n + budget} tokens, more than max_model_len "
        f"{limit}: {fix}"
    )


def build_requests(prompts: list[FormattedPrompt], indices: list[int], generation: dict[str, Any],
                   temperatures: list[float | None] | None = None) -> list[Request]:  # fmt: skip
    """One request per prompt (`check_lengths` first), seed = base + index, at its own temperature if given."""
    budget, seed = generation["max_new_tokens"], generation["seed"]
    heat = temperatures or [None] * len(prompts)
    return [Request(p.token_ids, budget, seed + index, t) for p, index, t in zip(prompts, indices, heat, strict=True)]


def format_label(settings: dict[str, Any]) -> str:
    """The prompt format as logs name it (a template format with its file)."""
    fmt = settings["prompt_format"]
    return f"{fmt} ({settings['template']})" if fmt == "template" else fmt


def checkpointer(
    store: GenerationStore, keys: JobKeys, pending: list[int]
) -> Callable[[list[tuple[int, Completion]]], None]:
    """The backends' `on_done`: append each finished group to the store (flushed to disk) and say so.

    A completion is keyed at the batch size it was made at (transformers; `store.JobKeys`).
    The count starts at the job's stored outputs (all but `pending`) and grows by each group.
    """
    saved = len(keys.requests) - len(pending)

    def save(done: list[tuple[int, Completion]]) -> None:
        nonlocal saved
        store.add([(keys.at(c.batch_size)[pending[i]], c) for i, c in done])
        saved += len(done)
        print(f"checkpoint: {saved}/{len(keys.requests)} outputs saved in {store.path}", flush=True)

    return save


def generations_table(
    prompts: pd.DataFrame, formatted: list[FormattedPrompt], finished: list[Finished], seconds: list[float]
) -> pd.DataFrame:
    """The per-example table (generations.parquet)."""
    return pd.DataFrame(
        {
            "index": prompts["index"],
            "instruction": prompts["instruction"],
            "prompt": [p.text for p in formatted],
            "prompt_tokens": [len(p.token_ids) for p in formatted],
            "prompt_token_ids": [p.token_ids for p in formatted],
            "output": [f.text for f in finished],
            "output_token_ids": [f.token_ids for f in finished],
            "output_tokens": [f.output_tokens for f in finished],
            "finish_reason": [f.finish_reason for f in finished],
            "stop_rule": [f.stop_rule for f in finished],
            "stop_match": [f.stop_match for f in finished],
            "opens_with_think": [f.opens_with_think for f in finished],
            "reasoning_tokens": [f.reasoning_tokens for f in finished],
            "truncated_in_reasoning": [f.truncated_in_reasoning for f in finished],
            "seconds": seconds,
        }
    )


class Decoding:
    """The model's store and engine: completions from the store, the rest generated (the engine started once)."""

    def __init__(self, settings: dict[str, Any], weights: dict[str, str], revision: str | None, rules: Any,
                 tokenizer: Any, store: GenerationStore) -> None:  # fmt: skip
        self.settings, self.weights, self.revision = settings, weights, revision
        self.rules, self.tokenizer, self.store = rules, tokenizer, store
        self.backend: Any = None
        self.load_s: float | None = None
        self.generated = 0
        self.batch_size: int | None = None  # transformers: the batch size the outputs were made at (last job)
        self.out_of_memory_retries = 0

    def complete(self, requests: list[Request], what: str = "outputs") -> list[Completion]:
        """Each request's completion: stored ones reused, the others generated and stored group by group."""
        keys = JobKeys(self.settings, self.weights, requests)
        found = keys.stored(self.store)
        pending = [i for i in range(len(requests)) if i not in found]
        self.batch_size = keys.resume_size(found)
        if not found and self.backend is not None:  # a later part of the job (MT-Bench's turn 2): the size kept
            self.batch_size = getattr(self.backend, "batch_size", self.batch_size)
        if pending:
            print(f"{len(found)} of {len(requests)} {what} already in {self.store.path}; "
                  f"generating {len(pending)}", flush=True)  # fmt: skip
            if self.backend is None:
                start = time.perf_counter()
                generation = self.settings["generation"]
                self.backend = load_generator(self.settings["path"], self.revision, generation, self.rules,
                                              tokenizer=self.tokenizer)  # fmt: skip
                self.load_s = time.perf_counter() - start
            try:
                self.backend.generate([requests[i] for i in pending], on_done=checkpointer(self.store, keys, pending),
                                      batch_size=self.batch_size)  # fmt: skip
            except Terminated as exc:
                done = len(keys.stored(self.store))
                raise stopped_by_signal(exc, done, len(requests), what, self.store.path) from None
            self.generated += len(pending)
            self.batch_size = getattr(self.backend, "batch_size", None)
            self.out_of_memory_retries += getattr(self.backend, "out_of_memory_retries", 0)  # this call's
        found = keys.stored(self.store)
        return [self.store[found[i]] for i in range(len(requests))]

    def batching(self) -> dict[str, Any]:
        """throughput.json's batch fields (transformers): the size used, the setting, out-of-memory retries."""
        if self.batch_size is None:
            return {}
        return {"batch_size": self.batch_size, "batch_size_setting": self.settings["generation"]["batch_size"],
                "out_of_memory_retries": self.out_of_memory_retries}  # fmt: skip

    def close(self) -> None:
        if self.backend is not None:
            self.backend.close()


def conversations(prompts: pd.DataFrame) -> list[list[dict[str, str]] | None]:
    """Each prompt-set row's conversation (`dialogues`), None for an instruction row."""
    if "messages" not in prompts.columns:
        return [None] * len(prompts)
    return [from_json(m) for m in prompts["messages"]]


def format_rows(tokenizer: Any, prompts: pd.DataFrame, fmt: PromptFormat) -> list[FormattedPrompt]:
    """Each row in the model's prompt format: an instruction, or a conversation rendered whole."""
    return [
        format_conversation(tokenizer, messages, fmt) if messages else format_prompt(tokenizer, text, fmt)
        for text, messages in zip(prompts["instruction"], conversations(prompts), strict=True)
    ]


def row_namer(prompts: pd.DataFrame) -> Namer | None:
    """How the length check names a too-long row of a set with conversations (its row and user turns)."""
    if "messages" not in prompts.columns:
        return None
    indices, turns = prompts["index"].tolist(), prompts["turns"].tolist()

    def name(i: int, n: int) -> str:
        kind = f"a conversation of {turns[i]} user turns" if turns[i] > 1 else "one instruction"
        return f"prompt-set row {indices[i]} ({kind}, {n} tokens)"

    return name


def answer(settings: dict[str, Any], prompts: pd.DataFrame, formatted: list[FormattedPrompt], decoding: Decoding, *,
           temperatures: list[float | None] | None = None, what: str = "outputs", name: Namer | None = None,
           setting: str = "generation") -> pd.DataFrame:  # fmt: skip
    """One answer per formatted prompt (BOS and length checked first, `check_lengths`): the per-example table."""
    print(check_bos(decoding.tokenizer, formatted, format_label(settings)), flush=True)
    indices = prompts["index"].tolist()
    check_lengths(settings["model"], formatted, indices, settings["generation"], name=name, setting=setting)
    requests = build_requests(formatted, indices, settings["generation"], temperatures)
    completions = decoding.complete(requests, what)
    finished = [finish(decoding.tokenizer, c, decoding.rules, settings["reasoning"]) for c in completions]
    print(summary_line(finished, settings["reasoning"]), flush=True)
    return generations_table(prompts, formatted, finished, [c.seconds for c in completions])
