"""The local vLLM judge: alpaca_eval's ``vllm_local_completions`` (ranking) and our log-probability decoder (weighted).

* ``ranking``: alpaca_eval's own ``vllm_local_completions`` decodes the
  rendered prompt (greedy, ``max_new_tokens``); as in the course, vLLM
  tokenizes the text with the tokenizer's special tokens. Parsed by
  ``ranking_parser``. `VLLMRankingJudge` calls it and stops the engine it
  keeps in a module global when closed.
* ``weighted``: `VLLMLogprobJudge` reads the judge's log-probabilities of
  ``m`` and ``M`` (exactly those two tokens) at the first output position,
  so a judgment always parses; ``logprob_parser`` turns them into the
  preference ``2 - P(m)/(P(m)+P(M))``.

The engine is configured by `vllm_engine.engine_kwargs`, as generation's.
"""

from __future__ import annotations

import sys
import time
from typing import Any

from ..errors import AlpacaflowError
from ..judge_prompts import judge_prompt_ids_many, judge_tokenizer, ranking_template, weighted_template
from ..model_context import check_downloaded
from .vllm_engine import check_engine_prompt, engine_kwargs, shutdown_llm


class VLLMLogprobJudge:
    """`fn_completions` for the weighted method on a local vLLM judge.

    Returns, per prompt, an OpenAI-shaped completion whose top log-probs
    hold the judge's log-probabilities of ``m`` and ``M`` at the first
    output position, which alpaca_eval's `logprob_parser` turns into a
    preference.
    """

    def __init__(self, judge: dict[str, Any]) -> None:
        self.judge = judge
        self.llm: Any = None
        self.tokenizer: Any = None
        self.choice_ids: dict[str, int] = {}

    def _load(self) -> None:
        from vllm import LLM

        self.tokenizer = judge_tokenizer(self.judge)
        for token in ("m", "M"):
            ids = self.tokenizer.encode(token, add_special_tokens=False)
            if len(ids) != 1:
                raise AlpacaflowError(f"judge tokenizer splits {token!r} into {len(ids)} tokens; weighted needs one")
            self.choice_ids[token] = ids[0]
        self.llm = LLM(model=self.judge["model"], tokenizer=self.judge["model"], **vllm_engine_kwargs(self.judge))

    def close(self) -> None:
        """Stop the judge's engine."""
        if self.llm is not None:
            shutdown_llm(self.llm)
            self.llm = None

    def engine(self) -> Any:
        """The judge's `vllm.LLM` (started on first use), which Arena-Hard games share (`chat`)."""
        if self.llm is None:
            self._load()
        return self.llm

    def __call__(self, prompts: list[str], **_: Any) -> dict[str, list[Any]]:
        from vllm import SamplingParams
        from vllm.inputs import TokensPrompt

        if self.llm is None:
            self._load()
        params = SamplingParams(
            temperature=0.0,
            max_tokens=1,
            logprobs=len(self.choice_ids),
            logprob_token_ids=list(self.choice_ids.values()),
        )
        ids = judge_prompt_ids_many(self.judge, self.tokenizer, prompts)
        start = time.perf_counter()
        outputs = self.llm.generate([TokensPrompt(prompt_token_ids=i) for i in ids], params, use_tqdm=True)
        per_example = (time.perf_counter() - start) / max(len(prompts), 1)
        for out, sent in zip(outputs, ids, strict=True):
            check_engine_prompt(out.prompt_token_ids, sent)
        completions = [self._as_openai(out.outputs[0]) for out in outputs]
        return {
            "completions": [c["text"] for c in completions],
            "completions_all": completions,
            "price_per_example": [0.0] * len(prompts),
            "time_per_example": [per_example] * len(prompts),
        }

    def _as_openai(self, output: Any) -> dict[str, Any]:
        first = output.logprobs[0]
        top = [{"token": tok, "logprob": float(first[i].logprob)} for tok, i in self.choice_ids.items() if i in first]
        text = self.tokenizer.decode(output.token_ids)
        return {"text": text, "logprobs": {"content": [{"token": text, "top_logprobs": top}]}}


def vllm_engine_kwargs(judge: dict[str, Any]) -> dict[str, Any]:
    """`vllm.LLM` arguments for the judge (engine seed 0; the annotator's seed orders the outputs)."""
    return engine_kwargs(
        dtype=judge["dtype"],
        device=judge["device"],
        max_model_len=judge["max_model_len"],
        gpu_memory_utilization=judge["gpu_memory_utilization"],
        enforce_eager=judge["enforce_eager"],
        seed=0,
        revision=judge.get("revision"),
        tensor_parallel_size=judge["tensor_parallel_size"],
        max_num_seqs=judge["batch_size"],
        quantization=judge.get("quantization"),
    )


class VLLMRankingJudge:
    """`fn_completions` for the ranking method: alpaca_eval's ``vllm_local_completions``, closed by `close`."""

    def __call__(self, prompts: list[str], **kwargs: Any) -> dict[str, Any]:
        from alpaca_eval.decoders.vllm_local import vllm_local_completions

        return vllm_local_completions(prompts=prompts, **kwargs)

    def __init__(self, judge: dict[str, Any]) -> None:
        self.judge = judge

    def engine(self) -> Any:
        """alpaca_eval's module engine (``vllm_local.llm``), started as ``vllm_local_completions`` starts it."""
        from alpaca_eval.decoders import vllm_local
        from vllm import LLM

        model = self.judge["model"]
        if vllm_local.llm is None or vllm_local.llmModelName != model:
            engine = vllm_engine_kwargs(self.judge)
            vllm_local.llm = LLM(model=model, tokenizer=model, **engine)
            vllm_local.llmModelName = model
        return vllm_local.llm

    def close(self) -> None:
        """Stop the engine alpaca_eval keeps in its module (``vllm_local.llm``), if it started one."""
        vllm_local = sys.modules.get("alpaca_eval.decoders.vllm_local")
        if vllm_local is not None and vllm_local.llm is not None:
            shutdown_llm(vllm_local.llm)
            vllm_local.llm = None
            vllm_local.llmModelName = None


def annotator_config(judge: dict[str, Any]) -> tuple[dict[str, Any], str, Any]:
    """(alpaca_eval annotator config, its prompt template text, the decoder) of a vLLM judge.

    A hub judge's max_model_len is checked against its positions first (a local judge's was checked when the
    workflow loaded).
    """
    check_downloaded("the judge", judge["model"], judge.get("revision"), judge["max_model_len"],
                     "judge.max_model_len (or the benchmark's judge section)")  # fmt: skip
    if judge["method"] == "weighted":
        config = {
            "fn_completion_parser": "logprob_parser",
            "completion_parser_kwargs": {
                "numerator_token": "m",
                "denominator_tokens": ["m", "M"],
                "is_binarize": False,
            },
            "completion_key": "completions_all",
            "batch_size": 1,
        }
        return config, weighted_template(), VLLMLogprobJudge(judge)
    engine = vllm_engine_kwargs(judge)
    batch_size = engine.pop("max_num_seqs")
    config = {
        "completions_kwargs": {
            "model_name": judge["model"],
            "model_kwargs": engine,
            "max_new_tokens": judge["max_new_tokens"],
            "temperature": 0.0,
            "top_p": 1.0,
            "batch_size": batch_size,
        },
        "fn_completion_parser": "ranking_parser",
    }
    return config, ranking_template(), VLLMRankingJudge(judge)


def check_ready(judge: dict[str, Any]) -> None:
    """Nothing to check before the inputs are read (a missing folder is a config error)."""


def cost_line(pairs: Any, judge: dict[str, Any]) -> str | None:
    """A local judge costs GPU time, not money: no line."""
    return None


def failure(exc: Exception) -> str | None:
    """No error of a local judge is an expected stop (the annotate step reports it as a judge failure)."""
    return None


def chat(decoder: Any, judge: dict[str, Any], conversations: list[list[dict[str, str]]], *, max_tokens: int,
         temperature: float) -> list[tuple[str, str | None]]:  # fmt: skip
    """Free-text answers of the judge (Arena-Hard games) on the decoder's engine: (text, None) per conversation.

    Each conversation is rendered with the judge tokenizer's chat template
    (with the pinned date, `formatting.PromptFormat`) and tokenized once, as
    generation's prompts are; greedy at temperature 0.
    """
    from vllm import SamplingParams
    from vllm.inputs import TokensPrompt

    from ..formatting import PromptFormat, tokenize_once

    tokenizer = judge_tokenizer(judge)
    variables = PromptFormat("chat").template_variables()
    ids = [tokenize_once(tokenizer, tokenizer.apply_chat_template(c, tokenize=False, add_generation_prompt=True,
                                                                  **variables))[0] for c in conversations]  # fmt: skip
    params = SamplingParams(temperature=temperature, top_p=1.0, max_tokens=max_tokens, seed=judge["seed"])
    outputs = decoder.engine().generate([TokensPrompt(prompt_token_ids=i) for i in ids], params, use_tqdm=True)
    return [(out.outputs[0].text, None) for out in outputs]


def chat_cost_line(conversations: list[list[dict[str, str]]], judge: dict[str, Any], max_tokens: int) -> str | None:
    """A local judge costs GPU time, not money: no line."""
    return None
