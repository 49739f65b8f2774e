"""The validate_judge step: our judge against the official GPT-4 Turbo judge on published pairs.

The official annotations come from the fetch_official step. `run` judges
the same pairs, restricted to our prompt set, with the configured judge and
writes our annotations and the agreement (`judge_agreement`): share of pairs with the same winner, Pearson and Spearman
correlation of the two preferences, and both win rates (alpaca_eval's
`get_winrate`) side by side.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import numpy as np
import pandas as pd

from .errors import AlpacaflowError
from .fetch_official import official_pairs
from .io import JSON, is_blank, load_prompt_table, read_records, write_json
from .judge_settings import judge_name
from .preferences import win_values


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


def judge_agreement(official: list[Any], ours: list[Any]) -> dict[str, Any]:
    """Agreement of two judges' preferences on the same pairs (pairs either left unparsed are dropped)."""
    from alpaca_eval.metrics import get_winrate
    from scipy.stats import pearsonr, spearmanr

    both = [(float(a), float(b)) for a, b in zip(official, ours, strict=True) if not (is_blank(a) or is_blank(b))]
    if not both:
        raise AlpacaflowError("no pair was judged by both judges")
    # Win values (draws, 0 or 1.5, become 0.5): correlations are unchanged by the shift from preferences.
    a = win_values(pd.Series([x for x, _ in both])).to_numpy()
    b = win_values(pd.Series([y for _, y in both])).to_numpy()
    constant = a.std() == 0 or b.std() == 0  # a correlation is undefined then
    return {
        "n_pairs": len(official),
        "n_compared": len(both),
        "n_dropped_unparsed": len(official) - len(both),
        "same_winner": float(np.mean(np.sign(a - 0.5) == np.sign(b - 0.5))),
        "pearson": None if constant else float(pearsonr(a, b).statistic),
        "spearman": None if constant else float(spearmanr(a, b).statistic),
        "official_win_rate": float(get_winrate([{"preference": x} for x, _ in both])["win_rate"]),
        "our_win_rate": float(get_winrate([{"preference": y} for _, y in both])["win_rate"]),
    }


def run(
    *,
    judge: Annotated[dict[str, Any], JSON],
    official: Path,
    official_meta: Path,
    prompts: Path,
    cache: Path,
    annotations: Path,
    agreement: Path,
    gpu: int = 0,
) -> None:
    """The validate_judge step: judge the published pairs with our judge; write our annotations and the agreement."""
    from .judge import check_judge_ready, judge_pairs

    check_judge_ready(judge, gpu)
    published = official_pairs(read_records(official), str(official))
    pairs = validation_pairs(published, load_prompt_table(prompts), str(official))
    ours, counts = judge_pairs(pairs.drop(columns="official_preference"), judge, cache)
    for row, pref in zip(ours, pairs["official_preference"], strict=True):
        row["official_preference"] = None if is_blank(pref) else float(pref)
    write_json(annotations, ours)
    meta = json.loads(Path(official_meta).read_text())
    result = {
        "judge": judge_name(judge),
        "official_judge": str(published["annotator"].iloc[0]) if "annotator" in published else "official",
        "published_model": str(pairs["generator_2"].iloc[0]),
        "source": meta["source"],
        "sha256": meta["sha256"],
        **judge_agreement(pairs["official_preference"].tolist(), [r["preference"] for r in ours]),
        "judge_counts": counts,
    }
    write_json(agreement, result)
    print(json.dumps({k: v for k, v in result.items() if k != "judge_counts"}), flush=True)
