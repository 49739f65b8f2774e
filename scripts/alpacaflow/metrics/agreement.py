"""Agreement of two judges on the same pairs (judge validation: ours against the official one).

The share of pairs with the same winner (`preferences.win_values`: draws count
0.5), Pearson and Spearman correlation of the two preferences (undefined,
None, when a judge gave one constant preference), and both win rates
(alpaca_eval's `get_winrate`) side by side; pairs either judge left
unparsed are dropped and counted.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from ..errors import AlpacaflowError
from ..io import is_blank
from ..preferences import win_values


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
