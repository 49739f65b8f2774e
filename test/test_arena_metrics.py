"""metrics.arena on hand-made judgments: the official label parse, battles, null games, the bootstrap score."""

from __future__ import annotations

import numpy as np
import pytest
from alpacaflow.metrics.arena import arena_score, battle_scores, battles, bootstrap_score, parse_label, per_category

PATTERNS = [r"\[\[([AB<>=]+)\]\]", r"\[([AB<>=]+)\]"]


def record(label_1: str | None, label_2: str | None, category: str = "arena-hard-v0.1") -> dict:
    return {"uid": "q", "category": category, "games": [{"score": label_1}, {"score": label_2}]}


def test_the_label_is_the_last_match_of_the_first_pattern_that_matches():
    assert parse_label("First [[A>B]], on reflection [[b>>a]].", PATTERNS) == "B>>A"  # upper-cased, the last one
    assert parse_label("My verdict: [A=B] and [[]]", PATTERNS) == "A=B"  # the double pattern matched nothing
    assert parse_label("[[A>B]] but also [B>A]", PATTERNS) == "A>B"  # the first pattern with matches wins
    assert parse_label("no verdict here", PATTERNS) is None
    assert parse_label("[[A>>>B]]", PATTERNS) == "A>>>B"  # the pattern accepts it; the map does not


def test_two_games_become_battles_with_decisive_labels_weighing_three():
    # Game 1: the baseline is A. "A>B" (baseline better) -> the model scores 1 - 1 = 0.
    # Game 2: the model is A. "A>>B" (model much better) -> 1, 1, 1.
    assert battle_scores("A>B", "A>>B") == [1.0, 1.0, 1.0, 0.0]
    assert battle_scores("B>A", "A=B") == [0.5, 1.0]  # game 1: the model (B) better -> 1 - 0
    assert battle_scores("B<<A", "B>>A") == [0.0, 0.0, 0.0, 0.0, 0.0, 0.0]
    assert battle_scores(None, "A>B") is None and battle_scores("A>>>B", "A>B") is None


def test_null_games_are_left_out_and_counted():
    outcomes, null = battles([record("A>B", "A>>B"), record(None, "A>B"), record("B>A", "A=B"), {"games": None}])
    assert outcomes.tolist() == [1.0, 1.0, 1.0, 0.0, 0.5, 1.0] and null == 2


def test_bootstrap_score_by_hand():
    every = bootstrap_score(np.ones(7))
    assert every == {"score": 100.0, "lower": 100.0, "upper": 100.0}
    outcomes = np.array([1.0, 0.0] * 50)
    found = bootstrap_score(outcomes, rounds=2000, seed=1)
    # 100 battles, p = 0.5: bootstrap means have sd sqrt(0.25 / 100) = 0.05: a 5%-95% band of about ±8.2 points.
    assert found["score"] == pytest.approx(50.0, abs=0.5)
    assert (found["lower"], found["upper"]) == (pytest.approx(41.8, abs=1.0), pytest.approx(58.2, abs=1.0))
    assert bootstrap_score(outcomes, seed=3) == bootstrap_score(outcomes, seed=3)  # seeded: reruns are equal


def test_score_per_model_and_category():
    records = [record("B>A", "A>B", "hard_prompt")] * 3 + [record("A>B", "B>A", "creative_writing"), record(None, None)]
    total = arena_score(records)
    assert (total["battles"], total["questions"], total["null_games"]) == (8, 5, 1)
    assert total["score"] == pytest.approx(75.0, abs=10)  # 6 wins of 8 battles
    table = per_category(records).set_index("category")
    assert table.loc["hard_prompt", "score"] == 100.0 and table.loc["creative_writing", "score"] == 0.0
    assert table.loc["arena-hard-v0.1", "null_games"] == 1
