"""The judge audit's numbers: how often the winner changes when the outputs swap places, how often the longer wins.

LLM judges prefer the output shown first and the longer output (GPT-4's
pairwise MT-Bench judgments flip on 12.9% of swapped pairs and pick the
longer answer 68% of the time: FastChat#3911). With ``judge.audit.swap`` N
the annotate step judges N sampled pairs of every (model, reference) in
both orders (``position_audit`` in their annotations: ``reference_first``
and ``model_first``, both preferences in alpaca_eval's encoding). Here:

* `position_flips`: pairs whose winner (`preferences.winner`: the judge's
  method decides, a weighted judge by which side of 1.5 it lands) differs
  between the two orders, among the audited pairs parsed in both;
* `longer_wins`: judgments with a winner whose two outputs differ in
  length, and how many of them the longer output won (every judged pair,
  not only the audited ones);
* `audit_summary`: both per pair and pooled over the run (one judge), with
  Wilson 95% intervals, and `assess`: the judge's verdict against stated
  thresholds, as data (the report says it in a sentence).
"""

from __future__ import annotations

from typing import Any

from ..io import is_blank
from ..preferences import winner

#: Above this share of flipped pairs (%), the judge's verdicts depend on the order too often to be trusted.
FLIP_LIMIT = 15.0
#: Above this share (%) of decided pairs won by the longer output, the judge has a strong length preference.
LONGER_LIMIT = 70.0
#: Below this share (%) of pairs with the official judge's winner, the judge disagrees with it too often.
AGREEMENT_LIMIT = 65.0


def position_flips(records: list[dict[str, Any]]) -> tuple[int, int]:
    """(pairs whose winner changed with the order, audited pairs judged in both orders)."""
    flips = audited = 0
    for record in records:
        audit = record.get("position_audit")
        if not isinstance(audit, dict) or is_blank(audit.get("reference_first")) or is_blank(audit.get("model_first")):
            continue
        audited += 1
        flips += winner(audit["reference_first"]) != winner(audit["model_first"])
    return flips, audited


def longer_wins(records: list[dict[str, Any]]) -> tuple[int, int]:
    """(judgments the longer output won, judgments with a winner and outputs of different lengths)."""
    won = decided = 0
    for record in records:
        if is_blank(record.get("preference")):
            continue
        side = winner(record["preference"])
        lengths = [len(record.get(k) or "") for k in ("output_1", "output_2")]
        if side == 0 or lengths[0] == lengths[1]:
            continue
        decided += 1
        won += side == (2 if lengths[1] > lengths[0] else 1)
    return won, decided


def share(k: int, n: int) -> dict[str, Any]:
    """`k` of `n` as a percentage with its Wilson 95% interval (None for n = 0)."""
    from scipy.stats import binomtest

    if n == 0:
        return {"k": 0, "n": 0, "percent": None, "ci_low": None, "ci_high": None}
    ci = binomtest(k, n).proportion_ci(confidence_level=0.95, method="wilson")
    return {"k": k, "n": n, "percent": 100 * k / n, "ci_low": 100 * ci.low, "ci_high": 100 * ci.high}


def flip_percent(records: list[dict[str, Any]]) -> float | None:
    """The leaderboard's ``position_flips``: % of a pair's audited prompts whose winner changed (None: no audit)."""
    return share(*position_flips(records))["percent"]


def audit_summary(pairs: list[tuple[str, str, list[dict[str, Any]]]], agreement: dict[str, Any] | None) -> dict:
    """Per (model, reference) and pooled: position flips and longer-output wins; the judge's assessment.

    `agreement` is validate_judge's agreement.json (None without judge validation).
    """
    rows = []
    flips_k = flips_n = longer_k = longer_n = 0
    for model, reference, records in pairs:
        flipped, audited = position_flips(records)
        won, decided = longer_wins(records)
        rows.append({"model": model, "reference": reference, "flips": share(flipped, audited),
                     "longer": share(won, decided)})  # fmt: skip
        flips_k, flips_n, longer_k, longer_n = flips_k + flipped, flips_n + audited, longer_k + won, longer_n + decided
    pooled = {"flips": share(flips_k, flips_n), "longer": share(longer_k, longer_n)}
    same = None if agreement is None else 100 * agreement["same_winner"]
    return {"pairs": rows, "pooled": pooled, "agreement": same, "assessment": assess(pooled, same)}


def assess(pooled: dict[str, Any], agreement: float | None) -> dict[str, Any]:
    """Whether the judge is trustworthy for this comparison, by the thresholds above.

    ``trustworthy`` is None when no pair was audited in both orders; else
    False when the flip rate is above `FLIP_LIMIT` or (with judge validation)
    the agreement with the official judge below `AGREEMENT_LIMIT`.
    ``length_preference``: the longer output wins above `LONGER_LIMIT`.
    """
    flips, longer = pooled["flips"], pooled["longer"]
    flips_above = flips["n"] > 0 and flips["percent"] > FLIP_LIMIT
    agreement_below = agreement is not None and agreement < AGREEMENT_LIMIT
    return {
        "trustworthy": None if flips["n"] == 0 else not (flips_above or agreement_below),
        "flips_above_limit": flips_above,
        "agreement_below_limit": agreement_below,
        "length_preference": bool(longer["n"] and longer["percent"] > LONGER_LIMIT),
    }
