"""The leaderboard step: alpaca_eval's win rate and length-controlled win rate of every model, offline.

The numbers are alpaca_eval's own: `get_winrate` and
`get_length_controlled_winrate` (GLM ``length_controlled_v1``), and
``avg_length`` as alpaca_eval defines it (``int`` of the mean characters).
Gaps closed around them:

* the LC GLM fetches ``df_gamed.csv`` from the hub at call time; here it
  reads the copy that ``download_prompts`` fetched, so this step needs no
  network (compute nodes often have none);
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
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pandas as pd

from .config import PROMPT_REFERENCE
from .errors import AlpacaflowError
from .io import atomic_path, is_blank, read_records, read_throughput, write_text
from .judge_audit import flip_percent
from .preferences import metrics_frame
from .template_leaks import leak_summary

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
    return None


def _lc_not_applicable(frame: pd.DataFrame, reason: str) -> dict[str, Any]:
    from alpaca_eval.metrics import get_winrate

    return {**get_winrate(frame), "length_controlled_winrate": math.nan, "lc_standard_error": math.nan,
            "lc_note": f"n/a: {reason}"}  # fmt: skip


def avg_length(outputs: list[Any]) -> int:
    """alpaca_eval's ``avg_length``: ``int`` of the mean number of characters of the outputs (blank counts 0)."""
    return int(pd.Series([o if isinstance(o, str) else "" for o in outputs]).str.len().mean())


def model_metrics(records: list[dict[str, Any]], df_gamed: Path, source: str) -> dict[str, Any]:
    """Win rate, LC win rate (or why it is n/a) and counts for one model's annotations."""
    from alpaca_eval.metrics import get_length_controlled_winrate

    frame = metrics_frame(records, source)
    if frame.empty:
        raise AlpacaflowError(f"{source}: no parsed judgment to compute a win rate from")
    reason = lc_check(frame, df_gamed)
    if reason is None:
        with local_df_gamed(df_gamed):
            metrics = get_length_controlled_winrate(frame, save_weights_dir=None, is_add_glm_preference_inplace=False)
        metrics["lc_note"] = ""
    else:
        metrics = _lc_not_applicable(frame, reason)
    metrics = {k: (v.item() if hasattr(v, "item") else v) for k, v in metrics.items()}
    metrics["unparsed"] = len(records) - len(frame)
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


def build_leaderboard(
    models: list[str],
    annotations: list[Path],
    throughputs: list[Path],
    df_gamed: Path,
    references: list[str] | None = None,
) -> pd.DataFrame:
    """One row per (model, reference): the references in the order given, each sorted by LC win rate.

    `models`, `annotations` and `references` run in parallel (one entry per
    pair; references default to the prompt set's); `throughputs` has one
    file per model, in the order of the models' first appearance.
    """
    references = references or [PROMPT_REFERENCE] * len(models)
    speeds = dict(zip(dict.fromkeys(models), map(read_throughput, throughputs), strict=True))
    rows = []
    for model, reference, ann_path in zip(models, references, annotations, strict=True):
        metrics = model_metrics(read_records(ann_path), df_gamed, str(ann_path))
        speed = speeds[model]
        rows.append({"model": model, "reference": reference, **metrics, **{k: speed.get(k) for k in SPEED_COLUMNS}})
    table = pd.DataFrame(rows)
    table["_reference"] = table["reference"].map({r: i for i, r in enumerate(dict.fromkeys(references))})
    # Per reference: LC first; where it is n/a, by win rate after the others.
    order = ["length_controlled_winrate", "win_rate"]
    table = table.sort_values(order, ascending=False, kind="stable", na_position="last")
    return table.sort_values("_reference", kind="stable")[LEADERBOARD_COLUMNS].reset_index(drop=True)


def read_leaderboard(path: Path, reference: str | None = PROMPT_REFERENCE) -> pd.DataFrame:
    """leaderboard.csv's rows against one reference (default: the prompt set's own; None: all), in their order.

    Only empty cells are missing values: a model named ``NA`` stays a name.
    """
    board = pd.read_csv(path, keep_default_na=False, na_values=[""])
    if "reference" not in board.columns:
        raise AlpacaflowError(f"{path}: no reference column; rerun the leaderboard step")
    return board if reference is None else board[board["reference"] == reference].reset_index(drop=True)


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
    notes = lc_notes(table)
    return header + "\n".join(lines) + "\n" + "".join(f"\n{note}\n" for note in notes)


def write_leaderboard(table: pd.DataFrame, csv_path: Path, md_path: Path) -> None:
    """Write the CSV and the Markdown form (the prompt set's references first, then one section per model)."""
    with atomic_path(csv_path) as tmp:
        table.to_csv(tmp, index=False)
    parts = []
    for reference, rows in table.groupby("reference", sort=False):
        if reference != PROMPT_REFERENCE:
            parts.append(f"\n## Head to head: against {reference}\n\n")
        parts.append(leaderboard_markdown(rows))
    write_text(md_path, "".join(parts))


def run(
    *,
    models: list[str],
    annotations: list[Path],
    throughputs: list[Path],
    df_gamed: Path,
    csv: Path,
    md: Path,
    reference: list[str] | None = None,
) -> None:
    """The leaderboard step: one row per (model, reference), as CSV and Markdown.

    `models`, `annotations` and `reference` (default: the prompt set's) have
    one entry per judged pair; `throughputs` one per model, in the order of
    first appearance in `models`.
    """
    table = build_leaderboard(models, annotations, throughputs, df_gamed, reference)
    write_leaderboard(table, csv, md)
    print(table.to_string(index=False))
