"""The report step: ``report.md``, readable on its own.

`run` renders the outputs of every other step into ``report.md``: which
judge, method and reference were used, the leaderboard, speed and win-rate
comparisons in sentences, the figures (linked), the checkpoint sweeps, the
paired comparison with the baseline, the error taxonomy, published context
rows, judge validation, the judge audit, the history and the error samples.
It decides nothing: warnings, what applies and how runs compare are
`findings`; the numbers are `metrics`'; the sections' Markdown is `markdown`'s.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import pandas as pd

from ..board import arena_markdown, judge_identities, leaderboard_markdown, read_leaderboard
from ..errors import AlpacaflowError
from ..findings import (
    against_baseline,
    arena_findings,
    duplicates_dropped,
    head_to_head,
    history_view,
    judging_issues,
    lc_unreliable,
    leak_warnings,
    mixed_judges,
    mt_bench_findings,
)
from ..io import JSON, read_records, read_throughput, reference_generators, visible, write_text
from ..judge_settings import judge_name
from ..markdown import (
    audit_section,
    comparison_section,
    context_section,
    figure,
    mt_bench_section,
    sweep_section,
    taxonomy_section,
    turns_section,
    validation_markdown,
)
from ..metrics.audit import audit_summary


def speed_sentence(model: str, tp: dict[str, Any]) -> str:
    """One sentence on a model's generation speed."""
    if "examples_per_second" not in tp:
        return f"- **{model}**: outputs imported from `{tp.get('imported_from')}`; no generation timings."
    return (
        f"- **{model}** ({tp['backend']} on {tp['device']}): {tp['n_examples']} responses in "
        f"{tp['generate_seconds']:.1f} s, i.e. {tp['seconds_per_example']:.3f} s per example, "
        f"{tp['examples_per_second']:.2f} examples/s and {tp['output_tokens_per_second']:.0f} output tokens/s "
        f"({load_phrase(tp)}; {tp['hit_max_new_tokens']} of {tp['n_examples']} responses hit max_new_tokens"
        f"{stop_phrase(tp)})."
    )


def stop_phrase(tp: dict[str, Any]) -> str:
    """Stop strings and reasoning blocks, where they applied (throughput.json of a generate run)."""
    parts = []
    if tp.get("stopped_by", {}).get("stop"):
        parts.append(f"{tp['stopped_by']['stop']} cut at a stop string")
    if tp.get("stopped_by", {}).get("stop_token_ids"):
        parts.append(f"{tp['stopped_by']['stop_token_ids']} ended by a configured stop token")
    if tp.get("open_with_think"):
        parts.append(
            f"{tp['open_with_think']} opened with `<think>` ({tp['reasoning_tokens']} reasoning tokens; "
            f"{tp.get('truncated_in_reasoning', 0)} still inside it at max_new_tokens)"
        )
    return "".join(f"; {p}" for p in parts)


def load_phrase(tp: dict[str, Any]) -> str:
    """How the model load went, for the speed sentence."""
    reused = tp.get("reused_from_store", 0)
    load = "no model load" if tp.get("load_seconds") is None else f"model load {tp['load_seconds']:.1f} s, not counted"
    return f"{load}; {reused} output(s) reused from an earlier run" if reused else load


def _lc(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.1f}%"


def against_sentences(found: dict[str, Any]) -> list[str]:
    """One model against the baseline (`findings.against_baseline`): speed ratios, then win rates."""
    lines = []
    if found["examples_ratio"] is not None:
        lines.append(f"{found['model']} generated {found['examples_ratio']:.2f}x as many examples/s as "
                     f"{found['baseline']} ({found['tokens_ratio']:.2f}x the output tokens/s); examples/s also "
                     "depends on how long each model's answers are.")  # fmt: skip
    lc_points = "n/a points" if found["lc_diff"] is None else f"{found['lc_diff']:+.1f} points"
    lines.append(
        f"{found['model']} wins {found['win_rate']:.1f}% (LC {_lc(found['lc'])}) of its comparisons with the "
        f"reference, against {found['baseline_win_rate']:.1f}% (LC {_lc(found['baseline_lc'])}) for "
        f"{found['baseline']}: {found['win_rate_diff']:+.1f} points of win rate and {lc_points} of LC win rate "
        f"(standard errors {found['standard_error']:.1f} and {found['baseline_standard_error']:.1f} points)."
    )
    return lines


def warning_lines(models: list[str], outputs: list[Path], prompts: Path, every: pd.DataFrame) -> list[str]:
    """The warnings the report opens with: leaked chat templates, and pairs judged by more than one judge."""
    lines = [f"> **Warning: leaked chat template.** {visible(w)}\n" for w in leak_warnings(models, outputs, prompts)]
    mixed = mixed_judges(every)
    if mixed:
        lines += [
            f"> **Warning: more than one judge.** The judgments of {', '.join(mixed)} come from more than one judge "
            f"({'; '.join(judge_identities(every))}): typically an API judge that answered later requests with "
            "another model than the cached judgments record. Numbers that mix judges are not comparable with one "
            "judge's; delete the judge cache to judge everything with one.",
            "",
        ]
    return lines


def notes_lines(meta: dict[str, Any], tps: dict[str, dict[str, Any]]) -> list[str]:
    """What was dropped or judged unusually (`findings.duplicates_dropped`, `judging_issues`, `lc_unreliable`)."""
    lines = []
    dropped = duplicates_dropped(meta, tps)
    if dropped["prompt_set"]:
        lines.append(f"{dropped['prompt_set']} row(s) of the prompt set repeated an earlier row's instruction and "
                     "were dropped (`prompts.duplicates: first` keeps the first); each instruction is judged "
                     "once.")  # fmt: skip
    if meta.get("rows_without_reference"):
        lines.append(f"{meta['rows_without_reference']} conversation(s) of the prompt set have no reference answer: "
                     "they are judged head to head only, not against the reference answers.")  # fmt: skip
    lines += [f"{model}'s imported outputs ({d['source']}) repeated {d['dropped']} instruction(s); the first output "
              "of each was kept." for model, d in dropped["imported"].items()]  # fmt: skip
    return [*lines, ""] if lines else []


def judging_lines(board: pd.DataFrame) -> list[str]:
    """Parsing, unusual inputs and the LC caveat, below the leaderboard."""
    unparsed = int(board["unparsed"].sum())
    lines = [
        f"{unparsed} judgment(s) could not be parsed even after retries; they are dropped and win rates are over "
        "the parsed ones."
        if unparsed
        else "Every judgment was parsed.",
        "",
    ]
    issues = []
    for found in judging_issues(board):
        parts = [text.format(n) for text, n in (("{} unparsed judgment(s) dropped", found["unparsed"]),
                 ("{} empty output(s), judged as they are", found["empty_outputs"]),
                 ("{} pair(s) cut to fit the judge's context", found["truncated_for_judge"])) if n]  # fmt: skip
        issues.append(f"- {found['model']}: " + "; ".join(parts) + ".")
    lines += [*issues, ""] if issues else []
    few = lc_unreliable(board)
    if few is not None:
        lines += [f"Only {few} prompts were judged: the LC GLM has little data to fit and, regularized, pulls LC win "
                  "rates towards 50%. Read LC numbers from full 805-prompt runs.", ""]  # fmt: skip
    return lines


def head_to_head_sections(every: pd.DataFrame) -> list[str]:
    """A section per model in `references` (beyond the prompt set): its leaderboard and what LC means there."""
    lines: list[str] = []
    for found in head_to_head(every):
        reference = found["reference"]
        lines += [
            f"## Head to head: against {reference}",
            "",
            f"Every other model judged against **{reference}**'s outputs on the same prompts, by the same judge "
            f"(a win rate above 50% means the judge preferred the model to {reference} more often than not).",
            "",
            leaderboard_markdown(found["rows"]),
        ]
        if found["lc_applies"]:
            lines += [
                "The LC win rates here are what alpaca_eval computes for these annotations: its GLM uses df_gamed's "
                f"instruction difficulties, which were estimated against GPT-4 Turbo's outputs, not {reference}'s; "
                "read them as approximate.",
                "",
            ]
    return lines


def arena_sections(leaderboard: Path, protocols: list[Path], samples: list[Path]) -> list[str]:
    """A section per Arena-Hard version: its scores, whether they compare with the published leaderboard, losses.

    `samples` are the error_sample step's Markdown of each (model, version),
    ``<model>/arena_hard-<v>/error_sample.md``.
    """
    lines: list[str] = []
    for found in arena_findings(read_leaderboard(leaderboard, None, None), protocols):
        judges = ", ".join(found["judges"])
        comparable = (
            f"The judge is the version's official one ({found['official_judge']}): the scores compare with the "
            "published Arena-Hard-Auto leaderboard."
            if found["comparable"]
            else f"**Not comparable with the published leaderboard:** judged by {judges} "
            f"({'; '.join(found['identities'])}), while the version's official judge is {found['official_judge']} "
            "at OpenAI's API."
        )
        lines += [
            f"## Arena-Hard-Auto {found['benchmark'].removeprefix('arena_hard-')}",
            "",
            "Every model answered each question; the judge compared each answer with its category's baseline twice, "
            "once with each answer shown first. A decisive verdict counts as three battles; a question where either "
            "game has no verdict is left out. The score is the share of battles won against the baseline, the mean "
            "of the bootstrap rounds, with their 5%-95% interval (as the official `show_result.py` shows it); each "
            "category is scored apart, against its own baseline. The style-controlled score is the win probability "
            "against the baseline once a Bradley-Terry model has accounted for answer length and Markdown density "
            "(`show_result.py -f markdown length`); a model far below its score wins by style. The answers and "
            "judgments are also in the official layout under `official/data/`.",
            "",
            arena_markdown(found["rows"]),
            comparable,
            "",
        ]
        for reference, rows in found["heads"].groupby("reference", sort=False):
            lines += [f"Head to head against {reference} (its answers in the baseline's place, scored the same way):",
                      "", arena_markdown(rows)]  # fmt: skip
        losses = [Path(p) for p in samples if Path(p).parent.name == found["benchmark"]]
        if losses:
            lines += ["Losses to the baseline, drawn at random for error analysis (both games' labels; preference "
                      "1-2 is the share of battles the model won, plus 1):", ""]  # fmt: skip
            lines += [p.read_text(encoding="utf-8") for p in losses]
    return lines


def history_section(appended: Path) -> list[str]:
    """Each pair's earlier evaluations (`findings.history_view`), as `model (vs reference): LC x (date) → y now`."""
    view = history_view(appended)
    if not view["pairs"]:
        return ["## History", "", f"No earlier evaluation of these models is recorded in `{view['history']}`.", ""]
    lines = []
    for pair in view["pairs"]:
        steps = []
        for step in pair["steps"]:
            text = f"{step['value']} ({step['date']})" if step["date"] else f"{step['value']} now"
            steps.append(
                f"**judge changed to {step['judge_changed_to']}:** {text}" if step["judge_changed_to"] else text
            )
        lines.append(f"- {pair['label']}: {' → '.join(steps)}")
    intro = (
        f"Every evaluation appends one row per model and reference (on Arena-Hard, per version and category) to "
        f"`{view['history']}` (a row equal to an "
        "earlier one but for its time is not added); each model's earlier rows, with their dates. Numbers by "
        "different judges are not comparable: a change of judge (its name or identity) is marked in bold."
    )
    return ["## History", "", intro, "", *lines, ""]


def audit_of(judge: dict[str, Any], annotations: list[Path], agreement: dict[str, Any] | None) -> dict | None:
    """The judge audit's numbers over every pair's annotations (None when the audit is off)."""
    if not judge["audit"]["swap"]:
        return None
    pairs = []
    for path in annotations:
        records = read_records(path)
        pairs.append((str(records[0]["generator_2"]), str(records[0]["generator_1"]), records))
    return audit_summary(pairs, agreement)


def plots_section(out: Path, figures: list[Path], subsets: pd.DataFrame) -> list[str]:
    """The figures, linked relative to report.md, and the per-subset win rates."""
    by_name = {Path(f).stem: Path(f) for f in figures}
    table = subsets.pivot(index="dataset", columns="model", values="win_rate")[list(dict.fromkeys(subsets["model"]))]
    counts = subsets.groupby("dataset")["n"].max()
    lines = ["| subset | prompts | " + " | ".join(f"{m} win rate (%)" for m in table.columns) + " |",
             "|---|---|" + "---|" * len(table.columns)]  # fmt: skip
    for dataset, row in table.iterrows():
        lines.append(f"| {dataset} | {counts[dataset]} | " + " | ".join(f"{v:.1f}" for v in row) + " |")
    return [
        "## Plots",
        "",
        "Win rate and LC win rate per model; error bars are 95% intervals (1.96 standard errors).",
        "",
        figure(out, by_name["win_rates"], "win rates"),
        "",
        "Output lengths (characters) per model next to the reference's; a judge that likes long answers "
        "rewards the longer box.",
        "",
        figure(out, by_name["lengths"], "output lengths"),
        "",
        "The judge's preference for the model against how much longer (right) or shorter (left) its answer is "
        "than the reference; the black line is the mean per length-difference decile.",
        "",
        figure(out, by_name["length_preference"], "preference against length difference"),
        "",
        "Win rate per AlpacaEval source subset (95% error bars):",
        "",
        figure(out, by_name["subsets"], "win rate per subset"),
        "",
        *lines,
        "",
    ]


def run(
    *,
    models: list[str],
    leaderboard: Path,
    throughputs: list[Path],
    outputs: list[Path],
    error_samples: list[Path],
    meta: Path,
    prompts: Path,
    judge: Annotated[dict[str, Any], JSON],
    comparison: Path,
    taxonomies: list[Path],
    context: Path,
    context_models: Annotated[list[str], JSON],
    subsets: Path,
    figures: list[Path],
    history: Path,
    annotations: list[Path],
    validation: Path | None,
    sweep_tables: list[Path],
    sweep_verdicts: list[Path],
    sweep_figures: list[Path],
    report: Path,
    arena_protocols: list[Path] | None = None,
    arena_error_samples: list[Path] | None = None,
    mt_error_samples: list[Path] | None = None,
    mt_figure: Path | None = None,
    turns: Path | None = None,
) -> None:
    """The report step: assemble ``report.md`` from the outputs of every other step.

    `annotations` are every (model, reference) pair's annotations (for the judge audit);
    `validation` is validate_judge's agreement.json, or None when it is not enabled;
    `sweep_*` are the sweep step's outputs, one per sweep (none without sweeps);
    `mt_*` are MT-Bench's error samples and figure (none without MT-Bench);
    `turns` is the leaderboard's win rate by number of turns.
    """
    board = read_leaderboard(leaderboard)
    if board.empty:
        raise AlpacaflowError(f"{leaderboard}: empty leaderboard")
    every = read_leaderboard(leaderboard, None)
    every_benchmark = read_leaderboard(leaderboard, None, None)
    source = json.loads(Path(meta).read_text())
    tps = {m: read_throughput(p) for m, p in zip(models, throughputs, strict=True)}
    judge_model = judge["openai_model"] if judge["backend"] == "openai" else judge["model"]
    revision = source.get("revision_resolved") or source.get("revision_requested") or "local file"
    parts = [
        "# AlpacaEval 2.0 report",
        "",
        *warning_lines(models, outputs, prompts, every),
        f"Each model answered {source['rows_kept']} prompts of `{source['source']}` ({revision}); the judge compared "
        f"every answer with the reference answer by **{reference_generators(prompts)}**. Judge: "
        f"**{judge_name(judge)}** (`{judge_model}`, backend {judge['backend']}, method {judge['method']}; identity: "
        f"{'; '.join(judge_identities(every)) or 'not recorded'}). Win rates are alpaca_eval's "
        "(`get_winrate`), length-controlled (LC) win rates its `length_controlled_v1` GLM; ± is one standard error.",
        "",
        *notes_lines(source, tps),
        "## Leaderboard",
        "",
        leaderboard_markdown(board),
        *judging_lines(board),
        *head_to_head_sections(every),
        *arena_sections(leaderboard, arena_protocols or [], arena_error_samples or []),
        *mt_bench_section(mt_bench_findings(every_benchmark), mt_error_samples or [], report, mt_figure),
        "## Generation speed",
        "",
        *[speed_sentence(m, tps[m]) for m in models],
        "",
    ]
    comparisons = [line for found in against_baseline(models, board, tps) for line in against_sentences(found)]
    if comparisons:
        parts += [f"## Against {models[0]}", "", *comparisons, ""]
    for table, verdict, figure_path in zip(sweep_tables, sweep_verdicts, sweep_figures, strict=True):
        parts += sweep_section(report, pd.read_csv(table), json.loads(Path(verdict).read_text()), figure_path)
    parts += turns_section(pd.read_csv(turns, dtype={"turns": str})) if turns else []
    parts += plots_section(report, figures, pd.read_csv(subsets))
    parts += comparison_section(pd.read_csv(comparison))
    parts += taxonomy_section([json.loads(Path(p).read_text(encoding="utf-8")) for p in taxonomies])
    parts += context_section(pd.read_csv(context), context_models, judge_name(judge))
    agreement = json.loads(validation.read_text()) if validation else None
    parts += ["## Judge validation", "", *validation_markdown(agreement)]
    parts += audit_section(judge["audit"]["swap"], audit_of(judge, annotations, agreement))
    parts += history_section(history)
    parts += ["## Error samples", "", "Random losses to the reference, for error analysis.", ""]
    parts += [Path(p).read_text(encoding="utf-8") for p in error_samples]
    write_text(report, "\n".join(parts).rstrip() + "\n")
    print(f"wrote {report}")
