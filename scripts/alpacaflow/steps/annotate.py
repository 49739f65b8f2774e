"""The annotate step: the judge compares each model's outputs with each reference, with one judge load.

`pair_table` pairs a model's outputs with the prompt set's references, or
head to head with another model's outputs (both must cover the prompt set
exactly); `judge.judge_pairs` judges them with the configured judge, cached
per pair under ``results/{model}/judge_cache/`` (``results/{model}/vs_{reference}/``
head to head: alpaca_eval's cache is keyed by both outputs, so a regenerated
reference re-judges exactly the pairs whose reference text changed); each
pair's ``annotations.json`` gets one annotation per prompt, in prompt order.
The cache file is named by the judge's settings, identity (its weights'
fingerprint or hub commit, or the API model and URL) and prompt template
(`judge_settings.cache_file`): a judge rewritten in place judges everything again.

One job judges every model with one decoder, so the judge's engine starts
at most once per run, and only when some pair is not in the caches. The
same job judges the published pairs of judge validation (the pair whose
reference is ``official``: its outputs file holds the official annotations;
validate_judge then compares the two judges without a judge of its own) and,
with ``judge.audit.swap`` N, N sampled pairs of each model in both orders
(`judge.audit_pairs`; recorded as ``position_audit`` in the annotations of
those prompts). The alternative, a vLLM server as a Snakemake service job
with one client job per model, puts server and clients in one group, which
Snakemake starts only when every client's input exists and kills whole when
one client fails; it would also need a network listener, a port and an API
key. One in-process job has the same failure semantics without any of that,
and judges with the same code as one model's job does (the judgments are the same).
"""

from __future__ import annotations

import json
import traceback
from pathlib import Path
from typing import Annotated, Any

import numpy as np
import pandas as pd

from ..benchmarks import judge_decoding, split_reference
from ..benchmarks.arena_hard.data import load_protocol
from ..benchmarks.arena_hard.judge import arena_judge_name, judge_arena
from ..benchmarks.mt_bench.data import answer_table
from ..benchmarks.mt_bench.judge import judge_mt_bench
from ..config import BENCHMARK_PREFIX, MT_BENCH, OFFICIAL_REFERENCE, PROMPT_REFERENCE, is_benchmark
from ..errors import AlpacaflowError, Stopped, Terminated, saved_work
from ..io import JSON, covering_outputs, is_blank, load_prompt_table, read_records, write_json
from ..judge import audit_pairs, cached_count, check_judge_ready, close_decoder, judge_decoder, judge_pairs
from ..judge_settings import cache_file, cache_key, identity_label, judge_identity, judge_name
from ..official import official_pairs, validation_pairs


def pair_table(
    prompts: pd.DataFrame,
    records: list[Any],
    source: str,
    model: str,
    reference: tuple[str, list[Any], str] | None = None,
) -> pd.DataFrame:
    """Reference vs model output per prompt, in prompt order; outputs must cover the prompt set exactly.

    The reference is the prompt set's own (default; rows without one, which
    conversation rows may be, are left out) or `reference`: (its name, its
    output records, their file), a model's outputs judged head to head.
    """
    by_instruction = covering_outputs(records, source, prompts)
    if reference is None:  # a conversation row without a reference output is judged head to head only
        prompts = prompts[prompts["reference_output"].notna()].reset_index(drop=True)
    wanted = prompts["instruction"].tolist()
    if reference is None:
        output_1, generator_1 = prompts["reference_output"], prompts["reference_generator"]
    else:
        name, ref_records, ref_source = reference
        ref_outputs = covering_outputs(ref_records, ref_source, prompts)
        output_1, generator_1 = [ref_outputs[s] for s in wanted], name
    return pd.DataFrame(
        {
            "prompt_index": prompts["index"].astype(int),
            "instruction": prompts["instruction"],
            "dataset": prompts["dataset"],
            "output_1": output_1,
            "generator_1": generator_1,
            "output_2": [by_instruction[s] for s in wanted],
            "generator_2": model,
        }
    )


def judge_failed(exc: Exception, model: str, cache_path: Path, total: int) -> Stopped:
    """One line for a judge that could not start or died while judging `model` (the traceback is in the log)."""
    lines = str(exc).strip().splitlines() or [""]
    cause = f"{type(exc).__name__}: {lines[-1]}".rstrip(": ")
    saved = saved_work(cached_count(cache_path), total, f"judgments of {model}", cache_path)
    return Stopped(f"the judge failed ({cause}); earlier models' annotations are written, {saved}")


class Judge:
    """One judge of the job: its settings, identity, the settings it is loaded with, and its decoder (lazily)."""

    def __init__(self, judge: dict[str, Any], manifest: Path | None) -> None:
        self.settings = judge
        self.identity = judge_identity(judge, manifest)
        self.loaded = {**judge, "revision": self.identity["commit"]} if "commit" in self.identity else judge
        self._decoder: Any = None
        print(
            f"judge: {judge_name(judge)}, {identity_label(self.identity)} (cache key {cache_key(judge, self.identity)})"
        )

    @property
    def decoder(self) -> Any:
        if self._decoder is None:
            self._decoder = judge_decoder(self.loaded)
        return self._decoder

    def close(self) -> None:
        """Stop its engine (a later pair starts another)."""
        if self._decoder is not None:
            close_decoder(self._decoder)
            self._decoder = None


def run(
    *,
    judge: Annotated[dict[str, Any], JSON],
    model: list[str],
    prompts: Path | None,
    outputs: list[Path],
    cache: list[Path],
    annotations: list[Path],
    reference: list[str] | None = None,
    reference_models: list[Path] | None = None,
    benchmark_references: list[Path] | None = None,
    benchmarks: list[Path] | None = None,
    arena_hard: Annotated[dict[str, Any] | None, JSON] = None,
    mt_bench: Annotated[dict[str, Any] | None, JSON] = None,
    judge_manifest: Path | None = None,
    gpu: int = 0,
) -> None:
    """The annotate step: judge each (model, reference) pair and write its annotations.json.

    `model`, `outputs`, `cache` (each pair's judge-cache folder),
    `annotations` and, when given, `reference` run in parallel, one entry
    per pair. A reference is ``prompts`` (the prompt set's own references;
    the default), a model's name, whose model_outputs.json is among
    `reference_models` (found by its records' ``generator``),
    ``official``: the pair's outputs file holds published official
    annotations, whose pairs on the prompt set are judged (judge
    validation), or ``arena_hard-<v>``: the model's answers to that
    Arena-Hard version against its baseline, whose questions and protocol are
    in the folder of that name among `benchmarks` (two games per question,
    `benchmarks.arena_hard.judge.judge_arena`; `arena_hard` is the config's section, its
    ``judge`` the judge for them when set), or ``arena_hard-<v>/vs_<model>``:
    head to head against that model's answers to the version, among
    `benchmark_references` (``results/<model>/arena_hard-<v>/model_outputs.json``), or ``mt_bench``: the model's
    two-turn answers to MT-Bench, each turn graded 1-10 (`benchmarks.mt_bench.judge.judge_mt_bench`;
    `mt_bench` is the config's section, its ``judge`` the judge for them when set). Every pair's outputs are checked
    before a judge starts. `judge_manifest` is download_model's record of a
    hub judge: the commit it names is loaded and identifies the judge. `prompts` is AlpacaEval's
    prompt table (None in a run without alpaca_eval: then no pair is the prompt set's).
    """
    reference = reference or [PROMPT_REFERENCE] * len(model)
    lists = (outputs, cache, annotations, reference)
    if not model or any(len(x) != len(model) for x in lists):
        raise AlpacaflowError(
            f"annotate: {len(model)} model(s) but {', '.join(str(len(x)) for x in lists)} outputs, caches, "
            "annotation files and references; give one of each per pair"
        )
    own = {"arena": (arena_hard or {}).get("judge"), MT_BENCH: (mt_bench or {}).get("judge")}
    own = {k: j for k, j in own.items() if j and any(judge_kind(r) == k for r in reference)}
    check_judge_ready(judge, gpu)
    for other in own.values():
        check_judge_ready(other)
    table = load_prompt_table(prompts) if prompts else pd.DataFrame(columns=["index", "instruction"])
    folders = {Path(f).name: Path(f) for f in benchmarks or []}
    heads = reference_records(reference_models or [])
    heads |= {f"{p.parent.name}/vs_{name}": found for p in benchmark_references or []
              for name, found in reference_records([p]).items()}  # fmt: skip
    pairs = pair_tables(table, model, outputs, reference, heads, folders)
    judges = {"": Judge(judge, judge_manifest), **{k: Judge(j, None) for k, j in own.items()}}
    sample = audit_sample(table, judge["audit"]["swap"], judge["audit"]["seed"])
    try:
        for name, ref, pair, folder, dest in zip(model, reference, pairs, cache, annotations, strict=True):
            label = name if ref == PROMPT_REFERENCE else f"{name} vs {ref}"
            kind = judge_kind(ref)
            used = judges.get(kind, judges[""])
            for other in judges.values():  # one judge's engine at a time (the pairs come judge by judge)
                if other is not used:
                    other.close()
            cache_path = cache_file(folder, used.settings, used.identity, kind)
            try:
                if ref == MT_BENCH:
                    ordered, counts = judge_mt(pair, name, folders[MT_BENCH], used, cache_path, mt_bench or {})
                elif is_benchmark(ref):
                    folder_of = folders[split_reference(ref)[0]]
                    ordered, counts = judge_benchmark(pair, name, folder_of, used, cache_path, arena_hard or {})
                else:
                    ordered, counts = judge_alpaca_eval(pair, ref, used, folder, cache_path, sample)
            except (AlpacaflowError, Terminated):
                raise
            except Exception as exc:
                traceback.print_exc()
                raise judge_failed(exc, label, cache_path, len(pair)) from None
            write_json(dest, ordered)
            named = arena_judge_name(used.settings) if is_benchmark(ref) else judge_name(used.settings)
            print(json.dumps({"model": name, "reference": ref, "judge": named, **counts}), flush=True)
    finally:
        for used in judges.values():
            used.close()


def pair_tables(
    table: pd.DataFrame, model: list[str], outputs: list[Path], reference: list[str],
    heads: dict[str, tuple[list[Any], str]], folders: dict[str, Path],
) -> list[pd.DataFrame]:  # fmt: skip
    """Each pair's table, every outputs file checked against its prompt set before any judge starts."""
    pairs = []
    for name, path, ref in zip(model, outputs, reference, strict=True):
        if ref == OFFICIAL_REFERENCE:
            pairs.append(validation_pairs(official_pairs(read_records(path), str(path)), table, str(path)))
        elif ref == MT_BENCH:
            pairs.append(answer_table(read_records(path), str(path), _benchmark_questions(folders, MT_BENCH)))
        elif is_benchmark(ref):
            pairs.append(benchmark_table(read_records(path), str(path), ref, heads, folders))
        else:
            pairs.append(pair_table(table, read_records(path), str(path), name, _reference(ref, heads)))
    return pairs


def benchmark_table(records: list[Any], source: str, ref: str, heads: dict[str, tuple[list[Any], str]],
                    folders: dict[str, Path]) -> pd.DataFrame:  # fmt: skip
    """A benchmark pair's questions with the model's answers and the baseline's (head to head: the other model's)."""
    benchmark, head = split_reference(ref)
    questions = _benchmark_questions(folders, benchmark)
    answers = covering_outputs(records, source, questions)
    table = questions.assign(output=[answers[s] for s in questions["instruction"]])
    if head is None:
        return table
    if ref not in heads:
        raise AlpacaflowError(f"annotate: no answers of the reference model {head} to {benchmark}")
    head_records, head_source = heads[ref]
    theirs = covering_outputs(head_records, head_source, questions)
    return table.assign(reference_output=[theirs[s] for s in questions["instruction"]], reference_generator=head)


def judge_kind(reference: str) -> str:
    """Whose judge grades a pair, and its cache files' kind: "arena", "mt_bench", or "" (the run's judge)."""
    if reference == MT_BENCH:
        return MT_BENCH
    return "arena" if reference.startswith(BENCHMARK_PREFIX) else ""


def _benchmark_questions(folders: dict[str, Path], benchmark: str) -> pd.DataFrame:
    if benchmark not in folders:
        raise AlpacaflowError(f"annotate: no folder of the benchmark {benchmark} among --benchmarks")
    return load_prompt_table(folders[benchmark] / "prompts.parquet")


def judge_mt(table: pd.DataFrame, name: str, folder: Path, used: Judge, cache_path: Path,
             mt_bench: dict[str, Any]) -> tuple[list[dict[str, Any]], dict[str, Any]]:  # fmt: skip
    """One model's MT-Bench answers, each turn graded (`benchmarks.mt_bench.judge.judge_mt_bench`)."""
    return judge_mt_bench(table, name, load_protocol(folder / "protocol.json"), used.loaded, cache_path=cache_path,
                          decoder=used.decoder, identity=used.identity, max_tokens=mt_bench["judge_max_new_tokens"],
                          temperature=mt_bench["judge_temperature"])  # fmt: skip


def judge_alpaca_eval(pair: pd.DataFrame, ref: str, used: Judge, folder: Path, cache_path: Path,
                      sample: set[int]) -> tuple[list[dict[str, Any]], dict[str, Any]]:  # fmt: skip
    """One AlpacaEval pair through alpaca_eval's annotator (with validation's official preferences and the audit)."""
    ordered, counts = judge_pairs(pair.drop(columns="official_preference", errors="ignore"), used.loaded,
                                  cache_path, decoder=used.decoder, identity=used.identity)  # fmt: skip
    if ref == OFFICIAL_REFERENCE:
        add_official_preferences(ordered, pair["official_preference"])
    elif sample:
        audit = audit_pairs(pair[pair["prompt_index"].isin(sample)], used.loaded,
                            cache_file(folder, used.settings, used.identity, "audit"), used.decoder)  # fmt: skip
        counts["audited"] = add_position_audit(ordered, audit)
    return ordered, counts


def judge_benchmark(questions: pd.DataFrame, name: str, folder: Path, used: Judge, cache_path: Path,
                    arena_hard: dict[str, Any]) -> tuple[list[dict[str, Any]], dict[str, Any]]:  # fmt: skip
    """One model's Arena-Hard answers, two games per question (`benchmarks.arena_hard.judge.judge_arena`)."""
    protocol = load_protocol(folder / "protocol.json")
    tokens, temperature = judge_decoding({"arena_hard": arena_hard}, folder.name, protocol)
    return judge_arena(questions, name, protocol, used.loaded, cache_path=cache_path, decoder=used.decoder,
                       identity=used.identity, max_tokens=tokens, temperature=temperature)  # fmt: skip


def audit_sample(prompts: pd.DataFrame, n: int, seed: int) -> set[int]:
    """The prompt indices the audit judges in both orders: `n` drawn with `seed`, the same for every pair."""
    if n <= 0 or prompts.empty:
        return set()
    rng = np.random.default_rng(seed)
    chosen = rng.choice(len(prompts), size=min(n, len(prompts)), replace=False)
    return {int(i) for i in prompts["index"].to_numpy()[chosen]}


def add_position_audit(records: list[dict[str, Any]], audit: dict[int, dict[str, float | None]]) -> int:
    """Record each audited prompt's two-order judgments in its annotation (``position_audit``); how many."""
    for row in records:
        if row["prompt_index"] in audit:
            row["position_audit"] = audit[row["prompt_index"]]
    return len(audit)


def add_official_preferences(records: list[dict[str, Any]], official: pd.Series) -> None:
    """Each validation annotation gets the official judge's preference of the same pair."""
    for row, pref in zip(records, official, strict=True):
        row["official_preference"] = None if is_blank(pref) else float(pref)


def reference_records(paths: list[Path]) -> dict[str, tuple[list[Any], str]]:
    """Reference models' outputs by model name (their records' ``generator``), with their file."""
    found: dict[str, tuple[list[Any], str]] = {}
    for path in paths:
        records = read_records(path)
        names = {r.get("generator") for r in records if isinstance(r, dict)}
        if len(names) != 1 or not isinstance(next(iter(names)), str):
            raise AlpacaflowError(
                f"{path}: a reference's outputs need one generator name, found {sorted(map(str, names))}"
            )
        found[names.pop()] = (records, str(path))
    return found


def _reference(name: str, heads: dict[str, tuple[list[Any], str]]) -> tuple[str, list[Any], str] | None:
    """The head-to-head reference `name` with its outputs; None for the prompt set's own references."""
    if name == PROMPT_REFERENCE:
        return None
    if name not in heads:
        raise AlpacaflowError(f"annotate: no outputs of the reference model {name} among --reference-models")
    records, source = heads[name]
    return name, records, source
