"""The leaderboard step: alpaca_eval's win rate and length-controlled win rate of every (model, reference), offline.

With benchmarks beside AlpacaEval, their rows follow: Arena-Hard-Auto's
scores (`arena_rows`) and MT-Bench's ratings (`mt_bench_rows`).

Each pair's numbers come from `metrics.winrate.model_metrics` (alpaca_eval's
`get_winrate` and `get_length_controlled_winrate`, with the gaps around them
closed there); the table's columns, reader and Markdown form are `board`'s.
Rows are grouped by reference (the prompt set's first), each group sorted by
LC win rate (by win rate after the others where LC is n/a).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd

from ..benchmarks import split_reference
from ..board import (
    ALL_COLUMNS,
    LEADERBOARD_COLUMNS,
    SPEED_COLUMNS,
    arena_markdown,
    benchmark_board,
    head_to_head_rows,
    leaderboard_markdown,
    mt_bench_markdown,
    whole_counts,
)
from ..config import MT_BENCH, PROMPT_REFERENCE
from ..io import atomic_path, load_prompt_table, read_records, read_throughput, write_text
from ..metrics.arena import arena_score
from ..metrics.mt_bench import average_interval, scores
from ..metrics.style import battle_table, folder_metadata, style_scores
from ..metrics.winrate import model_metrics, turn_win_rates


def build_leaderboard(
    models: list[str],
    annotations: list[Path],
    throughputs: list[Path],
    df_gamed: Path | None,
    references: list[str] | None = None,
    ties: str = "half",
    *,
    records: list[list[dict[str, Any]]] | None = None,
) -> pd.DataFrame:
    """One row per (model, reference): the references in the order given, each sorted by LC win rate.

    `models`, `annotations` and `references` run in parallel (one entry per
    pair; references default to the prompt set's); `throughputs` has one
    file per model, in the order of the models' first appearance; ties count as `ties` says.
    `records`: the annotations already read (one list per file), else they are read here.
    """
    if not models:  # a run without alpaca_eval
        return pd.DataFrame(columns=ALL_COLUMNS)
    references = references or [PROMPT_REFERENCE] * len(models)
    speeds = dict(zip(dict.fromkeys(models), map(read_throughput, throughputs), strict=True))
    records = records if records is not None else [read_records(p) for p in annotations]
    rows = []
    for model, reference, ann_path, judged in zip(models, references, annotations, records, strict=True):
        metrics = model_metrics(judged, df_gamed, str(ann_path), ties)
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
    models: list[str], references: list[str], annotations: list[Path], throughputs: list[Path],
    official: dict[str, Path], *, rounds: int, seed: int,
) -> pd.DataFrame:  # fmt: skip
    """One row per (model, Arena-Hard version, category, baseline): the bootstrapped and style-controlled scores.

    A pair's reference is the version (``arena_hard-v0.1``: against its
    baseline) or ``arena_hard-v0.1/vs_<model>`` (head to head: that model's
    answers are the baseline). v0.1 has one category (``arena-hard-v0.1``);
    v2.0's are scored apart, each against its own baseline, as the official
    ``show_result.py`` scores them. `official` maps each version to its
    export_arena folder (the answers' style metadata); a category's style
    control is fitted over all the models judged against the same baseline at once.
    Rows come by version, the baseline's before head to head, then by category, best first.
    """
    rows = []
    records = {(m, r): read_records(p) for m, r, p in zip(models, references, annotations, strict=True)}
    for model, reference, tp in zip(models, references, throughputs, strict=True):
        speed = read_throughput(tp)
        own = records[(model, reference)]
        for category in dict.fromkeys(str(r["category"]) for r in own):
            rows.append({"model": model, "benchmark": split_reference(reference)[0], "category": category,
                         **arena_row([r for r in own if str(r["category"]) == category], rounds=rounds, seed=seed),
                         "_pair": reference, **{k: speed.get(k) for k in SPEED_COLUMNS}})  # fmt: skip
    table = pd.DataFrame(rows, columns=[*ALL_COLUMNS, "_pair"])
    style = style_rows(records, official, rounds=rounds, seed=seed)
    table = table.drop(columns=style.columns[3:]).merge(style, on=["model", "_pair", "category"], how="left")
    benchmarks = {b: i for i, b in enumerate(dict.fromkeys(split_reference(r)[0] for r in references))}
    pairs = {r: i for i, r in enumerate(dict.fromkeys(references))}
    table = table.assign(_order=table["benchmark"].map(benchmarks), _head=table["_pair"].map(pairs))
    table = table.sort_values(["_order", "_head", "category", "score"], ascending=[True, True, True, False],
                              kind="stable")  # fmt: skip
    return table[ALL_COLUMNS].reset_index(drop=True)


def style_rows(records: dict[tuple[str, str], list[dict]], official: dict[str, Path], *, rounds: int,
               seed: int) -> pd.DataFrame:  # fmt: skip
    """The style-controlled score of every (model, pair reference, category): `metrics.style.style_scores`."""
    found = [pd.DataFrame(columns=["model", "_pair", "category", "style_score", "style_ci_low", "style_ci_high"])]
    for pair in dict.fromkeys(r for _, r in records):
        judged = [r for (m, p), rs in records.items() if p == pair for r in rs]
        metadata = folder_metadata(official[split_reference(pair)[0]] / "model_answer")
        for category in dict.fromkeys(str(r["category"]) for r in judged):
            chosen = [r for r in judged if str(r["category"]) == category]
            battles = battle_table(chosen, metadata)
            if battles.empty:
                continue
            baseline = str(chosen[0]["baseline"])
            scores = style_scores(battles, baseline, rounds=rounds, seed=seed)
            found.append(scores.assign(_pair=pair, category=category))
    return pd.concat(found[1:], ignore_index=True)[found[0].columns] if len(found) > 1 else found[0]


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


def mt_bench_rows(models: list[str], annotations: list[Path], throughputs: list[Path], *, rounds: int,
                  seed: int) -> pd.DataFrame:  # fmt: skip
    """MT-Bench's rows: per model its scores (no category; best Average first), then per (model, category)."""
    rows = []
    for model, path, tp in zip(models, annotations, throughputs, strict=True):
        records = read_records(path)
        speed = {k: read_throughput(tp).get(k) for k in SPEED_COLUMNS}
        ratings = pd.DataFrame(records, columns=["question_id", "category", "turn", "score"])
        rows.append({"model": model, **mt_bench_row(ratings, records, rounds=rounds, seed=seed), **speed})
        for category, part in ratings.groupby("category", sort=True):
            chosen = [r for r in records if r["category"] == category]
            rows.append({"model": model, **mt_bench_row(part, chosen, rounds=rounds, seed=seed), **speed,
                         "category": category})  # fmt: skip
    table = pd.DataFrame(rows, columns=ALL_COLUMNS).assign(benchmark=MT_BENCH)
    order = table[table["category"].isna()].sort_values("average", ascending=False, kind="stable")["model"]
    table = table.assign(_model=table["model"].map({m: i for i, m in enumerate(order)}))
    table = table.assign(_part=table["category"].notna()).sort_values(["_part", "category", "_model"], kind="stable")
    return table[ALL_COLUMNS].reset_index(drop=True)


def mt_bench_row(ratings: pd.DataFrame, records: list[dict], *, rounds: int, seed: int) -> dict:
    """One model's (or one category's) MT-Bench numbers: `metrics.mt_bench.scores` and the Average's interval."""
    found = scores(ratings)
    low, high = average_interval(ratings, rounds=rounds, seed=seed)
    return {"turn1": found["turn1"], "turn2": found["turn2"], "average": found["average"], "average_ci_low": low,
            "average_ci_high": high, "n_total": int(ratings["question_id"].nunique()), "unparsed": found["unparsed"],
            "judge": ", ".join(sorted({str(r["judge"][0]) for r in records})),
            "truncated_for_judge": sum(bool(r.get("truncated_for_judge")) for r in records),
            "judge_identity": ", ".join(sorted({str(r["judge_identity"]) for r in records
                                                if r.get("judge_identity")}))}  # fmt: skip


def write_turn_win_rates(models: list[str], reference: list[str] | None, records: list[list[dict[str, Any]]],
                         prompts: Path | None, ties: str, out: Path) -> None:  # fmt: skip
    """Each AlpacaEval pair's win rate by number of user turns (`metrics.winrate.turn_win_rates`) as CSV.

    `records`: each pair's annotations, in the order of `models` (no pairs, no prompts: the header alone).
    """
    if prompts is None:
        turns = pd.Series(dtype=int)
    else:
        table = load_prompt_table(prompts)
        turns = table.set_index("index")["turns"] if "turns" in table.columns else pd.Series(1, index=table["index"])
    references = reference or [PROMPT_REFERENCE] * len(models)
    pairs = list(zip(models, references, records, strict=True))
    with atomic_path(out) as tmp:
        turn_win_rates(pairs, turns, ties).to_csv(tmp, index=False)


def write_leaderboard(table: pd.DataFrame, csv_path: Path, md_path: Path,
                      boards: dict[str, Path] | None = None) -> None:  # fmt: skip
    """Write the CSV and the Markdown form: the prompt set's references, one section per model, then the benchmarks.

    `boards` maps a benchmark to its own table's path (`board.benchmark_board`: its rows and only its columns).
    """
    table = whole_counts(table)
    with atomic_path(csv_path) as tmp:
        table.to_csv(tmp, index=False)
    for name, path in (boards or {}).items():
        with atomic_path(path) as tmp:
            benchmark_board(table, name).to_csv(tmp, index=False)
    parts = []
    alpaca = table[table["benchmark"] == "alpaca_eval"]
    for reference, rows in alpaca.groupby("reference", sort=False):
        if reference != PROMPT_REFERENCE:
            parts.append(f"\n## Head to head: against {reference}\n\n")
        parts.append(leaderboard_markdown(rows))
    heads = head_to_head_rows(table)
    arena = ~table["benchmark"].isin(["alpaca_eval", MT_BENCH])
    for benchmark, rows in table[arena].groupby("benchmark", sort=False):
        parts.append(f"\n## {benchmark}\n\n{arena_markdown(rows[~heads])}")
        for reference, against in rows[heads].groupby("reference", sort=False):
            parts.append(f"\n### {benchmark} head to head: against {reference}\n\n{arena_markdown(against)}")
    mt_bench = table[table["benchmark"] == MT_BENCH]
    if not mt_bench.empty:
        parts.append(f"\n## MT-Bench\n\n{mt_bench_markdown(mt_bench)}")
    write_text(md_path, "".join(parts))


def run(
    *,
    models: list[str],
    annotations: list[Path],
    throughputs: list[Path],
    df_gamed: Path | None,
    csv: Path,
    md: Path,
    reference: list[str] | None = None,
    arena_models: list[str] | None = None,
    arena_references: list[str] | None = None,
    arena_annotations: list[Path] | None = None,
    arena_throughputs: list[Path] | None = None,
    arena_official: list[Path] | None = None,
    arena_rounds: int = 100,
    arena_seed: int = 0,
    mt_models: list[str] | None = None,
    mt_annotations: list[Path] | None = None,
    mt_throughputs: list[Path] | None = None,
    mt_rounds: int = 1000,
    mt_seed: int = 0,
    ties: str = "half",
    prompts: Path | None = None,
    turns_csv: Path | None = None,
    benchmarks: list[str] | None = None,
    boards: list[Path] | None = None,
) -> None:
    """The leaderboard step: one row per (model, reference) and per (model, Arena-Hard version), as CSV and Markdown.

    `models`, `annotations` and `reference` (default: the prompt set's) have
    one entry per judged pair; `throughputs` one per model, in the order of
    first appearance in `models`. The `arena_*` lists run in parallel, one
    entry per Arena-Hard pair (its reference: the version, or
    ``<version>/vs_<model>`` head to head; see `arena_rows`), with the
    bootstrap's rounds and seed; `arena_official` has export_arena's folder
    of each version, in order. The `mt_*` lists run in parallel, one entry
    per model with MT-Bench answers (`mt_bench_rows`), with the bootstrap's rounds and seed. Ties count as
    `ties` says; `turns_csv` gets each pair's win rate by number of user turns (`prompts`: the prompt table).
    `boards` has one path per name in `benchmarks` (the run's, in order): that benchmark's own table.
    Without AlpacaEval pairs (a run without alpaca_eval) `models` is empty and `df_gamed`, `prompts` None.
    """
    records = [read_records(p) for p in annotations]  # read once, for the win rates and the turns
    table = build_leaderboard(models, annotations, throughputs, df_gamed, reference, ties, records=records)
    if turns_csv is not None:
        write_turn_win_rates(models, reference, records, prompts, ties, turns_csv)
    if arena_models:
        references = arena_references or []
        versions = dict.fromkeys(split_reference(r)[0] for r in references)
        official = dict(zip(versions, arena_official or [], strict=True))
        arena = arena_rows(arena_models, references, arena_annotations or [], arena_throughputs or [], official,
                           rounds=arena_rounds, seed=arena_seed)  # fmt: skip
        table = pd.concat([table, arena], ignore_index=True)
    if mt_models:
        mt_bench = mt_bench_rows(mt_models, mt_annotations or [], mt_throughputs or [], rounds=mt_rounds, seed=mt_seed)
        table = pd.concat([table, mt_bench], ignore_index=True)
    write_leaderboard(table, csv, md, dict(zip(benchmarks or [], boards or [], strict=True)))
    print(table.to_string(index=False))
