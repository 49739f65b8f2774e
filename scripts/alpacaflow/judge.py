"""The annotate step: judge each model output against the reference with alpaca_eval's annotators.

All judging goes through alpaca_eval's `PairwiseAnnotator`: its prompt
templates, its completion parsers (`ranking_parser`, `logprob_parser`), its
randomized output order and its annotation cache. alpacaflow only supplies
the annotator configuration, built from ``config.yaml``:

* ``vllm`` + ``ranking`` (default): the CS336 ``alpaca_eval_vllm_llama3_3_70b_fn``
  setup. The ranking prompt shipped for ``alpaca_eval_vllm_llama3_70b_fn``,
  rendered as the course config has it: Llama-3 header tokens written out
  around the system and user turns, no chat-template preamble, ending in the
  assistant header and one newline. alpaca_eval's own
  ``vllm_local_completions`` decodes it (greedy, ``max_new_tokens``), so, as in
  the course, vLLM tokenizes the text with the tokenizer's special tokens.
* ``vllm`` + ``weighted``: the ``weighted_alpaca_eval_gpt4_turbo`` method
  (classification prompt, one output token, preference ``2 - P(m)/(P(m)+P(M))``)
  with log-probabilities of ``m`` and ``M`` read from vLLM for exactly those
  two tokens, so a judgment always parses.
* ``openai``: the official AlpacaEval 2.0 judge ``weighted_alpaca_eval_gpt4_turbo``
  through alpaca_eval's ``openai_completions``; the key comes from
  ``OPENAI_API_KEY`` only.

Each job has its own annotation cache under ``results/{model}/judge_cache/``
(alpaca_eval's default cache is one file inside the package, which parallel
jobs race on: alpaca_eval#305). Gaps closed around alpaca_eval's annotator:

* the cache is saved after every ``judge.checkpoint_every`` pairs (alpaca_eval's
  chunks) and written atomically, so a killed job keeps all finished chunks;
* unparsed judgments are not cached; they are retried ``judge.parse_retries``
  times (a local greedy judge is resampled at ``judge.retry_temperature``,
  since greedy decoding would repeat itself), then kept as unparsed;
* outputs too long for a local judge's context are cut to fit, counted and
  flagged (``truncated_for_judge``) instead of failing the whole job;
* an exhausted OpenAI quota or another API error stops the job with one line,
  finished judgments saved.
"""

from __future__ import annotations

import functools
import json
import logging
import math
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import pandas as pd
import yaml

from .backends import check_engine_prompt, cpu_engine_kwargs, shutdown_llm
from .errors import AlpacaflowError, Stopped, Terminated, saved_work, stopped_by_signal
from .formatting import leading_bos
from .io import atomic_path, is_blank, outputs_by_instruction, read_records, write_json
from .judge_settings import WEIGHTED_SOURCE, check_judge, judge_name
from .prompts import load_prompt_table
from .secrets import redact

RANKING_SOURCE = "alpaca_eval_vllm_llama3_70b_fn"
#: Tokens kept free in the judge's context (tokenization at the joins can differ by a few).
CONTEXT_MARGIN = 16

#: USD per 1M tokens (input, output) for the cost estimate of the OpenAI judge.
OPENAI_PRICES = {"gpt-4-1106-preview": (10.0, 30.0), "gpt-4-turbo": (10.0, 30.0), "gpt-4o": (2.5, 10.0)}


# --------------------------------------------------------------------------- prompts


def alpaca_eval_template(config_name: str) -> str:
    """The prompt template text that alpaca_eval ships for one of its annotator configs."""
    from alpaca_eval import constants

    config_dir = Path(constants.EVALUATORS_CONFIG_DIR)
    config = yaml.safe_load((config_dir / config_name / "configs.yaml").read_text())
    return (config_dir / config[config_name]["prompt_template"]).read_text(encoding="utf-8")


def llama3_header_prompt(chatml_template: str, assistant_suffix: str) -> str:
    """Render a ChatML template with the Llama-3 header tokens written out (no chat-template preamble)."""
    from alpaca_eval.utils import prompt_to_chatml

    turns = "".join(
        f"<|start_header_id|>{m['role']}<|end_header_id|>\n\n{m['content']}<|eot_id|>"
        for m in prompt_to_chatml(chatml_template)
    )
    return f"<|begin_of_text|>{turns}<|start_header_id|>assistant<|end_header_id|>{assistant_suffix}"


def ranking_template() -> str:
    """The course's ranking prompt: assistant header followed by a single newline, as in the course file."""
    return llama3_header_prompt(alpaca_eval_template(RANKING_SOURCE), "\n")


def weighted_template() -> str:
    """weighted_alpaca_eval_gpt4_turbo's classification prompt for a Llama-3 judge.

    The assistant header ends in the standard blank line, so that the one
    token read is the answer itself.
    """
    return llama3_header_prompt(alpaca_eval_template(WEIGHTED_SOURCE), "\n\n")


# --------------------------------------------------------------------------- vLLM log-probability judge


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


def judge_prompt_ids(judge: dict[str, Any], tokenizer: Any, text: str) -> list[int]:
    """The token ids a local vLLM judge decodes from for one rendered prompt.

    The weighted judge is given token ids, tokenized here without special
    tokens (its prompt text starts with BOS): one BOS. The ranking judge's
    text goes to vLLM through alpaca_eval's ``vllm_local_completions``, and
    vLLM tokenizes a text prompt with the tokenizer's special tokens, so a
    Llama-3 judge sees BOS twice, as in the course's set-up (kept for
    comparability; `test_realistic` checks both counts against vLLM itself).
    """
    return judge_prompt_ids_many(judge, tokenizer, [text])[0]


def judge_prompt_ids_many(judge: dict[str, Any], tokenizer: Any, texts: list[str]) -> list[list[int]]:
    """`judge_prompt_ids` of many prompts, tokenized as one batch."""
    if not texts:
        return []
    return [list(ids) for ids in tokenizer(list(texts), add_special_tokens=judge["method"] == "ranking")["input_ids"]]


def judge_bos_line(judge: dict[str, Any], tokenizer: Any, text: str) -> str:
    """One line on how the judge's prompt starts; stops a weighted judge whose prompt has BOS twice."""
    ids = judge_prompt_ids(judge, tokenizer, text)
    n = leading_bos(ids, tokenizer.bos_token_id)
    if judge["method"] == "weighted" and n > 1:
        raise AlpacaflowError(f"the weighted judge's prompt starts with {n} BOS tokens ({ids[:6]}...); expected one")
    why = " (the ranking prompt's own and vLLM's, as in the course's judge set-up)" if n == 2 else ""
    return f"judge prompt token ids start {ids[:8]}: {n} BOS{why}"


def vllm_engine_kwargs(judge: dict[str, Any]) -> dict[str, Any]:
    """`vllm.LLM` arguments for the judge."""
    dtype = judge["dtype"]
    if dtype == "auto":
        dtype = "bfloat16" if judge["device"] == "cuda" else "float32"
    kwargs = {
        "dtype": dtype,
        "tensor_parallel_size": judge["tensor_parallel_size"] if judge["device"] == "cuda" else 1,
        "max_model_len": judge["max_model_len"],
        "gpu_memory_utilization": judge["gpu_memory_utilization"],
        "enforce_eager": judge["enforce_eager"],
        "max_num_seqs": judge["batch_size"],
        "seed": 0,
    }
    if judge.get("quantization"):
        kwargs["quantization"] = judge["quantization"]
    if judge.get("revision"):
        kwargs["revision"] = kwargs["tokenizer_revision"] = judge["revision"]
    kwargs.update(cpu_engine_kwargs(judge["device"]))
    return kwargs


# --------------------------------------------------------------------------- annotator


def annotator_config(judge: dict[str, Any]) -> tuple[dict[str, Any], str, dict[str, Any]]:
    """(alpaca_eval annotator config, its prompt template text, extra SingleAnnotator kwargs)."""
    if judge["backend"] == "openai":
        from alpaca_eval import constants

        source = yaml.safe_load((Path(constants.EVALUATORS_CONFIG_DIR) / WEIGHTED_SOURCE / "configs.yaml").read_text())
        config = dict(source[WEIGHTED_SOURCE])
        kwargs = dict(
            config["completions_kwargs"],
            model_name=judge["openai_model"],
            client_kwargs={"max_retries": judge["api_max_retries"]},
        )
        if judge.get("base_url"):
            kwargs["openai_api_base"] = judge["base_url"]
        config["completions_kwargs"] = kwargs
        return config, alpaca_eval_template(WEIGHTED_SOURCE), {}
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
        return config, weighted_template(), {"fn_completions": VLLMLogprobJudge(judge)}
    engine = vllm_engine_kwargs(judge)
    batch_size = engine.pop("max_num_seqs")
    config = {
        "fn_completions": "vllm_local_completions",
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
    return config, ranking_template(), {}


def check_cache(cache_path: Path, name: str) -> None:
    """A cache must be readable and hold only this judge's annotations."""
    if not cache_path.exists():
        return
    try:
        records = json.loads(cache_path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise AlpacaflowError(f"{cache_path}: corrupt annotation cache ({exc}); delete it to re-judge") from exc
    if not isinstance(records, list):
        raise AlpacaflowError(f"{cache_path}: annotation cache is not a JSON list; delete it to re-judge")
    others = sorted({str(r.get("annotator")) for r in records if isinstance(r, dict)} - {name})
    if others:
        raise AlpacaflowError(
            f"{cache_path}: annotation cache holds judgments by {', '.join(others)}, not by {name}; "
            "delete it or point judge.name at the right judge"
        )


class RecordingCompletions:
    """Wraps the judge's decoder and keeps every prompt's raw completion.

    alpaca_eval drops the raw completion of a judgment it cannot parse; this
    keeps it, so that unparsed judgments can be inspected.
    """

    def __init__(self, decoder: Any) -> None:
        self.decoder = decoder
        self.raw: dict[str, Any] = {}

    def __call__(self, prompts: list[str], **kwargs: Any) -> dict[str, Any]:
        out = self.decoder(prompts=prompts, **kwargs)
        raw = out.get("completions_all") or out["completions"]
        self.raw.update(zip(prompts, raw, strict=False))
        return out

    def raw_for(self, instruction: str) -> Any:
        """The raw completion of the prompt that shows `instruction` (instructions are unique)."""
        needle = f'"""{instruction}"""'
        return next((c for p, c in self.raw.items() if needle in p), None)

    def close(self) -> None:
        """Shut down every vLLM engine the decoder started."""
        close_decoder(self.decoder)


def judge_decoder(judge: dict[str, Any]) -> Any:
    """The judge's `fn_completions`: ours for the weighted vLLM judge, else alpaca_eval's (engines start lazily)."""
    from alpaca_eval.decoders import get_fn_completions

    config, _, extra = annotator_config(judge)
    return extra.get("fn_completions") or get_fn_completions(config["fn_completions"])


def close_decoder(decoder: Any) -> None:
    """Shut down the vLLM engine a judge decoder started (ours, or alpaca_eval's module-level one)."""
    if isinstance(decoder, VLLMLogprobJudge):
        decoder.close()
    vllm_local = sys.modules.get("alpaca_eval.decoders.vllm_local")
    if vllm_local is not None and vllm_local.llm is not None:
        shutdown_llm(vllm_local.llm)
        vllm_local.llm = None
        vllm_local.llmModelName = None


def make_annotator(
    judge: dict[str, Any], cache_path: Path, workdir: Path, fn_completions: Any = None
) -> tuple[Any, RecordingCompletions]:
    """A `PairwiseAnnotator` with one annotator configured from `judge`, and its recording decoder.

    `fn_completions` replaces the judge's decoder (tests use it for a
    scripted judge, the benchmark to keep one engine across runs); prompts,
    parsing, order randomization and caching stay alpaca_eval's.
    """
    name = judge_name(judge)
    config, template, _ = annotator_config(judge)
    decoder = fn_completions or judge_decoder(judge)
    config.pop("fn_completions", None)
    recorder = RecordingCompletions(decoder)
    folder = workdir / name
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "prompt.txt").write_text(template, encoding="utf-8")
    config = {**config, "prompt_template": f"{name}/prompt.txt"}
    (folder / "configs.yaml").write_text(yaml.safe_dump({name: config}), encoding="utf-8")
    check_cache(cache_path, name)
    cache_path.parent.mkdir(parents=True, exist_ok=True)
    annotator = atomic_annotator_class()(
        annotators_config=str(folder / "configs.yaml"),
        caching_path=str(cache_path),
        seed=judge["seed"],
        fn_completions=recorder,
        is_store_missing_annotations=False,  # unparsed judgments are retried, not cached
    )
    return annotator, recorder


def atomic_annotator_class() -> type:
    """alpaca_eval's `PairwiseAnnotator`, saving its cache to a temporary file renamed into place.

    alpaca_eval writes the cache with `DataFrame.to_json(path)` after every
    chunk; a job killed during that write would leave a truncated cache.
    Also lets it start without a cache when unparsed judgments are not stored.
    """
    from alpaca_eval.annotators import PairwiseAnnotator

    class AtomicPairwiseAnnotator(PairwiseAnnotator):
        def _apply_cached_annotations(self, df_to_annotate: pd.DataFrame) -> pd.DataFrame:
            # alpaca_eval queries a cache that does not exist yet when missing annotations are not stored.
            if self.df_annotations is None:
                return df_to_annotate
            return super()._apply_cached_annotations(df_to_annotate)

        def save(self, path: Any = None) -> None:
            dest = path or self.caching_path
            if dest is None:
                return
            with atomic_path(dest) as tmp:
                super().save(tmp)

    return AtomicPairwiseAnnotator


# --------------------------------------------------------------------------- the step


def pair_table(prompts: pd.DataFrame, records: list[Any], source: str, model: str) -> pd.DataFrame:
    """Reference vs model output per prompt, in prompt order; outputs must cover the prompt set exactly."""
    by_instruction = outputs_by_instruction(records, source)
    wanted = prompts["instruction"].tolist()
    missing = [s for s in wanted if s not in by_instruction]
    extra = set(by_instruction) - set(wanted)
    if missing or extra:
        raise AlpacaflowError(
            f"{source}: instructions do not match the prompt set ({len(missing)} missing, {len(extra)} extra); "
            "regenerate the outputs"
        )
    return pd.DataFrame(
        {
            "prompt_index": prompts["index"].astype(int),
            "instruction": prompts["instruction"],
            "dataset": prompts["dataset"],
            "output_1": prompts["reference_output"],
            "generator_1": prompts["reference_generator"],
            "output_2": [by_instruction[s] for s in wanted],
            "generator_2": model,
        }
    )


def _jsonable(value: Any) -> Any:
    if isinstance(value, float) and math.isnan(value):
        return None
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_jsonable(v) for v in value]
    if hasattr(value, "item"):  # numpy scalars
        return _jsonable(value.item())
    return value


def render(template: str, instruction: str, output_1: str, output_2: str) -> str:
    """A judge prompt as alpaca_eval fills its template (the order of the outputs aside)."""
    filled = template.replace("{instruction}", instruction)
    return filled.replace("{output_1}", output_1).replace("{output_2}", output_2)


def estimate_openai_cost(pairs: pd.DataFrame, judge: dict[str, Any]) -> str:
    """One line: the estimated cost of judging `pairs` with the OpenAI judge.

    Tokens are counted with tiktoken when its encoding is available, else
    estimated as characters / 4 (tiktoken downloads its encodings on first use).
    """
    template = alpaca_eval_template(WEIGHTED_SOURCE)
    texts = [render(template, r.instruction, r.output_1, r.output_2) for r in pairs.itertuples()]
    method = "tiktoken"
    try:
        import tiktoken

        encoding = tiktoken.encoding_for_model(judge["openai_model"])
        n_in = sum(len(encoding.encode(t)) for t in texts)
    except Exception:  # no encoding offline, unknown model, or no tiktoken
        method = "characters/4 estimate (tiktoken encoding unavailable)"
        n_in = sum(len(t) for t in texts) // 4
    n_out = len(texts)
    price_in, price_out = OPENAI_PRICES.get(judge["openai_model"], (10.0, 30.0))
    cost = n_in / 1e6 * price_in + n_out / 1e6 * price_out
    return (
        f"cost estimate for {len(texts)} judgments with {judge['openai_model']}: ~{n_in} input + {n_out} output "
        f"tokens = ~${cost:.2f} (token count: {method}; prices ${price_in}/${price_out} per 1M)"
    )


def require_openai_key() -> None:
    """Fail before any work when the OpenAI judge has no key (the key itself is never printed)."""
    if not os.environ.get("OPENAI_API_KEY", "").strip():
        raise AlpacaflowError("judge.backend is openai but OPENAI_API_KEY is not set in the environment")


def check_judge_ready(judge: dict[str, Any]) -> None:
    """Before any input is read: the judge's settings and, for the OpenAI judge, the key in the environment."""
    check_judge(judge)
    if judge["backend"] == "openai":
        require_openai_key()


def fit_to_context(pairs: pd.DataFrame, judge: dict[str, Any], template: str, tokenizer: Any) -> pd.DataFrame:
    """Cut outputs that would not fit a local judge's context; flag them in `truncated_for_judge`.

    The prompt's fixed part and the instruction are counted with the judge's
    tokenizer; what is left of ``max_model_len`` (less the tokens the judge
    writes and a small margin) is shared by the two outputs, the longer one
    cut first. API judges (no `tokenizer`) are not cut (their context is far larger).
    """
    pairs = pairs.assign(truncated_for_judge=False)
    if tokenizer is None:
        return pairs

    def encode(column: str) -> list[list[int]]:  # one batch per column
        texts = pairs[column].tolist()
        return tokenizer(texts, add_special_tokens=False)["input_ids"] if texts else []

    writes = judge["max_new_tokens"] if judge["method"] == "ranking" else 1
    fixed = len(judge_prompt_ids(judge, tokenizer, render(template, "", "", "")))
    limit = judge["max_model_len"] - writes - fixed - CONTEXT_MARGIN
    encoded = zip(encode("instruction"), encode("output_1"), encode("output_2"), strict=True)
    for row, (ids_0, ids_1, ids_2) in zip(pairs.itertuples(), encoded, strict=True):
        budget = limit - len(ids_0)
        if len(ids_1) + len(ids_2) <= budget:
            continue
        if budget < 2:
            raise AlpacaflowError(
                f"prompt {row.prompt_index}: the instruction alone fills the judge's context "
                f"(judge.max_model_len={judge['max_model_len']})"
            )
        keep_1, keep_2 = _share(len(ids_1), len(ids_2), budget)
        pairs.loc[row.Index, ["output_1", "output_2", "truncated_for_judge"]] = [
            tokenizer.decode(ids_1[:keep_1]),
            tokenizer.decode(ids_2[:keep_2]),
            True,
        ]
    cut = int(pairs["truncated_for_judge"].sum())
    if cut:
        logging.warning(
            "%d pair(s) too long for the judge's context (max_model_len=%d) were cut to fit",
            cut,
            judge["max_model_len"],
        )
    return pairs


def _share(n_1: int, n_2: int, budget: int) -> tuple[int, int]:
    """Token counts to keep of two outputs so that they fit `budget`, cutting the longer first."""
    half = budget // 2
    if n_1 <= half:
        return n_1, budget - n_1
    if n_2 <= half:
        return budget - n_2, n_2
    return half, budget - half


def _retry_decoding(annotator: Any, judge: dict[str, Any], attempt: int) -> None:
    """Make a local greedy judge sample on retries (greedy would repeat the unparsed answer)."""
    if judge["backend"] != "vllm" or judge["method"] != "ranking":
        return
    single = next(iter(annotator.annotators.values()))
    single.completions_kwargs.update(temperature=judge["retry_temperature"], seed=judge["seed"] + attempt)


def _unparsed(annotated: list[dict[str, Any]]) -> list[str]:
    return [r["instruction"] for r in annotated if is_blank(r.get("preference"))]


def _cached_count(cache_path: Path) -> int:
    try:
        return len(json.loads(cache_path.read_text(encoding="utf-8")))
    except (OSError, ValueError):
        return 0


def annotate_with_retries(
    annotator: Any, pairs: pd.DataFrame, judge: dict[str, Any], cache_path: Path
) -> tuple[list[dict[str, Any]], int]:
    """All pairs judged (cache saved every `checkpoint_every`), unparsed ones retried; (records, retried).

    SIGTERM and API failures stop the job with one line saying how many
    judgments are saved.
    """
    columns = ["instruction", "output_1", "generator_1", "output_2", "generator_2"]
    chunk = judge["checkpoint_every"]
    retried = 0
    try:
        annotated = annotator.annotate_pairs(pairs[columns], chunksize=chunk)
        for attempt in range(1, judge["parse_retries"] + 1):
            todo = set(_unparsed(annotated))
            if not todo:
                break
            retried += len(todo)
            print(f"retry {attempt}/{judge['parse_retries']}: {len(todo)} unparsed judgment(s)", flush=True)
            _retry_decoding(annotator, judge, attempt)
            again = annotator.annotate_pairs(pairs.loc[pairs["instruction"].isin(todo), columns], chunksize=chunk)
            redone = {r["instruction"]: r for r in again}
            annotated = [redone.get(r["instruction"], r) for r in annotated]
    except Terminated as exc:
        raise stopped_by_signal(exc, _cached_count(cache_path), len(pairs), "judgments", cache_path) from None
    except Exception as exc:
        if type(exc).__module__.split(".")[0] != "openai":
            raise
        saved = saved_work(_cached_count(cache_path), len(pairs), "judgments", cache_path)
        raise Stopped(f"{_api_error(exc)}; {saved}") from None
    return annotated, retried


def _api_error(exc: Exception) -> str:
    """One line for an OpenAI API error (the key is never in it: see `secrets`)."""
    status = getattr(exc, "status_code", None)
    body = getattr(exc, "body", None)
    code = body.get("code") if isinstance(body, dict) else None
    if code == "insufficient_quota":
        return "OpenAI API quota exhausted (insufficient_quota): add credit or use another key"
    message = (body.get("message") if isinstance(body, dict) else None) or str(exc)
    first = redact(str(message).strip().splitlines()[0] if str(message).strip() else type(exc).__name__)
    return f"OpenAI API error{f' {status}' if status else ''} ({type(exc).__name__}): {first[:200]}"


def judge_tokenizer(judge: dict[str, Any]) -> Any:
    """A local judge's tokenizer (None for an API judge), loaded once per process.

    The annotate step needs it twice (context fitting, and the weighted
    judge's token ids); a real 128k-token tokenizer takes about 2 s to load on
    CPU (bench/NOTES.md). It is only read from, never changed.
    """
    if judge["backend"] != "vllm":
        return None
    return _load_tokenizer(judge["model"], judge.get("revision"))


@functools.lru_cache(maxsize=4)
def _load_tokenizer(model: str, revision: str | None) -> Any:
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(model, revision=revision)


def judge_pairs(
    pairs: pd.DataFrame, judge: dict[str, Any], cache_path: Path, decoder: Any = None
) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """Judge `pairs` (cached in `cache_path`): one annotation per pair in pair order, and counts.

    The judge's engine is shut down at the end, unless the caller passes its
    own `decoder` (from `judge_decoder`; the benchmark reuses one across runs).
    """
    if judge["backend"] == "openai":
        print(estimate_openai_cost(pairs, judge), flush=True)
    tokenizer = judge_tokenizer(judge)
    template = annotator_config(judge)[1]
    if tokenizer is not None and len(pairs):
        first = pairs.iloc[0]
        line = judge_bos_line(judge, tokenizer, render(template, first.instruction, first.output_1, first.output_2))
        print(line, flush=True)
    with tempfile.TemporaryDirectory(prefix="alpacaflow-judge-") as tmp:
        annotator, recorder = make_annotator(judge, cache_path, Path(tmp), fn_completions=decoder)
        judged = fit_to_context(pairs, judge, template, tokenizer)
        try:
            annotated, retried = annotate_with_retries(annotator, judged, judge, cache_path)
        finally:
            if decoder is None:
                recorder.close()
    records = [_jsonable(r) for r in annotated]
    by_instruction = {r["instruction"]: r for r in records}
    ordered = [by_instruction[s] for s in pairs["instruction"]]
    for row, pair, cut in zip(ordered, pairs.itertuples(), judged["truncated_for_judge"], strict=True):
        row["prompt_index"] = int(pair.prompt_index)
        row["dataset"] = pair.dataset
        row["generator_1"], row["generator_2"] = pair.generator_1, pair.generator_2
        # Lengths (and the LC GLM) use the full outputs, also where the judge saw them cut.
        row["output_1"], row["output_2"], row["truncated_for_judge"] = pair.output_1, pair.output_2, bool(cut)
        if is_blank(row.get("preference")):
            row["preference"] = None
            row["annotator"] = judge_name(judge)  # alpaca_eval leaves it out of unparsed rows
            if row.get("preference_raw_completion") is None:
                row["preference_raw_completion"] = _jsonable(recorder.raw_for(pair.instruction))
    counts = {
        "n": len(ordered),
        "judged_this_run": len(recorder.raw),
        "reused_from_cache": len(ordered) - len(recorder.raw),
        "retried_unparsed": retried,
        "unparsed": sum(1 for r in ordered if r.get("preference") is None),
        "truncated_for_judge": int(judged["truncated_for_judge"].sum()),
        "empty_outputs": int(pairs["output_2"].map(is_blank).sum()),
    }
    return ordered, counts


def run_annotation(
    judge: dict[str, Any], model: str, prompts_path: Path, outputs_path: Path, cache_path: Path, out_path: Path
) -> dict[str, Any]:
    """Judge one model's outputs against the references and write annotations.json."""
    check_judge_ready(judge)
    prompts = load_prompt_table(prompts_path)
    pairs = pair_table(prompts, read_records(outputs_path), str(outputs_path), model)
    ordered, counts = judge_pairs(pairs, judge, cache_path)
    write_json(out_path, ordered)
    summary = {"model": model, "judge": judge_name(judge), **counts}
    print(json.dumps(summary), flush=True)
    return summary
