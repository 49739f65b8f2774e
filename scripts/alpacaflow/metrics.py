"""The leaderboard: alpaca_eval's win rate and length-controlled win rate, offline.

The numbers are alpaca_eval's own: `get_winrate` and
`get_length_controlled_winrate` (GLM ``length_controlled_v1``). Two gaps are
closed around them:

* the LC GLM fetches ``df_gamed.csv`` from the hub at call time; here it
  reads the copy that ``download_prompts`` fetched, so this step needs no
  network (compute nodes often have none);
* the GLM looks each prompt's difficulty up by the annotations' row index;
  annotations are indexed by their ``prompt_index`` (position in the full
  805-prompt set) so that ``max_instances`` subsets stay aligned
  (alpaca_eval#453). ``save_weights_dir=None`` keeps it from writing into
  the installed package.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pandas as pd

from .errors import AlpacaflowError
from .io import atomic_path, is_blank, read_records, write_text

LEADERBOARD_COLUMNS = [
    "model",
    "win_rate",
    "standard_error",
    "length_controlled_winrate",
    "lc_standard_error",
    "n_wins",
    "n_wins_base",
    "n_draws",
    "n_total",
    "avg_length",
    "judge",
    "unparsed",
    "empty_outputs",
    "truncated_for_judge",
    "examples_per_second",
    "output_tokens_per_second",
]


def is_loss(preference: Any, discrete: bool) -> bool:
    """True when the judge preferred the reference (output_1)."""
    if is_blank(preference):
        return False
    return preference == 1.0 if discrete else preference < 1.5


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


def annotations_frame(records: list[dict[str, Any]], source: str) -> pd.DataFrame:
    """Annotations as alpaca_eval's metrics want them: in prompt order, indexed by prompt index, unparsed dropped."""
    frame = pd.DataFrame(records)
    needed = {"prompt_index", "preference", "output_1", "output_2", "generator_1", "generator_2", "annotator"}
    missing = needed - set(frame.columns)
    if missing:
        raise AlpacaflowError(f"{source}: annotations lack {sorted(missing)}")
    # Sorted: the GLM's cross-validation folds follow row order, so LC depends on it.
    frame = frame[frame["preference"].notna()].sort_values("prompt_index", kind="stable")
    frame.index = pd.Index(frame.pop("prompt_index").astype(int).to_numpy())
    return frame


def model_metrics(records: list[dict[str, Any]], df_gamed: Path, source: str) -> dict[str, Any]:
    """Win rate, LC win rate and counts for one model's annotations."""
    from alpaca_eval.metrics import get_length_controlled_winrate

    frame = annotations_frame(records, source)
    if frame.empty:
        raise AlpacaflowError(f"{source}: no parsed judgment to compute a win rate from")
    with local_df_gamed(df_gamed):
        metrics = get_length_controlled_winrate(frame, save_weights_dir=None, is_add_glm_preference_inplace=False)
    metrics = {k: (v.item() if hasattr(v, "item") else v) for k, v in metrics.items()}
    metrics["unparsed"] = len(records) - len(frame)
    metrics["empty_outputs"] = sum(is_blank(r["output_2"]) for r in records)
    metrics["truncated_for_judge"] = sum(bool(r.get("truncated_for_judge")) for r in records)
    metrics["avg_length"] = float(pd.Series([r["output_2"] or "" for r in records]).str.len().mean())
    metrics["judge"] = ", ".join(sorted(frame["annotator"].astype(str).unique()))
    return metrics


def _throughput(path: Path) -> dict[str, Any]:
    data = json.loads(Path(path).read_text())
    return {k: data.get(k) for k in ("examples_per_second", "output_tokens_per_second")}


def build_leaderboard(
    models: list[str], annotations: list[Path], throughputs: list[Path], df_gamed: Path
) -> pd.DataFrame:
    """One row per model, sorted by LC win rate."""
    rows = []
    for model, ann_path, tp_path in zip(models, annotations, throughputs, strict=True):
        metrics = model_metrics(read_records(ann_path), df_gamed, str(ann_path))
        rows.append({"model": model, **metrics, **_throughput(tp_path)})
    table = pd.DataFrame(rows)
    return table.sort_values("length_controlled_winrate", ascending=False, kind="stable")[LEADERBOARD_COLUMNS]


def _fmt(value: Any, digits: int = 2) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "n/a"
    if isinstance(value, float):
        return f"{value:.{digits}f}"
    return str(value)


def leaderboard_markdown(table: pd.DataFrame) -> str:
    """The leaderboard as a Markdown table (percentages with their standard errors)."""
    header = (
        "| model | LC win rate (%) | win rate (%) | wins / draws / losses | n | avg length (chars) "
        "| judge | unparsed | examples/s | output tokens/s |\n"
        "|---|---|---|---|---|---|---|---|---|---|\n"
    )
    lines = []
    for r in table.itertuples():
        lines.append(
            f"| {r.model} | {_fmt(r.length_controlled_winrate)} ± {_fmt(r.lc_standard_error)} "
            f"| {_fmt(r.win_rate)} ± {_fmt(r.standard_error)} | {_fmt(r.n_wins, 1)} / {_fmt(r.n_draws, 1)} / "
            f"{_fmt(r.n_wins_base, 1)} | {r.n_total} | {_fmt(r.avg_length, 0)} | {r.judge} | {r.unparsed} "
            f"| {_fmt(r.examples_per_second)} | {_fmt(r.output_tokens_per_second, 1)} |"
        )
    return header + "\n".join(lines) + "\n"


def write_leaderboard(table: pd.DataFrame, csv_path: Path, md_path: Path) -> None:
    """Write the CSV and Markdown forms."""
    with atomic_path(csv_path) as tmp:
        table.to_csv(tmp, index=False)
    write_text(md_path, leaderboard_markdown(table))
