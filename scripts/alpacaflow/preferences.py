"""What a judge's preference means, and the annotation tables built on it.

alpaca_eval encodes a pairwise judgment as ``preference``: 1 when the judge
preferred ``output_1`` (the reference), 2 when it preferred ``output_2`` (the
model), anything in between for a weighted judge (``2 - P(m)/(P(m)+P(M))``),
and 1.5 or 0 for a draw. Every step that counts wins or losses reads it
through this module:

* `win_values`: the model's win over the reference in [0, 1] per judgment
  (draws count 0.5); their mean x 100 is alpaca_eval's ``win_rate``;
* `is_loss`: the judge preferred the reference (exactly 1 for a discrete
  ranking judge, below 1.5 for a weighted one);
* `winner`: 1 the reference, 2 the model, 0 a draw;
* `metrics_frame`: annotations as alpaca_eval's metrics want them (leaderboard, compare);
* `win_frame`: parsed judgments with their win values and output lengths (plots).

Both take the config's ``ties``: ``half`` keeps draws (worth half a win),
``exclude`` leaves them out (`without_ties`), so that every win rate,
alpaca_eval's own included, is computed on the judgments that are not ties.
"""

from __future__ import annotations

from typing import Any

import pandas as pd

from .errors import AlpacaflowError
from .io import is_blank


def win_values(preferences: pd.Series) -> pd.Series:
    """Per-judgment win of the model over the reference in [0, 1]; draws (0 or 1.5) count 0.5."""
    prefs = preferences.astype(float)
    return (prefs - 1.0).where(prefs != 0.0, 0.5)


def is_loss(preference: Any, discrete: bool) -> bool:
    """True when the judge preferred the reference (output_1); an unparsed judgment is no loss."""
    if is_blank(preference):
        return False
    return preference == 1.0 if discrete else preference < 1.5


def winner(preference: float) -> int:
    """1 the reference, 2 the model, 0 a draw (alpaca_eval's 0 or 1.5)."""
    win = float(win_values(pd.Series([preference])).iloc[0])
    return 0 if win == 0.5 else 2 if win > 0.5 else 1


#: How ties count in a win rate (the config's ``ties``): half a win (alpaca_eval's rule), or left out.
TIES = ("half", "exclude")


def is_draw(preferences: pd.Series) -> pd.Series:
    """Which judgments are draws (alpaca_eval's 0 or 1.5)."""
    return preferences.astype(float).isin([0.0, 1.5])


def without_ties(frame: pd.DataFrame, ties: str) -> pd.DataFrame:
    """Parsed judgments as `ties` counts them: all (``half``), or the draws left out (``exclude``)."""
    if ties not in TIES:
        raise AlpacaflowError(f"ties: {ties!r} is not one of {', '.join(TIES)}")
    return frame[~is_draw(frame["preference"])] if ties == "exclude" else frame


def metrics_frame(records: list[dict[str, Any]], source: str, ties: str = "half") -> pd.DataFrame:
    """Annotations as alpaca_eval's metrics want them: in prompt order, indexed by prompt index, unparsed dropped.

    With `ties` ``exclude`` the draws are dropped too.
    """
    frame = pd.DataFrame(records)
    needed = {"prompt_index", "preference", "output_1", "output_2", "generator_1", "generator_2", "annotator"}
    missing = needed - set(frame.columns)
    if missing:
        raise AlpacaflowError(f"{source}: annotations lack {sorted(missing)}")
    # Sorted: the GLM's cross-validation folds follow row order, so LC depends on it.
    frame = without_ties(frame[frame["preference"].notna()], ties).sort_values("prompt_index", kind="stable")
    frame.index = pd.Index(frame.pop("prompt_index").astype(int).to_numpy())
    return frame


def win_frame(records: list[dict[str, Any]], ties: str = "half") -> pd.DataFrame:
    """Parsed judgments (draws out with `ties` ``exclude``), their win values and both outputs' lengths (characters)."""
    frame = pd.DataFrame(records)
    frame = without_ties(frame[frame["preference"].notna()], ties).copy()
    frame["win"] = win_values(frame["preference"])
    frame["model_chars"] = frame["output_2"].fillna("").astype(str).str.len()
    frame["reference_chars"] = frame["output_1"].fillna("").astype(str).str.len()
    return frame
