"""The leaderboard table: its columns, its reader and its Markdown form.

``leaderboard.csv`` (the leaderboard step) has one row per (model,
reference) with alpaca_eval's numbers (`metrics.winrate`) and the counts
beside them. Every step that reads it reads it here (`read_leaderboard`),
and every Markdown leaderboard (leaderboard.md, the report) is
`leaderboard_markdown`.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import pandas as pd

from .config import ALPACA_EVAL, BENCHMARK_PREFIX, MT_BENCH, PROMPT_REFERENCE
from .errors import AlpacaflowError

#: The leaderboard's columns from each model's throughput.json.
SPEED_COLUMNS = ["examples_per_second", "output_tokens_per_second"]


LEADERBOARD_COLUMNS = [
    "model",
    "reference",
    "win_rate",
    "standard_error",
    "length_controlled_winrate",
    "lc_standard_error",
    "lc_note",
    "n_wins",
    "n_wins_base",
    "n_draws",
    "n_total",
    "ties",
    "ties_excluded",
    "avg_length",
    "judge",
    "judge_identity",
    "unparsed",
    "empty_outputs",
    "truncated_for_judge",
    "leaked_template",
    "think_opening",
    "position_flips",
    *SPEED_COLUMNS,
]
#: Every row's benchmark (``alpaca_eval``, ``arena_hard-v0.1``, ``mt_bench``) and a benchmark's own columns.
#: Arena-Hard-Auto: one row per category, its bootstrapped score and 90% interval, the style-controlled score and
#: interval, battles, questions left out for a missing label.
#: MT-Bench (``mt_bench``): a row per model (no category) and per (model, category): the mean rating of turn 1,
#: of turn 2, FastChat's Average (both turns' ratings pooled) and its 95% bootstrap interval.
BENCHMARK_COLUMNS = ["benchmark", "category", "score", "score_ci_low", "score_ci_high", "style_score", "style_ci_low",
                     "style_ci_high", "battles", "null_games", "turn1", "turn2", "average", "average_ci_low",
                     "average_ci_high"]  # fmt: skip
ALL_COLUMNS = [*LEADERBOARD_COLUMNS, *BENCHMARK_COLUMNS]
#: Counts: whole numbers, blank where a benchmark has none (one benchmark's rows never turn another's into floats).
COUNT_COLUMNS = ["n_wins", "n_wins_base", "n_draws", "n_total", "ties_excluded", "avg_length", "unparsed",
                 "empty_outputs", "truncated_for_judge", "leaked_template", "think_opening", "battles",
                 "null_games"]  # fmt: skip


#: Each benchmark's own table (results/leaderboards/<benchmark>.csv): its rows of leaderboard.csv, these columns.
#: Arena-Hard-Auto's versions share theirs (``arena_hard-<v>``).
BOARD_COLUMNS = {
    ALPACA_EVAL: LEADERBOARD_COLUMNS,
    BENCHMARK_PREFIX: ["model", "reference", "category", "score", "score_ci_low", "score_ci_high", "style_score",
                       "style_ci_low", "style_ci_high", "battles", "null_games", "n_total", "judge", "judge_identity",
                       "truncated_for_judge", *SPEED_COLUMNS],
    MT_BENCH: ["model", "category", "turn1", "turn2", "average", "average_ci_low", "average_ci_high", "n_total",
               "unparsed", "judge", "judge_identity", "truncated_for_judge", *SPEED_COLUMNS],
}  # fmt: skip


def benchmark_board(table: pd.DataFrame, benchmark: str) -> pd.DataFrame:
    """One benchmark's rows of the leaderboard with only its columns (`BOARD_COLUMNS`), counts as whole numbers."""
    kind = BENCHMARK_PREFIX if benchmark.startswith(BENCHMARK_PREFIX) else benchmark
    if kind not in BOARD_COLUMNS:
        raise AlpacaflowError(f"no leaderboard columns for benchmark {benchmark!r} (known: {', '.join(BOARD_COLUMNS)})")
    rows = table[table["benchmark"] == benchmark]
    return whole_counts(rows.reindex(columns=BOARD_COLUMNS[kind]).reset_index(drop=True))


def whole_counts(table: pd.DataFrame) -> pd.DataFrame:
    """`table` with its count columns as nullable integers (written ``10``, or blank; not ``10.0``)."""
    found = [c for c in COUNT_COLUMNS if c in table.columns]
    return table.astype({c: "Int64" for c in found})


def read_leaderboard(
    path: Path, reference: str | None = PROMPT_REFERENCE, benchmark: str | None = "alpaca_eval"
) -> pd.DataFrame:
    """leaderboard.csv's rows of one benchmark and one reference, in their order.

    The benchmark defaults to AlpacaEval's, the reference to the prompt set's
    own; None takes all. Only empty cells are missing values: a model named
    ``NA`` stays a name.
    A leaderboard written before the ``benchmark`` column is all AlpacaEval's (its benchmark columns blank).
    """
    board = pd.read_csv(path, keep_default_na=False, na_values=[""])
    if "reference" not in board.columns:
        raise AlpacaflowError(f"{path}: no reference column; rerun the leaderboard step")
    if "benchmark" not in board.columns:
        board = board.assign(benchmark="alpaca_eval")
        board = board.reindex(columns=[*board.columns, *(c for c in BENCHMARK_COLUMNS if c not in board.columns)])
    if benchmark is not None:
        board = board[board["benchmark"] == benchmark]
    board = (board if reference is None else board[board["reference"] == reference]).reset_index(drop=True)
    whole = [c for c in COUNT_COLUMNS if c in board.columns and board[c].notna().all()]
    return board.astype({c: int for c in whole})


def judge_identities(board: pd.DataFrame) -> list[str]:
    """Every judge identity the leaderboard's annotations recorded (weights fingerprint, hub commit or API model)."""
    return sorted({part for cell in board["judge_identity"].dropna() for part in str(cell).split(", ") if part})


def _fmt(value: Any, digits: int = 2) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "n/a"
    if isinstance(value, float):
        return f"{value:.{digits}f}"
    return str(value)


def _pm(value: Any, error: Any) -> str:
    """A value with its standard error, or n/a."""
    return "n/a" if _fmt(value) == "n/a" else f"{_fmt(value)} ± {_fmt(error)}"


def lc_notes(table: pd.DataFrame) -> list[str]:
    """One sentence per reason that LC is n/a, naming the models it applies to."""
    notes: dict[str, list[str]] = {}
    for row in table.itertuples():
        if isinstance(row.lc_note, str) and row.lc_note:
            notes.setdefault(row.lc_note.removeprefix("n/a: "), []).append(row.model)
    return [
        f"The LC win rate is n/a for {', '.join(models)}: {reason}. The win rate does not depend on df_gamed "
        "and stands."
        for reason, models in notes.items()
    ]


def leaderboard_markdown(table: pd.DataFrame) -> str:
    """The leaderboard of one reference as a Markdown table (percentages with their standard errors).

    With a judge audit (some ``position_flips``), a column says how often each pair's winner changed with the order.
    """
    audited = bool(table["position_flips"].notna().any())
    header = (
        "| model | LC win rate (%) | win rate (%) | wins / draws / losses | n | avg length (chars) "
        f"| judge | unparsed | leaked template |{' position flips (%) |' if audited else ''} examples/s "
        f"| output tokens/s |\n|---|---|---|---|---|---|---|---|---|{'---|' if audited else ''}---|---|\n"
    )
    lines = []
    for r in table.itertuples():
        flips = f" {_fmt(r.position_flips, 1)} |" if audited else ""
        lines.append(
            f"| {r.model} | {_pm(r.length_controlled_winrate, r.lc_standard_error)} "
            f"| {_pm(r.win_rate, r.standard_error)} | {_fmt(r.n_wins, 1)} / {_fmt(r.n_draws, 1)} / "
            f"{_fmt(r.n_wins_base, 1)} | {r.n_total} | {r.avg_length} | {r.judge} | {r.unparsed} | {r.leaked_template} "
            f"|{flips} {_fmt(r.examples_per_second)} | {_fmt(r.output_tokens_per_second, 1)} |"
        )
    notes = [*lc_notes(table), *ties_note(table)]
    return header + "\n".join(lines) + "\n" + "".join(f"\n{note}\n" for note in notes)


def ties_note(table: pd.DataFrame) -> list[str]:
    """The sentence that says how ties counted in these rows' win rates (none for a leaderboard without ``ties``)."""
    if "ties" not in table.columns or table["ties"].isna().all():
        return []
    if (table["ties"] == "exclude").any():
        left = ", ".join(f"{r.model} {_fmt(r.ties_excluded, 0)}" for r in table.itertuples())
        return [f"Ties are left out of these win rates (ties: exclude); judgments left out as ties: {left}."]
    return ["Ties count as half a win (ties: half, alpaca_eval's rule)."]


def head_to_head_rows(table: pd.DataFrame) -> pd.Series:
    """Which of leaderboard.csv's rows are Arena-Hard head to head: against another model of the run, not a baseline."""
    return (table["benchmark"] != "alpaca_eval") & table["reference"].isin(set(table["model"]))


def arena_markdown(table: pd.DataFrame) -> str:
    """One Arena-Hard version's rows as Markdown: a table per category, the score with its 90% interval."""
    parts = []
    for category, rows in table.groupby("category", sort=False):
        baseline = ", ".join(dict.fromkeys(rows["reference"].astype(str)))
        title = f"Category {category} (baseline {baseline}):\n\n" if table["category"].nunique() > 1 else ""
        parts.append(title + _arena_table(rows))
    return "\n".join(parts)


def _arena_table(table: pd.DataFrame) -> str:
    lines = ["| model | score (%) | 90% interval | style-controlled (%) | 90% interval | battles "
             "| questions left out (no label) | judge |", "|---|---|---|---|---|---|---|---|"]  # fmt: skip
    for r in table.itertuples():
        lines.append(f"| {r.model} | {_fmt(r.score, 1)} | {_interval(r.score, r.score_ci_low, r.score_ci_high)} "
                     f"| {_fmt(r.style_score, 1)} | {_interval(r.style_score, r.style_ci_low, r.style_ci_high)} "
                     f"| {_fmt(r.battles, 0)} | {_fmt(r.null_games, 0)} | {r.judge} |")  # fmt: skip
    return "\n".join(lines) + "\n"


def _interval(score: float, low: float, high: float) -> str:
    """A 90% interval as the official tables write it: ``(-below / +above)``; n/a without a score."""
    return "n/a" if pd.isna(score) else f"(-{score - low:.1f} / +{high - score:.1f})"


def mt_bench_markdown(table: pd.DataFrame) -> str:
    """MT-Bench's rows as Markdown: each model's turn-1, turn-2 and Average scores, then the Average per category."""
    overall = table[table["category"].isna()]
    lines = ["| model | turn 1 | turn 2 | Average | 95% interval | questions | unparsed ratings | judge |",
             "|---|---|---|---|---|---|---|---|"]  # fmt: skip
    for r in overall.itertuples():
        interval = "n/a" if pd.isna(r.average) else f"{r.average_ci_low:.2f} to {r.average_ci_high:.2f}"
        lines.append(f"| {r.model} | {_fmt(r.turn1)} | {_fmt(r.turn2)} | {_fmt(r.average)} | {interval} "
                     f"| {_fmt(r.n_total, 0)} | {_fmt(r.unparsed, 0)} | {r.judge} |")  # fmt: skip
    by_category = category_table(table)
    if by_category.empty:
        return "\n".join(lines) + "\n"
    header = "| model | " + " | ".join(by_category.columns) + " |"
    rows = [f"| {m} | " + " | ".join(_fmt(v) for v in values) + " |" for m, values in by_category.iterrows()]
    return "\n".join(lines) + "\n\nAverage per category:\n\n" + "\n".join(
        [header, "|---|" + "---|" * len(by_category.columns), *rows]) + "\n"  # fmt: skip


def category_table(table: pd.DataFrame) -> pd.DataFrame:
    """MT-Bench's Average per category: a model per row (leaderboard order), a category per column."""
    parts = table[table["category"].notna()]
    if parts.empty:
        return pd.DataFrame()
    order = list(dict.fromkeys(table["model"]))
    return parts.pivot(index="model", columns="category", values="average").reindex(order)
