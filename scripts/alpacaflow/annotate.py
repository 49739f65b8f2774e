"""The annotate step: the judge compares each model's outputs with the reference, with one judge load.

`pair_table` pairs a model's outputs with the prompt set's references
(they must cover it exactly); `judge.judge_pairs` judges them with the
configured judge, cached per model under ``results/{model}/judge_cache/``;
each model's ``annotations.json`` gets one annotation per prompt, in prompt
order.

One job judges every model with one decoder, so the judge's engine starts
at most once per run, and only when some pair is not in the caches. The
alternative, a vLLM server as a Snakemake service job with one client job per
model, puts server and clients in one group, which Snakemake starts only
when every client's input exists and kills whole when one client fails; it
would also need a network listener, a port and an API key. One in-process
job has the same failure semantics without any of that, and judges with the
same code as one model's job does (the judgments are the same).
"""

from __future__ import annotations

import json
import traceback
from pathlib import Path
from typing import Annotated, Any

import pandas as pd

from .errors import AlpacaflowError, Stopped, Terminated, saved_work
from .io import JSON, load_prompt_table, outputs_by_instruction, read_records, write_json
from .judge import cached_count, check_judge_ready, close_decoder, judge_decoder, judge_pairs
from .judge_settings import judge_name


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


def judge_failed(exc: Exception, model: str, cache_path: Path, total: int) -> Stopped:
    """One line for a judge that could not start or died while judging `model` (the traceback is in the log)."""
    lines = str(exc).strip().splitlines() or [""]
    cause = f"{type(exc).__name__}: {lines[-1]}".rstrip(": ")
    saved = saved_work(cached_count(cache_path), total, f"judgments of {model}", cache_path)
    return Stopped(f"the judge failed ({cause}); earlier models' annotations are written, {saved}")


def run(
    *,
    judge: Annotated[dict[str, Any], JSON],
    model: list[str],
    prompts: Path,
    outputs: list[Path],
    cache: list[Path],
    annotations: list[Path],
    gpu: int = 0,
) -> None:
    """The annotate step: judge each model's outputs against the references and write its annotations.json.

    `model`, `outputs`, `cache` and `annotations` run in parallel, one entry
    per model. Every model's outputs are checked before the judge starts.
    """
    if not model or not len(model) == len(outputs) == len(cache) == len(annotations):
        raise AlpacaflowError(
            f"annotate: {len(model)} model(s), {len(outputs)} outputs, {len(cache)} caches and "
            f"{len(annotations)} annotation files; give one of each per model"
        )
    check_judge_ready(judge, gpu)
    table = load_prompt_table(prompts)
    pairs = [pair_table(table, read_records(path), str(path), name) for name, path in zip(model, outputs, strict=True)]
    decoder = judge_decoder(judge)
    try:
        for name, pair, cache_path, dest in zip(model, pairs, cache, annotations, strict=True):
            try:
                ordered, counts = judge_pairs(pair, judge, cache_path, decoder=decoder)
            except (AlpacaflowError, Terminated):
                raise
            except Exception as exc:
                traceback.print_exc()
                raise judge_failed(exc, name, cache_path, len(pair)) from None
            write_json(dest, ordered)
            print(json.dumps({"model": name, "judge": judge_name(judge), **counts}), flush=True)
    finally:
        close_decoder(decoder)
