"""The history step: each evaluation appends one row per (model, reference) to ``results/history.parquet``.

One evaluation's leaderboard forgets the last one; the history keeps them.
A row holds the time, alpacaflow's commit and version, a hash of the settings that shape
the numbers (the judge settings that change a judgment, the model's
resolved settings, and the reference), the prompt set's SHA-256, the judge
and its identity (what its annotations recorded: weights fingerprint, hub
commit or the model an API reported), the reference, what identifies the
model (its weights fingerprint, and its outputs' SHA-256, which imported
outputs have alone), the date its chat prompts were rendered with, and the
metrics. Two rows with different judges are never compared silently: the
report marks a judge change between a pair's rows.

Rows are never rewritten (`history_table.append`). Snakemake deletes a
job's declared outputs before the job runs, so the history is not one: the
declared output is ``history_appended.json``, the rows this evaluation
added (or none), which the report reads after it.
"""

from __future__ import annotations

import json
import math
from datetime import datetime, timezone
from pathlib import Path
from typing import Annotated, Any

import pandas as pd

from .. import __version__
from ..board import read_leaderboard
from ..history_table import HISTORY_COLUMNS, METRIC_COLUMNS, append
from ..io import JSON, git_commit, jsonable, read_throughput, sha256_of, write_json
from ..judge_settings import judge_name


def new_rows(
    board: pd.DataFrame,
    settings_hashes: dict[tuple[str, str], str],
    throughputs: dict[str, dict[str, Any]],
    outputs_sha256: dict[str, str],
    meta: dict[str, Any],
    judge: dict[str, Any],
    now: str,
) -> pd.DataFrame:
    """The rows of this evaluation: one per leaderboard row (model, reference)."""
    commit = git_commit() or ""
    rows = []
    for _, row in board.iterrows():
        model, reference = row["model"], row["reference"]
        weights = throughputs[model].get("weights")
        rows.append(
            {
                "time": now,
                "alpacaflow_commit": commit,
                "settings_hash": settings_hashes[(model, reference)],
                "prompts_sha256": meta["sha256"],
                "judge": judge_name(judge),
                "model": model,
                "reference": reference,
                "weights": json.dumps(weights, sort_keys=True) if weights else "",
                "outputs_sha256": outputs_sha256[model],
                "alpacaflow_version": __version__,
                "judge_identity": "" if pd.isna(row["judge_identity"]) else str(row["judge_identity"]),
                "prompt_date": throughputs[model].get("prompt_date") or "",
                **{k: _number(row[k]) for k in METRIC_COLUMNS},
            }
        )
    return pd.DataFrame(rows, columns=HISTORY_COLUMNS)


def _number(value: Any) -> float | None:
    return None if value is None or (isinstance(value, float) and math.isnan(value)) else float(value)


def run(
    *,
    leaderboard: Path,
    settings: Annotated[dict[str, str], JSON],
    models: list[str],
    throughputs: list[Path],
    outputs: list[Path],
    meta: Path,
    judge: Annotated[dict[str, Any], JSON],
    history: Path,
    appended: Path,
) -> None:
    """The history step: append this evaluation's rows to `history`; write the appended rows to `appended`.

    `settings` maps "model|reference" to the hash of that pair's settings;
    `models`, `throughputs` and `outputs` run in parallel, one per model.
    """
    board = read_leaderboard(leaderboard, None)
    hashes = {tuple(key.split("|", 1)): value for key, value in settings.items()}
    rows = new_rows(
        board,
        hashes,  # type: ignore[arg-type]
        {m: read_throughput(p) for m, p in zip(models, throughputs, strict=True)},
        {m: sha256_of(p) for m, p in zip(models, outputs, strict=True)},
        json.loads(Path(meta).read_text(encoding="utf-8")),
        judge,
        datetime.now(timezone.utc).isoformat(timespec="seconds"),
    )
    fresh, current = append(history, rows)
    records = {k: [jsonable(r) for r in v.to_dict(orient="records")] for k, v in (("appended", fresh),
                                                                                  ("current", current))}  # fmt: skip
    write_json(appended, {"history": str(history), **records})
    print(f"{history}: {len(fresh)} row(s) appended, {len(rows) - len(fresh)} equal to earlier rows")
