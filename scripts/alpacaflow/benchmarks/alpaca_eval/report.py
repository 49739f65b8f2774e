"""AlpacaEval 2.0's part of the report: who judged what, the leaderboard, head to head, and its detail.

`opening` is the section the run's ``benchmarks`` order places (what was
judged by whom, the leaderboard, head to head); `details` follows every
benchmark's section (speed, the comparison with the first model, sweeps,
turns, plots, paired comparison, error taxonomy, published context), and
`warning_lines` open the report. They decide nothing: that is `findings`'.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pandas as pd

from ...board import judge_identities, leaderboard_markdown, read_leaderboard
from ...errors import AlpacaflowError
from ...findings import (
    against_baseline,
    duplicates_dropped,
    head_to_head,
    judging_issues,
    lc_unreliable,
    leak_warnings,
    mixed_judges,
)
from ...io import reference_generators, visible
from ...judge_settings import judge_name
from ...markdown import (
    comparison_section,
    context_section,
    figure,
    sweep_section,
    taxonomy_section,
    turns_section,
)


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


def opening(
    *, leaderboard: Path, tps: dict[str, dict[str, Any]], meta: Path, prompts: Path, judge: dict[str, Any],
) -> list[str]:  # fmt: skip
    """AlpacaEval's opening: what was judged by whom, the leaderboard, head to head."""
    board = read_leaderboard(leaderboard)
    if board.empty:
        raise AlpacaflowError(f"{leaderboard}: no AlpacaEval rows; rerun the leaderboard step")
    every = read_leaderboard(leaderboard, None)
    source = json.loads(Path(meta).read_text())
    judge_model = judge["openai_model"] if judge["backend"] == "openai" else judge["model"]
    revision = source.get("revision_resolved") or source.get("revision_requested") or "local file"
    return [
        "## AlpacaEval 2.0",
        "",
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
    ]


def details(
    *, models: list[str], board: pd.DataFrame, tps: dict[str, dict[str, Any]], report: Path, turns: Path | None,
    figures: list[Path], subsets: Path, comparison: Path, taxonomies: list[Path], context: Path,
    context_models: list[str], judge: dict[str, Any], sweeps: list[tuple[Path, Path, Path]], examples: bool = True,
) -> list[str]:  # fmt: skip
    """AlpacaEval's detail: speed, the comparison with the first model, sweeps, turns, plots, taxonomy, context."""
    parts = ["## Generation speed", "", *[speed_sentence(m, tps[m]) for m in models], ""]
    comparisons = [line for found in against_baseline(models, board, tps) for line in against_sentences(found)]
    if comparisons:
        parts += [f"## Against {models[0]}", "", *comparisons, ""]
    for table, verdict, figure_path in sweeps:
        parts += sweep_section(report, pd.read_csv(table), json.loads(Path(verdict).read_text()), figure_path)
    parts += turns_section(pd.read_csv(turns, dtype={"turns": str})) if turns else []
    parts += plots_section(report, figures, pd.read_csv(subsets))
    parts += comparison_section(pd.read_csv(comparison))
    parts += taxonomy_section([json.loads(Path(p).read_text(encoding="utf-8")) for p in taxonomies], examples)
    parts += context_section(pd.read_csv(context), context_models, judge_name(judge))
    return parts
