"""Judging with alpaca_eval's annotators: the machinery of the annotate step (and the judge benchmark).

All judging goes through alpaca_eval's `PairwiseAnnotator`: its prompt
templates, its completion parsers (`ranking_parser`, `logprob_parser`), its
randomized output order and its annotation cache. alpacaflow only supplies
the annotator configuration and the decoder, built from the config's
``judge`` section by the judge engine the backend names
(`engines.judge_engine`: `engines.judge_vllm`, `engines.judge_openai`),
with the prompts of `judge_prompts`.

Each pair has its own annotation cache in its folder (``results/{model}/judge_cache/``;
alpaca_eval's default cache is one file inside the package, which parallel
jobs race on: alpaca_eval#305), named by the judge's settings, identity and
prompt template (`judge_settings.cache_file`), so that a changed judge never
reuses another judge's judgments. Every annotation records the judge's
identity (``judge_identity``; for an API judge the model each response
reported, ``preference_reported_model``). Gaps closed around alpaca_eval's annotator:

* the cache is saved after every ``judge.checkpoint_every`` pairs (alpaca_eval's
  chunks) and written atomically, so a killed job keeps all finished chunks;
* unparsed judgments are not cached; they are retried ``judge.parse_retries``
  times (a local greedy judge is resampled at ``judge.retry_temperature``,
  since greedy decoding would repeat itself), then kept as unparsed;
* outputs too long for a local judge's context are cut to fit, counted and
  flagged (``truncated_for_judge``) instead of failing the whole job;
* an exhausted OpenAI quota or another API error stops the job with one line
  (the engine's ``failure``), finished judgments saved;
* `audit_pairs` judges sampled pairs in both orders (alpaca_eval randomizes
  the order once and never measures what it changes).
"""

from __future__ import annotations

import json
import tempfile
from pathlib import Path
from typing import Any

import pandas as pd
import yaml

from .engines import judge_engine
from .errors import AlpacaflowError, Stopped, Terminated, saved_work, stopped_by_signal
from .gpus import claim_gpus
from .io import as_cached, atomic_path, is_blank, jsonable
from .judge_prompts import fit_to_context, judge_bos_line, judge_tokenizer, render
from .judge_settings import check_judge, identity_label, judge_name


def annotator_config(judge: dict[str, Any]) -> tuple[dict[str, Any], str, Any]:
    """(alpaca_eval annotator config, its prompt template text, a decoder) of the judge's engine."""
    return judge_engine(judge).annotator_config(judge)


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


def close_decoder(decoder: Any) -> None:
    """Shut down the engine a judge decoder started (a test double, which starts none, has no ``close``)."""
    close = getattr(decoder, "close", None)
    if close is not None:
        close()


def judge_decoder(judge: dict[str, Any]) -> Any:
    """The judge engine's decoder (its ``fn_completions``; its engine starts on the first call)."""
    return annotator_config(judge)[2]


#: Kept in the cache with each judgment, besides alpaca_eval's defaults: the model an API judge reported.
REPORTED_MODEL = "preference_reported_model"


def make_annotator(
    judge: dict[str, Any], cache_path: Path, workdir: Path, fn_completions: Any = None, randomize: bool = True
) -> tuple[Any, RecordingCompletions]:
    """A `PairwiseAnnotator` with one annotator configured from `judge`, and its recording decoder.

    `fn_completions` replaces the judge's decoder (tests use it for a
    scripted judge, the benchmark to keep one engine across runs); prompts,
    parsing, order randomization and caching stay alpaca_eval's.
    `randomize` False shows the outputs in the order given (the audit).
    """
    import inspect

    from alpaca_eval.annotators.base import BaseAnnotator

    name = judge_name(judge)
    config, template, own = annotator_config(judge)
    decoder = fn_completions or own
    if not randomize:
        config["is_randomize_output_order"] = False
    recorder = RecordingCompletions(decoder)
    folder = workdir / name
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "prompt.txt").write_text(template, encoding="utf-8")
    config = {**config, "prompt_template": f"{name}/prompt.txt"}
    (folder / "configs.yaml").write_text(yaml.safe_dump({name: config}), encoding="utf-8")
    check_cache(cache_path, name)
    cache_path.parent.mkdir(parents=True, exist_ok=True)
    kept = inspect.signature(BaseAnnotator.__init__).parameters["other_output_keys_to_keep"].default
    annotator = atomic_annotator_class()(
        annotators_config=str(folder / "configs.yaml"),
        caching_path=str(cache_path),
        seed=judge["seed"],
        fn_completions=recorder,
        is_store_missing_annotations=False,  # unparsed judgments are retried, not cached
        other_output_keys_to_keep=[*kept, REPORTED_MODEL],
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


def check_judge_ready(judge: dict[str, Any], gpus: int = 0) -> None:
    """Before any input is read: the judge's settings, its engine's own check (an API key), then `gpus` GPUs claimed.

    The GPUs (`gpus.claim_gpus`) are claimed before vLLM sees CUDA.
    """
    check_judge(judge)
    judge_engine(judge).check_ready(judge)
    claim_gpus(gpus)


def _retry_decoding(annotator: Any, judge: dict[str, Any], attempt: int) -> None:
    """Make a local greedy judge sample on retries (greedy would repeat the unparsed answer)."""
    if judge["backend"] != "vllm" or judge["method"] != "ranking":
        return
    single = next(iter(annotator.annotators.values()))
    single.completions_kwargs.update(temperature=judge["retry_temperature"], seed=judge["seed"] + attempt)


def _unparsed(annotated: list[dict[str, Any]]) -> list[str]:
    return [r["instruction"] for r in annotated if is_blank(r.get("preference"))]


def _cached(cache_path: Path) -> list[dict[str, Any]]:
    try:
        records = json.loads(cache_path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return []
    return records if isinstance(records, list) else []


def cached_count(cache_path: Path) -> int:
    return len(_cached(cache_path))


def reported_models(records: list[dict[str, Any]]) -> set[str]:
    """The models an API judge reported for `records` (none for a local judge)."""
    return {r[REPORTED_MODEL] for r in records if isinstance(r, dict) and isinstance(r.get(REPORTED_MODEL), str)}


def reported_model_change(before: set[str], after: set[str], cache_path: Path) -> str | None:
    """One line when judgments made now report a model that the earlier ones in the cache did not."""
    new = after - before
    if not before or not new:
        return None
    return (
        f"judge: the API reported {', '.join(sorted(new))} for judgments made now, but earlier judgments in "
        f"{cache_path} recorded {', '.join(sorted(before))}; the leaderboard's judge_identity and the report show both"
    )


def identity_of(record: dict[str, Any], identity: dict[str, str]) -> str:
    """The judge that made one judgment: the weights' identity, or the model an API judge reported."""
    if "api_model" in identity:
        reported = record.get(REPORTED_MODEL)
        return identity_label(
            {**identity, "api_model": reported if isinstance(reported, str) else identity["api_model"]}
        )
    return identity_label(identity)


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
        raise stopped_by_signal(exc, cached_count(cache_path), len(pairs), "judgments", cache_path) from None
    except Exception as exc:
        failure = judge_engine(judge).failure(exc)
        if failure is None:
            raise
        saved = saved_work(cached_count(cache_path), len(pairs), "judgments", cache_path)
        raise Stopped(f"{failure}; {saved}") from None
    return annotated, retried


def judge_pairs(
    pairs: pd.DataFrame,
    judge: dict[str, Any],
    cache_path: Path,
    decoder: Any = None,
    identity: dict[str, str] | None = None,
) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """Judge `pairs` (cached in `cache_path`): one annotation per pair in pair order, and counts.

    The judge's engine is shut down at the end, unless the caller passes its
    own `decoder` (from `judge_decoder`; the benchmark reuses one across runs).
    `identity` (`judge_settings.judge_identity`) is recorded in every annotation.
    """
    cost = judge_engine(judge).cost_line(pairs, judge)
    if cost:
        print(cost, flush=True)
    tokenizer = judge_tokenizer(judge)
    template = annotator_config(judge)[1]
    if tokenizer is not None and len(pairs):
        first = pairs.iloc[0]
        line = judge_bos_line(judge, tokenizer, render(template, first.instruction, first.output_1, first.output_2))
        print(line, flush=True)
    before = reported_models(_cached(cache_path))
    with tempfile.TemporaryDirectory(prefix="alpacaflow-judge-") as tmp:
        annotator, recorder = make_annotator(judge, cache_path, Path(tmp), fn_completions=decoder)
        judged = fit_to_context(pairs, judge, template, tokenizer)
        try:
            annotated, retried = annotate_with_retries(annotator, judged, judge, cache_path)
        finally:
            if decoder is None:
                recorder.close()
    change = reported_model_change(before, reported_models(annotated), cache_path)
    if change:
        print(change, flush=True)
    records = as_cached(annotated)
    by_instruction = {r["instruction"]: r for r in records}
    ordered = [by_instruction[s] for s in pairs["instruction"]]
    for row, pair, cut in zip(ordered, pairs.itertuples(), judged["truncated_for_judge"], strict=True):
        row["prompt_index"] = int(pair.prompt_index)
        row["dataset"] = pair.dataset
        row["generator_1"], row["generator_2"] = pair.generator_1, pair.generator_2
        # Lengths (and the LC GLM) use the full outputs, also where the judge saw them cut.
        row["output_1"], row["output_2"], row["truncated_for_judge"] = pair.output_1, pair.output_2, bool(cut)
        if identity is not None:
            row["judge_identity"] = identity_of(row, identity)
        if is_blank(row.get("preference")):
            row["preference"] = None
            row["annotator"] = judge_name(judge)  # alpaca_eval leaves it out of unparsed rows
            if row.get("preference_raw_completion") is None:
                row["preference_raw_completion"] = jsonable(recorder.raw_for(pair.instruction))
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


def _preference_back(value: Any) -> float | None:
    """A preference judged with the outputs swapped, in the unswapped encoding (3 - p; a draw, 0, stays 0)."""
    if is_blank(value):
        return None
    return float(value) if float(value) == 0.0 else 3.0 - float(value)


def audit_pairs(
    pairs: pd.DataFrame, judge: dict[str, Any], cache_path: Path, decoder: Any
) -> dict[int, dict[str, float | None]]:
    """Each of `pairs` judged in both orders, as given: prompt index -> the two preferences.

    ``reference_first`` shows the reference as output_1, ``model_first`` the
    model's output first; both are preferences in alpaca_eval's encoding of
    the pair (1 the reference, 2 the model). alpaca_eval's own order
    randomization is off here, so that each order is judged exactly once;
    the two orders are two pairs for its cache (`cache_path`, apart from
    the main judgments, which were made in a random order), so a rerun reuses them.
    """
    if pairs.empty:
        return {}
    tokenizer = judge_tokenizer(judge)
    fitted = fit_to_context(pairs, judge, annotator_config(judge)[1], tokenizer)
    swap = {"output_1": "output_2", "output_2": "output_1", "generator_1": "generator_2", "generator_2": "generator_1"}
    found: dict[str, list[Any]] = {}
    for table in (fitted, fitted.rename(columns=swap)):
        with tempfile.TemporaryDirectory(prefix="alpacaflow-audit-") as tmp:
            annotator, _ = make_annotator(judge, cache_path, Path(tmp), fn_completions=decoder, randomize=False)
            annotated, _ = annotate_with_retries(annotator, table, judge, cache_path)
        for row in as_cached(annotated):  # as the cache gives them back: the same numbers in every run
            found.setdefault(row["instruction"], []).append(row.get("preference"))
    audited = {}
    for pair in pairs.itertuples():
        first, second = found[pair.instruction]
        audited[int(pair.prompt_index)] = {
            "reference_first": None if is_blank(first) else float(first),
            "model_first": _preference_back(second),
        }
    return audited
