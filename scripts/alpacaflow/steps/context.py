"""The context step: published AlpacaEval 2.0 leaderboard rows for models of a similar size.

The rows come from the leaderboard CSVs that ship with alpaca_eval
(``alpaca_eval/leaderboards/data_AlpacaEval_2/<judge>_leaderboard.csv``; the
file name names the judge), so no network is needed. A row is comparable
with ours only when it was judged by the same annotator and against the
same reference; otherwise it is marked ``not comparable``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import pandas as pd

from ..errors import AlpacaflowError
from ..io import JSON, atomic_path, load_prompt_table

CONTEXT_COLUMNS = [
    "model",
    "length_controlled_winrate",
    "lc_standard_error",
    "win_rate",
    "standard_error",
    "avg_length",
    "n_total",
    "judge",
    "comparable",
]


def leaderboard_dir() -> Path:
    import alpaca_eval

    return Path(alpaca_eval.__file__).parent / "leaderboards" / "data_AlpacaEval_2"


def published_rows(names: list[str], folder: Path | None = None) -> pd.DataFrame:
    """Rows for `names` from every AlpacaEval 2.0 leaderboard CSV in `folder`, with the judge named."""
    folder = folder or leaderboard_dir()
    tables = []
    for csv in sorted(folder.glob("*_leaderboard.csv")):
        table = pd.read_csv(csv).rename(columns={"Unnamed: 0": "model"})
        table["judge"] = csv.name.removesuffix("_leaderboard.csv")
        tables.append(table[table["model"].isin(names)])
    if not tables:
        raise AlpacaflowError(f"{folder}: no AlpacaEval 2.0 leaderboard CSV found in the installed alpaca_eval")
    return pd.concat(tables, ignore_index=True)


def context_rows(names: list[str], our_judge: str, our_reference: str, folder: Path | None = None) -> pd.DataFrame:
    """Published rows for `names`, marked comparable only for our judge and the official reference."""
    rows = published_rows(names, folder)
    official_reference = our_reference in {"gpt4_turbo", "gpt4_1106_preview"}
    rows["comparable"] = (rows["judge"] == our_judge) & official_reference
    for column in CONTEXT_COLUMNS:
        if column not in rows:
            rows[column] = None
    return rows.sort_values("length_controlled_winrate", ascending=False, kind="stable")[CONTEXT_COLUMNS]


def write_context(table: pd.DataFrame, out: Path) -> None:
    with atomic_path(out) as tmp:
        table.to_csv(tmp, index=False)


def run(*, names: Annotated[list[str], JSON], judge_name: str, prompts: Path, csv: Path) -> None:
    """The context step: published rows for `names`, compared with our judge and reference."""
    reference = str(load_prompt_table(prompts)["reference_generator"].dropna().iloc[0])
    table = context_rows(names, judge_name, reference)
    write_context(table, csv)
    print(table.to_string(index=False))
