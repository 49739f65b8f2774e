"""Judge validation: our judge against the official GPT-4 Turbo judge on published pairs.

The official annotations come from `official.fetch_official`.
`run_validation` judges the same pairs, restricted to
our prompt set, with the configured judge and writes our annotations and
`agreement`: share of pairs with the same winner, Pearson and Spearman
correlation of the two preferences, and both win rates (alpaca_eval's
`get_winrate`) side by side.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from .analysis import win_values
from .errors import AlpacaflowError
from .io import is_blank, read_records, write_json
from .judge_settings import judge_name
from .official import official_pairs
from .prompts import load_prompt_table


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


def winner(preference: float) -> int:
    """1 the reference, 2 the model, 0 a draw (alpaca_eval's 0 or 1.5)."""
    win = float(win_values(pd.Series([preference])).iloc[0])
    return 0 if win == 0.5 else 2 if win > 0.5 else 1


def agreement(official: list[Any], ours: list[Any]) -> dict[str, Any]:
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


def run_validation(
    judge: dict[str, Any], official_path: Path, official_meta: Path, prompts_path: Path, cache: Path,
    out_annotations: Path, out_agreement: Path,
) -> dict[str, Any]:  # fmt: skip
    """Judge the published pairs with our judge and write our annotations and the agreement."""
    from .judge import check_judge_ready, judge_pairs

    check_judge_ready(judge)
    official = official_pairs(read_records(official_path), str(official_path))
    pairs = validation_pairs(official, load_prompt_table(prompts_path), str(official_path))
    ours, counts = judge_pairs(pairs.drop(columns="official_preference"), judge, cache)
    for row, pref in zip(ours, pairs["official_preference"], strict=True):
        row["official_preference"] = None if is_blank(pref) else float(pref)
    write_json(out_annotations, ours)
    meta = json.loads(Path(official_meta).read_text())
    result = {
        "judge": judge_name(judge),
        "official_judge": str(official["annotator"].iloc[0]) if "annotator" in official else "official",
        "published_model": str(pairs["generator_2"].iloc[0]),
        "source": meta["source"],
        "sha256": meta["sha256"],
        **agreement(pairs["official_preference"].tolist(), [r["preference"] for r in ours]),
        "judge_counts": counts,
    }
    write_json(out_agreement, result)
    print(json.dumps({k: v for k, v in result.items() if k != "judge_counts"}), flush=True)
    return result
