"""The history of evaluations: ``results/history.parquet``, one row per leaderboard row and evaluation.

A leaderboard row is a (model, reference) pair on AlpacaEval, a (model,
baseline) pair on one Arena-Hard version and category, or a model on MT-Bench
(overall or one category). Its columns
(`HISTORY_COLUMNS`), its reader (`read_history`, which also reads histories
written before the later columns were kept: their rows are AlpacaEval's) and `append`, which
adds the rows not equal to an earlier one in everything but their time and
never rewrites a row. The history step writes it; the report reads it.
"""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd

from .board import ALL_COLUMNS
from .errors import AlpacaflowError
from .io import read_parquet, write_parquet

#: What identifies one evaluation of one pair (every column but the time and the metrics).
KEY_COLUMNS = ["alpacaflow_commit", "settings_hash", "prompts_sha256", "judge", "model", "reference", "weights",
               "outputs_sha256", "alpacaflow_version", "judge_identity", "prompt_date", "benchmark",
               "category"]  # fmt: skip
#: The leaderboard's numbers each row keeps: AlpacaEval's, then Arena-Hard's, then MT-Bench's (blank where a
#: benchmark has none).
ALPACA_METRICS = ["win_rate", "standard_error", "length_controlled_winrate", "lc_standard_error", "n_wins",
                  "n_wins_base", "n_draws", "n_total", "avg_length", "unparsed", "leaked_template"]  # fmt: skip
ARENA_METRICS = ["score", "score_ci_low", "score_ci_high", "style_score", "style_ci_low", "style_ci_high", "battles",
                 "null_games"]  # fmt: skip
#: MT-Bench's: the mean ratings of each turn, the Average and its interval.
MT_BENCH_METRICS = ["turn1", "turn2", "average", "average_ci_low", "average_ci_high"]
METRIC_COLUMNS = [*ALPACA_METRICS, *ARENA_METRICS, *MT_BENCH_METRICS]
#: Columns that histories written before them lack; their earlier rows read as null (``benchmark``: AlpacaEval).
LATER_COLUMNS = ["alpacaflow_version", "judge_identity", "prompt_date", "benchmark", "category", *ARENA_METRICS,
                 *MT_BENCH_METRICS]  # fmt: skip
HISTORY_COLUMNS = ["time", *KEY_COLUMNS, *METRIC_COLUMNS]
assert set(METRIC_COLUMNS) <= set(ALL_COLUMNS)


def identity(row: pd.Series) -> str:
    """Everything of a row but its time, comparable (missing numbers as null)."""
    return json.dumps([None if pd.isna(row[c]) else row[c] for c in HISTORY_COLUMNS[1:]], default=str)


def read_history(history: Path) -> pd.DataFrame:
    """The history's rows (none when there is no file yet)."""
    old = read_parquet(history) if Path(history).exists() else pd.DataFrame(columns=HISTORY_COLUMNS)
    missing = set(HISTORY_COLUMNS) - set(old.columns) - set(LATER_COLUMNS)
    if missing:
        raise AlpacaflowError(f"{history}: not an alpacaflow history (no {sorted(missing)}); move it away")
    if "benchmark" not in old.columns:
        old = old.assign(benchmark="alpaca_eval")
    return old.reindex(columns=[*old.columns, *(c for c in LATER_COLUMNS if c not in old.columns)])


def append(history: Path, rows: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Append the `rows` not equal (time aside) to an earlier row: (rows appended, the rows now standing).

    The rows now standing are `rows`, each with the time of the earlier row it equals, if any.
    """
    old = read_history(history)
    first_seen: dict[str, str] = {}
    for _, r in old.iterrows():
        first_seen.setdefault(identity(r), r["time"])
    identities = [identity(r) for _, r in rows.iterrows()]
    fresh = rows[[i not in first_seen for i in identities]]
    if len(fresh):
        combined = pd.concat([old[HISTORY_COLUMNS], fresh], ignore_index=True) if len(old) else fresh
        write_parquet(history, combined)
    current = rows.assign(time=[first_seen.get(i, t) for i, t in zip(identities, rows["time"], strict=True)])
    return fresh, current
