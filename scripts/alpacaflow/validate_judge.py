"""The validate_judge step: our judge against the official GPT-4 Turbo judge on published pairs.

The official annotations come from the fetch_official step; the annotate
step judged the same pairs, restricted to our prompt set, with the
configured judge in the run's one judge load (``results/validation/annotations.json``,
each with the official preference beside ours). This step loads no judge:
it writes the agreement (`judge_agreement`): share of pairs with the same
winner, Pearson and Spearman correlation of the two preferences, and both
win rates (alpaca_eval's `get_winrate`) side by side.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from .errors import AlpacaflowError
from .io import is_blank, read_records, write_json
from .official import official_pairs
from .preferences import win_values


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


def run(*, official: Path, official_meta: Path, annotations: Path, agreement: Path) -> None:
    """The validate_judge step: the agreement of our judge's validation annotations with the official ones."""
    published = official_pairs(read_records(official), str(official))
    ours = read_records(annotations)
    if not ours or any("official_preference" not in r for r in ours):
        raise AlpacaflowError(f"{annotations}: no official_preference in these annotations; rerun annotate")
    meta = json.loads(Path(official_meta).read_text())
    result = {
        "judge": ", ".join(sorted({str(r.get("annotator")) for r in ours})),
        "judge_identity": ", ".join(sorted({str(r["judge_identity"]) for r in ours if r.get("judge_identity")})),
        "official_judge": str(published["annotator"].iloc[0]) if "annotator" in published else "official",
        "published_model": str(ours[0].get("generator_2")),
        "source": meta["source"],
        "sha256": meta["sha256"],
        **judge_agreement([r["official_preference"] for r in ours], [r["preference"] for r in ours]),
        "truncated_for_judge": sum(bool(r.get("truncated_for_judge")) for r in ours),
    }
    write_json(agreement, result)
    print(json.dumps(result), flush=True)
