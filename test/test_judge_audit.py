"""The judge audit's numbers on hand-made annotations: position flips, longer-output wins, intervals, verdict."""

from __future__ import annotations

import pytest
from alpacaflow.markdown import verdict_sentence
from alpacaflow.metrics.audit import assess, audit_summary, flip_percent, longer_wins, position_flips, share


def audited(first: float | None, second: float | None, preference: float = 1.5, lengths=(10, 10)) -> dict:
    return {"preference": preference, "output_1": "r" * lengths[0], "output_2": "m" * lengths[1],
            "position_audit": {"reference_first": first, "model_first": second}}  # fmt: skip


def test_a_flip_is_a_winner_that_changes_with_the_order():
    records = [
        audited(1.0, 2.0),  # ranking judge: the reference first wins, the model first wins: a flip
        audited(2.0, 2.0),  # the model wins both ways
        audited(1.2, 1.4),  # weighted: both below 1.5, the reference wins both ways
        audited(1.6, 1.4),  # weighted: crosses 1.5, a flip
        audited(0.0, 1.5),  # draws both ways (0 and 1.5 are both draws): no flip
        audited(1.0, None),  # left unparsed in one order: not audited
        {"preference": 2.0, "output_1": "r", "output_2": "m"},  # not sampled
    ]
    assert position_flips(records) == (2, 5)
    assert flip_percent(records) == pytest.approx(40.0)
    assert flip_percent(records[-1:]) is None


def test_longer_output_wins_count_decided_pairs_of_unequal_length():
    records = [
        {"preference": 2.0, "output_1": "r" * 5, "output_2": "m" * 9},  # the longer (model) won
        {"preference": 1.2, "output_1": "r" * 9, "output_2": "m" * 5},  # the longer (reference) won
        {"preference": 1.9, "output_1": "r" * 9, "output_2": "m" * 5},  # the shorter won
        {"preference": 1.5, "output_1": "r" * 9, "output_2": "m" * 5},  # a draw: not decided
        {"preference": 2.0, "output_1": "r" * 5, "output_2": "m" * 5},  # equal lengths: not counted
        {"preference": None, "output_1": "r", "output_2": "mm"},  # unparsed
    ]
    assert longer_wins(records) == (2, 3)


def test_wilson_interval_by_hand():
    # 8 of 10: p = 0.8, z = 1.959964; centre (p + z²/2n) / (1 + z²/n) = 0.7167, half-width 0.2265.
    result = share(8, 10)
    assert result["percent"] == 80.0
    assert (result["ci_low"], result["ci_high"]) == (pytest.approx(49.02, abs=0.01), pytest.approx(94.33, abs=0.01))
    assert share(0, 0)["percent"] is None


def test_summary_pools_the_pairs_and_the_verdict_names_the_thresholds():
    biased = [audited(1.0, 2.0, 2.0, (5, 9))] * 3 + [audited(2.0, 2.0, 2.0, (5, 9))]
    fair = [audited(2.0, 2.0, 2.0, (9, 5))] * 4
    result = audit_summary([("a", "gpt4", biased), ("b", "gpt4", fair)], {"same_winner": 0.8})
    assert [r["flips"]["k"] for r in result["pairs"]] == [3, 0]
    assert (result["pooled"]["flips"]["k"], result["pooled"]["flips"]["n"]) == (3, 8)
    assert (result["pooled"]["longer"]["k"], result["pooled"]["longer"]["n"]) == (4, 8)
    assert result["agreement"] == 80.0
    assert result["assessment"] == {"trustworthy": False, "flips_above_limit": True, "agreement_below_limit": False,
                                    "length_preference": False}  # fmt: skip
    assert verdict_sentence(result).startswith("The judge is **not trustworthy** for this comparison: its winner "
                                               "changes with the order in 37.5% of pairs (above 15%).")  # fmt: skip
    trusted = audit_summary([("b", "gpt4", fair)], None)
    assert trusted["assessment"]["trustworthy"] is True
    assert verdict_sentence(trusted) == (
        "The judge is **trustworthy** for this comparison by these checks (flips 0.0% ≤ 15%)."
    )
    lengthy = {"pooled": {"flips": share(1, 20), "longer": share(16, 20)}, "agreement": 70.0}
    lengthy["assessment"] = assess(lengthy["pooled"], 70.0)
    assert lengthy["assessment"] == {"trustworthy": True, "flips_above_limit": False, "agreement_below_limit": False,
                                     "length_preference": True}  # fmt: skip
    sentence = verdict_sentence(lengthy)
    assert "agreement with the official judge 70.0% ≥ 65%" in sentence and "longer output in 80.0%" in sentence
    disagreeing = assess({"flips": share(1, 20), "longer": share(10, 20)}, 50.0)
    assert disagreeing["trustworthy"] is False and disagreeing["agreement_below_limit"]
    assert assess({"flips": share(0, 0), "longer": share(0, 0)}, None)["trustworthy"] is None
