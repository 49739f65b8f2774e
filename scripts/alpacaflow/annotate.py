"""The annotate step: the judge compares each of one model's outputs with the reference.

`pair_table` pairs the model's outputs with the prompt set's references
(they must cover it exactly); `judge.judge_pairs` judges them with the
configured judge, cached per model under ``results/{model}/judge_cache/``;
``annotations.json`` gets one annotation per prompt, in prompt order.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import pandas as pd

from .errors import AlpacaflowError
from .io import JSON, load_prompt_table, outputs_by_instruction, read_records, write_json
from .judge import check_judge_ready, judge_pairs
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


def run(
    *,
    judge: Annotated[dict[str, Any], JSON],
    model: str,
    prompts: Path,
    outputs: Path,
    cache: Path,
    annotations: Path,
    gpu: int = 0,
) -> None:
    """The annotate step: judge one model's outputs against the references and write annotations.json."""
    check_judge_ready(judge, gpu)
    pairs = pair_table(load_prompt_table(prompts), read_records(outputs), str(outputs), model)
    ordered, counts = judge_pairs(pairs, judge, cache)
    write_json(annotations, ordered)
    print(json.dumps({"model": model, "judge": judge_name(judge), **counts}), flush=True)
