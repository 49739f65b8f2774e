"""The history step: each evaluation appends one row per leaderboard row to ``results/history.parquet``.

A leaderboard row is a (model, reference) pair on AlpacaEval, a (model,
baseline) pair on one Arena-Hard version and category (its ``benchmark`` and
``category``; its numbers the score columns, its prompts the version's questions),
or a model on MT-Bench, overall or in one category (no reference; its numbers
the turn and Average columns).

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
from ..benchmarks import head_to_head
from ..board import read_leaderboard
from ..history_table import HISTORY_COLUMNS, METRIC_COLUMNS, append
from ..io import JSON, git_commit, jsonable, read_throughput, sha256_of, write_json
from ..judge_settings import judge_name


def new_rows(
    board: pd.DataFrame,
    settings_hashes: dict[str, str],
    throughputs: dict[str, dict[str, Any]],
    outputs_sha256: dict[str, str],
    prompts_sha256: dict[str, str],
    judge: dict[str, Any],
    now: str,
) -> pd.DataFrame:
    """The rows of this evaluation: one per leaderboard row (every benchmark's).

    `settings_hashes` is keyed by `row_key`; `outputs_sha256` by model
    (AlpacaEval's answers) and by ``model@benchmark`` (a benchmark's);
    `prompts_sha256` by benchmark.
    """
    commit = git_commit() or ""
    rows = []
    for _, row in board.iterrows():
        model, reference, benchmark = row["model"], row["reference"], row["benchmark"]
        alpaca = benchmark == "alpaca_eval"
        weights = throughputs[model].get("weights")
        rows.append(
            {
                "time": now,
                "alpacaflow_commit": commit,
                "settings_hash": settings_hashes[row_key(model, reference, benchmark, settings_hashes)],
                "prompts_sha256": prompts_sha256[benchmark],
                "judge": judge_name(judge) if alpaca else str(row["judge"]),
                "model": model,
                "reference": "" if pd.isna(reference) else reference,
                "weights": json.dumps(weights, sort_keys=True) if weights else "",
                "outputs_sha256": outputs_sha256[model if alpaca else f"{model}@{benchmark}"],
                "alpacaflow_version": __version__,
                "judge_identity": "" if pd.isna(row["judge_identity"]) else str(row["judge_identity"]),
                "prompt_date": throughputs[model].get("prompt_date") or "",
                "benchmark": benchmark,
                "category": None if alpaca or pd.isna(row["category"]) else str(row["category"]),
                **{k: _number(row[k]) for k in METRIC_COLUMNS},
            }
        )
    return pd.DataFrame(rows, columns=HISTORY_COLUMNS)


def row_key(model: str, reference: str, benchmark: str, keys: dict[str, str]) -> str:
    """What a leaderboard row's settings are keyed by among `keys`: ``model|reference`` on AlpacaEval.

    On a benchmark: ``model@benchmark/vs_reference`` head to head (`benchmarks.head_to_head`),
    else ``model@benchmark`` (against the version's baseline; its categories
    share their model's settings and answers).
    """
    if benchmark == "alpaca_eval":
        return f"{model}|{reference}"
    head = f"{model}@{head_to_head(benchmark, reference)}"
    return head if head in keys else f"{model}@{benchmark}"


def _number(value: Any) -> float | None:
    return None if value is None or (isinstance(value, float) and math.isnan(value)) else float(value)


def run(
    *,
    leaderboard: Path,
    settings: Annotated[dict[str, str], JSON],
    models: list[str],
    throughputs: list[Path],
    outputs: list[Path],
    meta: Path | None,
    judge: Annotated[dict[str, Any], JSON],
    history: Path,
    appended: Path,
    alpaca_models: list[str] | None = None,
    arena_pairs: list[str] | None = None,
    arena_outputs: list[Path] | None = None,
    benchmarks: list[str] | None = None,
    benchmark_metas: list[Path] | None = None,
) -> None:
    """The history step: append this evaluation's rows to `history`; write the appended rows to `appended`.

    `settings` maps each leaderboard row's `row_key` to the hash of its settings;
    `models` and `throughputs` run in parallel, one per model (its first benchmark's throughput.json);
    `outputs` are the AlpacaEval outputs of `alpaca_models` (default: `models`), with `meta` its prompts_meta.json
    (none and None in a run without alpaca_eval);
    `arena_pairs` (``model@arena_hard-<v>``) with `arena_outputs` (their
    answers), `benchmarks` with `benchmark_metas` (their questions' prompts_meta.json).
    """
    board = read_leaderboard(leaderboard, None, None)
    alpaca_models = models if alpaca_models is None else alpaca_models
    outputs_sha256 = {m: sha256_of(p) for m, p in zip(alpaca_models, outputs, strict=True)}
    outputs_sha256 |= {k: sha256_of(p) for k, p in zip(arena_pairs or [], arena_outputs or [], strict=True)}
    prompts_sha256 = {"alpaca_eval": json.loads(Path(meta).read_text(encoding="utf-8"))["sha256"]} if meta else {}
    prompts_sha256 |= {b: json.loads(Path(p).read_text(encoding="utf-8"))["sha256"]
                       for b, p in zip(benchmarks or [], benchmark_metas or [], strict=True)}  # fmt: skip
    rows = new_rows(
        board,
        settings,
        {m: read_throughput(p) for m, p in zip(models, throughputs, strict=True)},
        outputs_sha256,
        prompts_sha256,
        judge,
        datetime.now(timezone.utc).isoformat(timespec="seconds"),
    )
    fresh, current = append(history, rows)
    records = {k: [jsonable(r) for r in v.to_dict(orient="records")] for k, v in (("appended", fresh),
                                                                                  ("current", current))}  # fmt: skip
    write_json(appended, {"history": str(history), **records})
    print(f"{history}: {len(fresh)} row(s) appended, {len(rows) - len(fresh)} equal to earlier rows")
