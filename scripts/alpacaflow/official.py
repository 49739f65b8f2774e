"""Published official annotations: the pairs they hold, and those on our prompt set (judge validation).

alpaca_eval publishes, per leaderboard model, the official
``weighted_alpaca_eval_gpt4_turbo`` annotations: instruction, reference
output (``output_1``), the model's output (``output_2``) and the official
preference. fetch_official checks such a file where the network is; the
annotate step judges its pairs on our prompt set (`validation_pairs`) in
the run's one judge load; validate_judge compares the two judges.
"""

from __future__ import annotations

from typing import Any

import pandas as pd

from .errors import AlpacaflowError
from .io import outputs_by_instruction


def official_pairs(records: list[dict[str, Any]], source: str) -> pd.DataFrame:
    """The published pairs with their official preference, one per instruction."""
    needed = ("instruction", "output_1", "output_2", "preference")
    for n, r in enumerate(records):
        if not isinstance(r, dict) or any(k not in r for k in needed):
            raise AlpacaflowError(f"{source}: row {n}: an official annotation needs {list(needed)}")
    outputs_by_instruction([{"instruction": r["instruction"], "output": ""} for r in records], source)  # duplicates
    return pd.DataFrame(records)


def validation_pairs(official: pd.DataFrame, prompts: pd.DataFrame, source: str) -> pd.DataFrame:
    """Official pairs on our prompt set, in prompt order, shaped as the judge wants them."""
    table = official.set_index("instruction")
    prompts = prompts[prompts["instruction"].isin(table.index)]
    if prompts.empty:
        raise AlpacaflowError(f"{source}: no official annotation is for an instruction of the prompt set")
    rows = table.loc[prompts["instruction"]]
    return pd.DataFrame(
        {
            "prompt_index": prompts["index"].astype(int).to_numpy(),
            "instruction": prompts["instruction"].to_numpy(),
            "dataset": prompts["dataset"].to_numpy(),
            "output_1": rows["output_1"].to_numpy(),
            "generator_1": rows.get("generator_1", pd.Series("reference", index=rows.index)).to_numpy(),
            "output_2": rows["output_2"].to_numpy(),
            "generator_2": rows.get("generator_2", pd.Series("published_model", index=rows.index)).to_numpy(),
            "official_preference": rows["preference"].to_numpy(),
        }
    )
