"""The leaderboard step: alpaca_eval's win rate and length-controlled win rate of every (model, reference), offline.

Each pair's numbers come from `metrics.winrate.model_metrics` (alpaca_eval's
`get_winrate` and `get_length_controlled_winrate`, with the gaps around them
closed there); the table's columns, reader and Markdown form are `board`'s.
Rows are grouped by reference (the prompt set's first), each group sorted by
LC win rate (by win rate after the others where LC is n/a).
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from ..board import ALL_COLUMNS, LEADERBOARD_COLUMNS, SPEED_COLUMNS, arena_markdown, leaderboard_markdown, whole_counts
from ..config import PROMPT_REFERENCE
from ..io import atomic_path, read_records, read_throughput, write_text
from ..metrics.arena import arena_score
from ..metrics.style import battle_table, folder_metadata, style_scores
from ..metrics.winrate import model_metrics


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
    table = table.sort_values("_reference", kind="stable")[LEADERBOARD_COLUMNS].reset_index(drop=True)
    return table.assign(benchmark="alpaca_eval").reindex(columns=ALL_COLUMNS)


def arena_rows(
    models: list[str], benchmarks: list[str], annotations: list[Path], throughputs: list[Path],
    official: dict[str, Path], *, rounds: int, seed: int,
) -> pd.DataFrame:  # fmt: skip
    """One row per (model, Arena-Hard version, category): the bootstrapped and style-controlled scores, best first.

    v0.1 has one category (``arena-hard-v0.1``); v2.0's are scored apart, each
    against its own baseline, as the official ``show_result.py`` scores them.
    `official` maps each version to its export_arena folder (the answers' style
    metadata); a category's style control is fitted over all its models at once.
    """
    rows = []
    records = {(m, b): read_records(p) for m, b, p in zip(models, benchmarks, annotations, strict=True)}
    for model, benchmark, tp in zip(models, benchmarks, throughputs, strict=True):
        speed = read_throughput(tp)
        own = records[(model, benchmark)]
        for category in dict.fromkeys(str(r["category"]) for r in own):
            rows.append({"model": model, "benchmark": benchmark, "category": category,
                         **arena_row([r for r in own if str(r["category"]) == category], rounds=rounds, seed=seed),
                         **{k: speed.get(k) for k in SPEED_COLUMNS}})  # fmt: skip
    table = pd.DataFrame(rows, columns=ALL_COLUMNS)
    style = style_rows(records, official, rounds=rounds, seed=seed)
    table = table.drop(columns=style.columns[3:]).merge(style, on=["model", "benchmark", "category"], how="left")
    order = {b: i for i, b in enumerate(dict.fromkeys(benchmarks))}
    table = table.assign(_order=table["benchmark"].map(order))[ALL_COLUMNS + ["_order"]]
    table = table.sort_values(["_order", "category", "score"], ascending=[True, True, False], kind="stable")
    return table.drop(columns="_order").reset_index(drop=True)


def style_rows(records: dict[tuple[str, str], list[dict]], official: dict[str, Path], *, rounds: int,
               seed: int) -> pd.DataFrame:  # fmt: skip
    """The style-controlled score of every (model, version, category): `metrics.style.style_scores`."""
    found = [pd.DataFrame(columns=["model", "benchmark", "category", "style_score", "style_ci_low", "style_ci_high"])]
    for benchmark in dict.fromkeys(b for _, b in records):
        version = [r for (m, b), rs in records.items() if b == benchmark for r in rs]
        metadata = folder_metadata(official[benchmark] / "model_answer")
        for category in dict.fromkeys(str(r["category"]) for r in version):
            chosen = [r for r in version if str(r["category"]) == category]
            battles = battle_table(chosen, metadata)
            if battles.empty:
                continue
            baseline = str(chosen[0]["baseline"])
            scores = style_scores(battles, baseline, rounds=rounds, seed=seed)
            found.append(scores.assign(benchmark=benchmark, category=category))
    return pd.concat(found, ignore_index=True)[found[0].columns]


def arena_row(records: list[dict], *, rounds: int, seed: int) -> dict:
    """One category's numbers: the score and interval, battles, questions, null games, its baseline and judges."""
    found = arena_score(records, rounds=rounds, seed=seed)
    return {
        "reference": ", ".join(sorted({str(r["baseline"]) for r in records})),
        "score": found["score"], "score_ci_low": found["lower"], "score_ci_high": found["upper"],
        "battles": found["battles"], "null_games": found["null_games"], "n_total": found["questions"],
        "judge": ", ".join(sorted({str(r["judge"]) for r in records})),
        "judge_identity": ", ".join(sorted({str(r["judge_identity"]) for r in records if r.get("judge_identity")})),
        "truncated_for_judge": sum(bool(r.get("truncated_for_judge")) for r in records),
    }  # fmt: skip


def write_leaderboard(table: pd.DataFrame, csv_path: Path, md_path: Path) -> None:
    """Write the CSV and the Markdown form: the prompt set's references, one section per model, then the benchmarks."""
    table = whole_counts(table)
    with atomic_path(csv_path) as tmp:
        table.to_csv(tmp, index=False)
    parts = []
    alpaca = table[table["benchmark"] == "alpaca_eval"]
    for reference, rows in alpaca.groupby("reference", sort=False):
        if reference != PROMPT_REFERENCE:
            parts.append(f"\n## Head to head: against {reference}\n\n")
        parts.append(leaderboard_markdown(rows))
    for benchmark, rows in table[table["benchmark"] != "alpaca_eval"].groupby("benchmark", sort=False):
        parts.append(f"\n## {benchmark}\n\n{arena_markdown(rows)}")
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
    arena_models: list[str] | None = None,
    arena_benchmarks: list[str] | None = None,
    arena_annotations: list[Path] | None = None,
    arena_throughputs: list[Path] | None = None,
    arena_official: list[Path] | None = None,
    arena_rounds: int = 100,
    arena_seed: int = 0,
) -> None:
    """The leaderboard step: one row per (model, reference) and per (model, Arena-Hard version), as CSV and Markdown.

    `models`, `annotations` and `reference` (default: the prompt set's) have
    one entry per judged pair; `throughputs` one per model, in the order of
    first appearance in `models`. The `arena_*` lists run in parallel, one
    entry per (model, version), with the bootstrap's rounds and seed;
    `arena_official` has export_arena's folder of each version, in order.
    """
    table = build_leaderboard(models, annotations, throughputs, df_gamed, reference)
    if arena_models:
        benchmarks = arena_benchmarks or []
        official = dict(zip(dict.fromkeys(benchmarks), arena_official or [], strict=True))
        arena = arena_rows(arena_models, benchmarks, arena_annotations or [], arena_throughputs or [], official,
                           rounds=arena_rounds, seed=arena_seed)  # fmt: skip
        table = pd.concat([table, arena], ignore_index=True)
    write_leaderboard(table, csv, md)
    print(table.to_string(index=False))
