"""The track step: the run's results logged to Weights & Biases, where fine-tuning runs are already tracked.

Runs only with ``tracking.wandb.project`` set. One W&B run per evaluation:

* its config: the judge, the prompt set and alpacaflow's version and commit
  (from ``summary.json``);
* ``leaderboard``: a table, one row per model and reference (win rate, LC
  win rate, standard errors, n, average length, examples/s), and each
  model's numbers in the run summary (``<model>/win_rate``, ...);
* each sweep's win rate and LC win rate logged against its own step metric
  ``<sweep>/step`` (`wandb.define_metric`), so that W&B plots them against
  the training step, as it plots a training loss;
* the report's figures as images.

The key comes from ``WANDB_API_KEY`` or ``wandb login``, read by wandb
itself; it is never passed, logged or written (`secrets` redacts it).
``mode: offline`` (or ``WANDB_MODE=offline``) writes the run under the
results folder for a later ``wandb sync``; the record names the run.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pandas as pd

from ..errors import AlpacaflowError
from ..io import write_json

#: Metrics of the leaderboard table (keys of summary.json's per-reference metrics), after model and reference.
TABLE_METRICS = ["win_rate", "standard_error", "length_controlled_winrate", "lc_standard_error", "n_total",
                 "avg_length"]  # fmt: skip


def leaderboard_rows(summary: dict[str, Any]) -> tuple[list[str], list[list[Any]]]:
    """(columns, rows) of the leaderboard table: one row per model and reference."""
    columns = ["model", "reference", *TABLE_METRICS, "examples_per_second"]
    rows = []
    for model, entry in summary["models"].items():
        for reference, metrics in entry["references"].items():
            speed = entry["throughput"]["examples_per_second"]
            rows.append([model, reference, *[metrics[k] for k in TABLE_METRICS], speed])
    return columns, rows


def sweep_points(table: pd.DataFrame, sweep: str) -> list[dict[str, Any]]:
    """One log entry per checkpoint: the step and both win rates, keyed under the sweep's name."""
    return [
        {
            f"{sweep}/step": int(r.step),
            f"{sweep}/win_rate": float(r.win_rate),
            f"{sweep}/lc_win_rate": None if pd.isna(r.lc_win_rate) else float(r.lc_win_rate),
        }  # fmt: skip
        for r in table.itertuples()
    ]


def run(
    *,
    summary: Path,
    sweep_tables: list[Path],
    figures: list[Path],
    project: str,
    entity: str,
    mode: str,
    run_dir: Path,
    record: Path,
) -> None:
    """The track step: log the results as one W&B run; `record` names it (id, project, mode, folder)."""
    try:
        import wandb
    except ImportError as exc:
        raise AlpacaflowError("tracking.wandb needs the wandb package (pip install -e '.[tracking]')") from exc

    data = json.loads(Path(summary).read_text(encoding="utf-8"))
    run_dir.mkdir(parents=True, exist_ok=True)
    config = {k: data[k] for k in ("judge", "prompts", "alpacaflow", "baseline")}
    try:
        wb = wandb.init(project=project, entity=entity or None, mode=mode, dir=str(run_dir), config=config,
                        job_type="alpacaflow-eval")  # fmt: skip
    except Exception as exc:  # wandb raises its own errors for login and network problems
        raise AlpacaflowError(f"W&B run could not start ({type(exc).__name__}: {str(exc).splitlines()[0]})") from exc
    columns, rows = leaderboard_rows(data)
    wb.log({"leaderboard": wandb.Table(columns=columns, data=rows)})
    for row in rows:
        for name, value in zip(columns[2:], row[2:], strict=True):
            wb.summary[f"{row[0]}/{name}"] = value
    for path in sweep_tables:
        sweep = Path(path).stem
        wb.define_metric(f"{sweep}/step")
        wb.define_metric(f"{sweep}/*", step_metric=f"{sweep}/step")
        for point in sweep_points(pd.read_csv(path), sweep):
            wb.log(point)
    wb.log({f"figures/{Path(p).stem}": wandb.Image(str(p)) for p in figures})
    wb.finish()
    write_json(record, {"project": project, "entity": entity or None, "mode": mode, "run_id": wb.id,
                        "run_dir": str(Path(wb.dir).parent)})  # fmt: skip
    print(f"logged to W&B project {project} ({mode}): run {wb.id}")
