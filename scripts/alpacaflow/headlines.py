"""Each benchmark's headline numbers per model, from leaderboard.csv: the overview's columns.

`overview_table` has one row per model and, per benchmark of the run (in the
order of ``benchmarks``), its headline number with that benchmark's own
interval (`INTERVALS`): AlpacaEval's LC win rate and win rate against the
prompt set's references (± one standard error, as alpaca_eval reports them),
each Arena-Hard-Auto version's score per category against its baseline (the
official 90% bootstrap interval), MT-Bench's Average (FastChat's, with its
95% bootstrap interval) and its mean rating per turn. A model without
answers to a benchmark has blank cells there.
"""

from __future__ import annotations

import math
from typing import Any

import pandas as pd

from .board import head_to_head_rows
from .config import ALPACA_EVAL, BENCHMARK_PREFIX, MT_BENCH, PROMPT_REFERENCE

#: What each headline's interval is (by the benchmark's convention), for the report's note under the overview.
INTERVALS = {
    ALPACA_EVAL: "± one standard error (alpaca_eval's)",
    BENCHMARK_PREFIX: "90% bootstrap interval (the official show_result.py's)",
    MT_BENCH: "95% bootstrap interval over questions",
}


def _headline(model: str, name: str, value: Any, low: Any = None, high: Any = None) -> dict[str, Any]:
    return {"model": model, "headline": name, "value": value, "ci_low": low, "ci_high": high}


def alpaca_eval_headlines(board: pd.DataFrame) -> list[dict[str, Any]]:
    """LC win rate and win rate of each model against the prompt set's references, ± one standard error."""
    rows = board[(board["benchmark"] == ALPACA_EVAL) & (board["reference"] == PROMPT_REFERENCE)]
    found = []
    for row in rows.itertuples():
        lc, lc_se = row.length_controlled_winrate, row.lc_standard_error
        found.append(_headline(row.model, ALPACA_EVAL, lc, lc - lc_se, lc + lc_se))
        se = row.standard_error
        found.append(_headline(row.model, f"{ALPACA_EVAL}/win_rate", row.win_rate, row.win_rate - se,
                               row.win_rate + se))  # fmt: skip
    return found


def arena_headlines(board: pd.DataFrame, benchmark: str) -> list[dict[str, Any]]:
    """Each model's score per category against the version's baseline (``<version>/<category>`` with several)."""
    rows = board[(board["benchmark"] == benchmark) & ~head_to_head_rows(board)]
    several = rows["category"].nunique() > 1
    return [_headline(row.model, f"{benchmark}/{row.category}" if several else benchmark, row.score,
                      row.score_ci_low, row.score_ci_high) for row in rows.itertuples()]  # fmt: skip


def mt_bench_headlines(board: pd.DataFrame) -> list[dict[str, Any]]:
    """Each model's Average with its interval, then its mean rating of turn 1 and of turn 2."""
    rows = board[(board["benchmark"] == MT_BENCH) & board["category"].isna()]
    found = []
    for row in rows.itertuples():
        found.append(_headline(row.model, MT_BENCH, row.average, row.average_ci_low, row.average_ci_high))
        found += [_headline(row.model, f"{MT_BENCH}/{turn}", getattr(row, turn)) for turn in ("turn1", "turn2")]
    return found


def headlines(board: pd.DataFrame, benchmark: str) -> list[dict[str, Any]]:
    """One benchmark's headline numbers, one record per (model, headline)."""
    if benchmark == ALPACA_EVAL:
        return alpaca_eval_headlines(board)
    if benchmark == MT_BENCH:
        return mt_bench_headlines(board)
    return arena_headlines(board, benchmark)


def interval_of(headline: str) -> str:
    """What a headline's interval is (`INTERVALS`), by its benchmark."""
    benchmark = headline.split("/")[0]
    return INTERVALS[BENCHMARK_PREFIX if benchmark.startswith(BENCHMARK_PREFIX) else benchmark]


def overview_table(board: pd.DataFrame, models: list[str], benchmarks: list[str]) -> pd.DataFrame:
    """One row per model (config order), per headline three columns: ``<headline>``, ``_ci_low``, ``_ci_high``."""
    records = [r for b in benchmarks for r in headlines(board, b)]
    names = list(dict.fromkeys(r["headline"] for r in records))
    columns = ["model", *(f"{n}{suffix}" for n in names for suffix in ("", "_ci_low", "_ci_high"))]
    table = pd.DataFrame({"model": models}).reindex(columns=columns)
    for r in records:
        if r["model"] not in models:
            continue
        at = models.index(r["model"])
        for suffix, key in (("", "value"), ("_ci_low", "ci_low"), ("_ci_high", "ci_high")):
            table.loc[at, f"{r['headline']}{suffix}"] = _number(r[key])
    return table


def headline_names(table: pd.DataFrame) -> list[str]:
    """The headlines of an overview table, in order."""
    return [c for c in table.columns if c != "model" and not c.endswith(("_ci_low", "_ci_high"))]


def _number(value: Any) -> float:
    if value is None:
        return math.nan
    return float(value)


def _cell(value: Any, low: Any, high: Any) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "–"
    if low is None or high is None or (isinstance(low, float) and math.isnan(low)):
        return f"{value:.2f}"
    return f"{value:.2f} [{low:.2f}, {high:.2f}]"


def overview_markdown(table: pd.DataFrame) -> list[str]:
    """The overview as a Markdown table (each cell: the number [its interval]), then what each interval is."""
    names = headline_names(table)
    lines = ["| model | " + " | ".join(f"`{n}`" for n in names) + " |", "|---|" + "---:|" * len(names)]
    for row in table.to_dict(orient="records"):
        cells = [_cell(row[n], row[f"{n}_ci_low"], row[f"{n}_ci_high"]) for n in names]
        lines.append(f"| {row['model']} | " + " | ".join(cells) + " |")
    benchmarks = dict.fromkeys(n.split("/")[0] for n in names)
    notes = [f"`{b}`: {interval_of(b)}" for b in benchmarks]
    return [*lines, "", "Intervals: " + "; ".join(notes) + ". – : no answers to that benchmark.", ""]
