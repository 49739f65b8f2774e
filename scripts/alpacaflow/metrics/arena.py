r"""Arena-Hard-Auto's scores: judge labels to battles, and the bootstrapped headline score per model and category.

As the official pipeline computes them (github.com/lmarena/arena-hard-auto,
show_result.py and utils/math_utils.py at the pinned revision; the protocol
is described in docs/arena_hard.md):

* `parse_label`: the judgment upper-cased, each pattern in turn
  (``\[\[([AB<>=]+)\]\]``, then ``\[([AB<>=]+)\]``); the first pattern
  with matches wins and its last match is the label; none: no label;
* `battle_scores`: two games per question, game 1 with the baseline as
  assistant A, game 2 with the model as A; the model's outcomes are
  ``LABELS[g2] + [1 - s for s in LABELS[g1]]`` with decisive labels weighing
  3 battles; a question where either game has no label is left out (counted);
  a label the map does not know (``A>>>B``, which the pattern accepts and the
  official script fails on) is counted as unlabeled here;
* `bootstrap_score`: 100 rounds, each the mean of the model's battles
  resampled with replacement; the score is the mean of the 100 means, the
  interval their 5% and 95% quantiles (a 90% interval, as shown there);
  seeded here (the official bootstrap is not, so its own reruns spread by
  up to about a point on small sets).
"""

from __future__ import annotations

import re
from typing import Any

import numpy as np
import pandas as pd

#: Decisive labels weigh this many battles (show_result.py's ``weight``).
WEIGHT = 3
#: Each label's outcomes for assistant A, the official map (a decisive verdict is `WEIGHT` battles).
LABEL_SCORES: dict[str, list[float]] = {
    "A>B": [1.0], "A>>B": [1.0] * WEIGHT, "A=B": [0.5], "A<<B": [0.0] * WEIGHT, "A<B": [0.0],
    "B>A": [0.0], "B>>A": [0.0] * WEIGHT, "B=A": [0.5], "B<<A": [1.0] * WEIGHT, "B<A": [1.0],
}  # fmt: skip
#: The official bootstrap: rounds, and the quantiles of its interval (a 90% interval).
ROUNDS, LOWER, UPPER = 100, 0.05, 0.95


def parse_label(judgment: str, patterns: list[str]) -> str | None:
    """The judge's label as the official parser reads it: the first pattern with matches, its last match."""
    for pattern in patterns:
        matches = [m for m in re.findall(pattern, judgment.upper()) if m != ""]
        if matches:
            return matches[-1].strip("\n")
    return None


def battle_scores(label_1: str | None, label_2: str | None) -> list[float] | None:
    """The model's battle outcomes of one question: game 2's (the model is A) and 1 minus game 1's (the baseline is A).

    None when either game has no label the map knows (the question is then left out).
    """
    if label_1 not in LABEL_SCORES or label_2 not in LABEL_SCORES:
        return None
    return LABEL_SCORES[label_2] + [1.0 - s for s in LABEL_SCORES[label_1]]


def record_battles(record: dict[str, Any]) -> list[float] | None:
    """One judgment record's battle outcomes for its model (`battle_scores` of its two games' labels)."""
    games = record.get("games") or [None, None]
    labels = [g.get("score") if isinstance(g, dict) else None for g in games]
    return battle_scores(*labels) if len(labels) == 2 else None


def battles(records: list[dict[str, Any]]) -> tuple[np.ndarray, int]:
    """All of a model's battle outcomes over its judgment records, and how many questions were left out (null)."""
    outcomes: list[float] = []
    null = 0
    for record in records:
        scores = record_battles(record)
        if scores is None:
            null += 1
        else:
            outcomes += scores
    return np.asarray(outcomes, dtype=float), null


def bootstrap_score(outcomes: np.ndarray, *, rounds: int = ROUNDS, seed: int = 0) -> dict[str, float]:
    """The headline score (%): the mean of `rounds` bootstrap means of the battles, and their 5%/95% quantiles."""
    if outcomes.size == 0:
        return {"score": float("nan"), "lower": float("nan"), "upper": float("nan")}
    rng = np.random.default_rng(seed)
    means = np.array([outcomes[rng.integers(0, outcomes.size, outcomes.size)].mean() for _ in range(rounds)])
    low, high = np.quantile(means, [LOWER, UPPER])
    return {"score": 100 * float(means.mean()), "lower": 100 * float(low), "upper": 100 * float(high)}


def arena_score(records: list[dict[str, Any]], *, rounds: int = ROUNDS, seed: int = 0) -> dict[str, Any]:
    """One model's score on one benchmark (or category): score, interval, battles, questions judged and left out."""
    outcomes, null = battles(records)
    return {**bootstrap_score(outcomes, rounds=rounds, seed=seed), "battles": int(outcomes.size),
            "questions": len(records), "null_games": null}  # fmt: skip


def per_category(records: list[dict[str, Any]], *, rounds: int = ROUNDS, seed: int = 0) -> pd.DataFrame:
    """`arena_score` per category (v2.0: hard_prompt and creative_writing), one row each."""
    categories = sorted({str(r.get("category")) for r in records})
    rows = [{"category": c, **arena_score([r for r in records if str(r.get("category")) == c], rounds=rounds,
                                          seed=seed)} for c in categories]  # fmt: skip
    return pd.DataFrame(rows)
