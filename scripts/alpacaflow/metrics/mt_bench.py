"""MT-Bench's single-answer scores, as FastChat computes them, and a bootstrap interval on the Average.

`parse_rating` reads a judgment as FastChat's ``run_judge_single`` does: the
first match of ``[[rating]]``, else of ``[rating]``, through
``ast.literal_eval`` (7.5 stays 7.5, no clamping); no match is -1, a failure
(`UNPARSED`). `scores` is ``show_result.py --mode single``: failures dropped,
turn 1 = the mean of the turn-1 ratings, turn 2 = the mean of the turn-2
ratings, Average = the mean of every remaining rating of both turns pooled
(not the mean of the two turn means when the turns lost different numbers
of ratings). FastChat prints no interval; `average_interval` adds a seeded
bootstrap over questions (a question's ratings resampled together).
"""

from __future__ import annotations

import ast
import re
from typing import Any

import numpy as np
import pandas as pd

#: FastChat common.py ``one_score_pattern`` and ``one_score_pattern_backup``.
RATING_PATTERNS = (re.compile(r"\[\[(\d+\.?\d*)\]\]"), re.compile(r"\[(\d+\.?\d*)\]"))
#: The score FastChat records for a judgment without a rating.
UNPARSED = -1


def parse_rating(judgment: str) -> float | int:
    """The judgment's rating, or `UNPARSED` (-1) when it has none."""
    for pattern in RATING_PATTERNS:
        match = pattern.search(judgment)
        if match:
            return ast.literal_eval(match.groups()[0])
    return UNPARSED


def valid(ratings: pd.DataFrame) -> pd.DataFrame:
    """The ratings FastChat keeps: those not `UNPARSED`."""
    return ratings[ratings["score"] != UNPARSED]


def scores(ratings: pd.DataFrame) -> dict[str, Any]:
    """One model's turn-1, turn-2 and Average scores (`ratings`: ``score``, ``turn``), and its counts.

    A turn with no valid rating has no score (None).
    """
    kept = valid(ratings)

    def mean(frame: pd.DataFrame) -> float | None:
        return float(frame["score"].mean()) if len(frame) else None

    return {
        "turn1": mean(kept[kept["turn"] == 1]),
        "turn2": mean(kept[kept["turn"] == 2]),
        "average": mean(kept),
        "ratings": int(len(kept)),
        "unparsed": int(len(ratings) - len(kept)),
    }


def average_interval(ratings: pd.DataFrame, *, rounds: int, seed: int) -> tuple[float | None, float | None]:
    """A 95% percentile bootstrap interval of the Average: questions resampled with replacement, seeded.

    `ratings` has ``question_id`` and ``score``; each round draws as many
    questions as there are and pools their valid ratings (both turns).
    """
    kept = valid(ratings)
    if kept.empty or rounds <= 0:
        return None, None
    grouped = kept.groupby("question_id")["score"]
    sums, counts = grouped.sum().to_numpy(float), grouped.count().to_numpy(float)
    rng = np.random.default_rng(seed)
    draws = rng.integers(0, len(sums), size=(rounds, len(sums)))
    means = sums[draws].sum(axis=1) / counts[draws].sum(axis=1)
    low, high = np.percentile(means, [2.5, 97.5])
    return float(low), float(high)
