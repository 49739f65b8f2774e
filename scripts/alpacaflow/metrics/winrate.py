"""Win rates: alpaca_eval's win rate and length-controlled win rate of one pair's annotations, offline.

The numbers are alpaca_eval's own: `get_winrate` and
`get_length_controlled_winrate` (GLM ``length_controlled_v1``), and
``avg_length`` as alpaca_eval defines it (``int`` of the mean characters).
Gaps closed around them:

* the LC GLM fetches ``df_gamed.csv`` from the hub at call time; here it
  reads the copy that ``download_prompts`` fetched (`local_df_gamed`), so no
  network is needed (compute nodes often have none);
* the GLM looks each prompt's difficulty up by the annotations' row index;
  annotations are indexed by their ``prompt_index`` (position in the full
  805-prompt set) so that ``max_instances`` subsets stay aligned
  (alpaca_eval#453). ``save_weights_dir=None`` keeps it from writing into
  the installed package;
* the difficulties are AlpacaEval's per prompt, so LC means something only
  when each judged instruction is the one df_gamed's index stands for:
  `lc_check` compares them (``download_prompts`` puts each index's
  instruction into the df_gamed copy) and otherwise reports LC as n/a with
  the reason, instead of computing a meaningless number, or crashing on an
  index df_gamed does not have. The win rate stands either way.

`model_metrics` adds the counts the leaderboard shows beside them (unparsed,
empty, cut, leaked templates, the judge and its identity, the audit's
position flips, how ties counted); `subset_win_rates` the win rate per source
subset, `turn_win_rates` per number of user turns of a conversation set.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pandas as pd

from ..dialogues import TURN_GROUPS, turn_group
from ..errors import AlpacaflowError
from ..io import is_blank
from ..preferences import metrics_frame, win_values
from ..template_leaks import leak_summary
from .audit import flip_percent


@contextmanager
def local_df_gamed(path: Path) -> Iterator[None]:
    """Serve alpaca_eval's ``df_gamed.csv`` download from a local file."""
    import alpaca_eval.metrics.glm_winrate as glm

    if not Path(path).is_file():
        raise AlpacaflowError(f"{path}: df_gamed file not found; the LC win rate needs it (rerun download_prompts)")
    original = glm.hf_hub_download

    def offline_download(*args: Any, filename: str, **kwargs: Any) -> str:
        if filename == "df_gamed.csv":
            return str(path)
        raise AlpacaflowError(f"alpaca_eval asked for {filename}, which alpacaflow does not provide offline")

    glm.hf_hub_download = offline_download
    try:
        yield
    finally:
        glm.hf_hub_download = original


def lc_check(frame: pd.DataFrame, df_gamed: Path) -> str | None:
    """Why the LC win rate does not apply to these annotations (indexed by prompt index), or None when it does.

    LC applies when every judged prompt index is in df_gamed and its
    instruction is the one df_gamed's index stands for (its ``instruction``
    column, which ``download_prompts`` fills in).
    """
    if not Path(df_gamed).is_file():
        raise AlpacaflowError(f"{df_gamed}: df_gamed file not found; the LC win rate needs it (rerun download_prompts)")
    # Instructions as written: pandas would read an instruction such as "NA" or "None" as missing.
    gamed = pd.read_csv(df_gamed, converters={"instruction": str}).drop_duplicates("index").set_index("index")
    if gamed.empty:
        return "no df_gamed was given for this prompt set (prompts.df_gamed: null): no instruction difficulties"
    outside = frame.index.difference(gamed.index)
    if len(outside):
        return (
            f"prompt index {outside[0]} is not among df_gamed's {len(gamed)} prompts, so it has no instruction "
            "difficulty (a prompt set that is not the one df_gamed was made for)"
        )
    if "instruction" not in gamed.columns:
        return (
            "df_gamed does not say which instruction each of its indices is, so nothing shows that this prompt set "
            "is the one it was made for (set prompts.lc_instructions to that prompt file)"
        )
    differ = frame["instruction"].to_numpy() != gamed.loc[frame.index, "instruction"].to_numpy()
    if differ.any():
        return (
            f"{int(differ.sum())} of {len(frame)} judged instructions are not the instruction at their index in the "
            f"prompt set df_gamed was made for (e.g. prompt {frame.index[differ.argmax()]}): its instruction "
            "difficulties do not apply to a custom prompt set"
        )
    return length_spread_check(frame)


def length_spread_check(frame: pd.DataFrame) -> str | None:
    """Why alpaca_eval's GLM gives no number for these pairs' length differences, or None when it does.

    The GLM divides each pair's length difference by their standard deviation:
    where every difference is 0 (e.g. a model judged against a twin's identical
    outputs), there is one pair, or an output is not text, its feature is NaN
    and alpaca_eval fails inside patsy ("cannot reindex on an axis with
    duplicate labels") instead of giving a number.
    """
    delta = frame["output_1"].str.len() - frame["output_2"].str.len()
    if delta.isna().any():
        return "an output is not text, so its length difference is undefined"
    if len(delta) < 2:
        return "one judged pair: its length difference has no spread for the GLM to standardize"
    if (delta == 0).all():
        return (
            "both outputs have the same length in every pair (e.g. a model judged against a twin's identical "
            "outputs): no length difference for the GLM to standardize"
        )
    return None


def _lc_not_applicable(frame: pd.DataFrame, reason: str) -> dict[str, Any]:
    from alpaca_eval.metrics import get_winrate

    return {**get_winrate(frame), "length_controlled_winrate": math.nan, "lc_standard_error": math.nan,
            "lc_note": f"n/a: {reason}"}  # fmt: skip


def avg_length(outputs: list[Any]) -> int:
    """alpaca_eval's ``avg_length``: ``int`` of the mean number of characters of the outputs (blank counts 0)."""
    return int(pd.Series([o if isinstance(o, str) else "" for o in outputs]).str.len().mean())


def model_metrics(records: list[dict[str, Any]], df_gamed: Path, source: str, ties: str = "half") -> dict[str, Any]:
    """Win rate, LC win rate (or why it is n/a) and counts for one model's annotations, ties counted as `ties` says."""
    from alpaca_eval.metrics import get_length_controlled_winrate

    parsed = metrics_frame(records, source)
    frame = metrics_frame(records, source, ties)
    if parsed.empty:
        raise AlpacaflowError(f"{source}: no parsed judgment to compute a win rate from")
    if frame.empty:
        raise AlpacaflowError(
            f"{source}: no judgment that is not a tie (ties: exclude) to compute a win rate from: all "
            f"{len(parsed)} are ties (identical outputs, e.g. a model against its twin, are always ties); "
            "ties: half counts them as half a win"
        )
    reason = lc_check(frame, df_gamed)
    if reason is None:
        with local_df_gamed(df_gamed):
            metrics = get_length_controlled_winrate(frame, save_weights_dir=None, is_add_glm_preference_inplace=False)
        metrics["lc_note"] = ""
    else:
        metrics = _lc_not_applicable(frame, reason)
    metrics = {k: (v.item() if hasattr(v, "item") else v) for k, v in metrics.items()}
    metrics["ties"], metrics["ties_excluded"] = ties, len(parsed) - len(frame)
    metrics["unparsed"] = len(records) - len(parsed)
    metrics["empty_outputs"] = sum(is_blank(r["output_2"]) for r in records)
    metrics["truncated_for_judge"] = sum(bool(r.get("truncated_for_judge")) for r in records)
    metrics["avg_length"] = avg_length([r["output_2"] for r in records])
    leaks = leak_summary([r["output_2"] for r in records])
    metrics["leaked_template"], metrics["think_opening"] = leaks["leaked_template"], leaks["think_opening"]
    metrics["judge"] = ", ".join(sorted(frame["annotator"].astype(str).unique()))
    metrics["judge_identity"] = ", ".join(
        sorted({str(r["judge_identity"]) for r in records if r.get("judge_identity")})
    )
    metrics["position_flips"] = flip_percent(records)
    return metrics


#: A 95% interval is the estimate ± this many standard errors (alpaca_eval's normal approximation).
Z95 = 1.96


def subset_win_rates(frames: dict[str, pd.DataFrame]) -> pd.DataFrame:
    """Win rate (%) and its standard error per model and source subset."""
    rows = []
    for model, frame in frames.items():
        for dataset, group in frame.groupby("dataset", sort=True):
            se = group["win"].sem() if len(group) > 1 else float("nan")
            rows.append({"model": model, "dataset": dataset, "n": len(group),
                         "win_rate": 100 * group["win"].mean(), "standard_error": 100 * se})  # fmt: skip
    return pd.DataFrame(rows, columns=["model", "dataset", "n", "win_rate", "standard_error"])


TURN_COLUMNS = ["model", "reference", "turns", "n", "win_rate", "standard_error"]


def turn_win_rates(pairs: list[tuple[str, str, list[dict[str, Any]]]], turns: pd.Series, ties: str) -> pd.DataFrame:
    """Win rate (%) and its standard error per (model, reference) and number of user turns (1, 2, 3+).

    `pairs` holds each pair's (model, reference, annotations); `turns` maps
    a prompt index to its user turns (`dialogues.user_turns`; 1 for an
    instruction). Ties count as `ties` says (`preferences.without_ties`).
    """
    rows = []
    for model, reference, records in pairs:
        frame = metrics_frame(records, f"{model} vs {reference}", ties)
        groups = frame.index.map(lambda i: turn_group(int(turns.loc[i])))
        wins = win_values(frame["preference"])
        for group in TURN_GROUPS:
            chosen = wins[groups == group]
            if chosen.empty:
                continue
            se = chosen.sem() if len(chosen) > 1 else float("nan")
            rows.append({"model": model, "reference": reference, "turns": group, "n": len(chosen),
                         "win_rate": 100 * chosen.mean(), "standard_error": 100 * se})  # fmt: skip
    return pd.DataFrame(rows, columns=TURN_COLUMNS)
