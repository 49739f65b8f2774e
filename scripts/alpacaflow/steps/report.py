"""The report step: ``report.md``, readable on its own.

`run` renders the outputs of every other step into ``report.md``: a title
that names the run's benchmarks, AlpacaEval's warnings, the overview (each
benchmark's headline number per model), then a section per benchmark in the
order of ``benchmarks`` (AlpacaEval's from `benchmarks.alpaca_eval.report`,
Arena-Hard-Auto's from `benchmarks.arena_hard.report`, MT-Bench's from
`benchmarks.mt_bench.report`), AlpacaEval's detail (speed, sweeps, plots, paired comparison,
error taxonomy, context, judge validation, judge audit), the history and
AlpacaEval's error samples. It decides nothing: warnings, what applies and
how runs compare are `findings`; the numbers are `metrics`'.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Annotated, Any

import pandas as pd

from ..benchmarks import TITLES
from ..benchmarks.alpaca_eval import report as alpaca_eval
from ..benchmarks.arena_hard import report as arena_hard
from ..benchmarks.mt_bench import report as mt_bench
from ..board import read_leaderboard
from ..config import ALPACA_EVAL, MT_BENCH
from ..findings import (
    history_view,
    mt_bench_findings,
)
from ..headlines import overview_markdown
from ..io import JSON, read_records, read_throughput, write_text
from ..markdown import (
    audit_section,
    figure,
    taxonomy_examples,
    validation_markdown,
)
from ..metrics.audit import audit_summary


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


def report_title(benchmarks: list[str]) -> str:
    """What the report covers: each benchmark's name (Arena-Hard-Auto with its versions), in the run's order."""
    names: dict[str, list[str]] = {}
    for name in benchmarks:
        kind, _, version = name.partition("-")
        names.setdefault(kind, []).append(version)
    titles = [f"{TITLES[k]} {' and '.join(v)}".strip() if any(v) else TITLES[k] for k, v in names.items()]
    return titles[0] if len(titles) == 1 else f"{', '.join(titles[:-1])} and {titles[-1]}"


def overview_parts(overview: Path, figure_path: Path | None, report: Path) -> list[str]:
    """The report's opening table: each benchmark's headline number per model (overview.csv), and its figure."""
    lines = ["## Overview", "", "Each benchmark's headline number per model; the sections below give the detail.",
             "", *overview_markdown(pd.read_csv(overview))]  # fmt: skip
    return [*lines, figure(report, figure_path, "overview"), ""] if figure_path else lines


#: Up to this many models the report holds every model's detail (error samples, error-class examples); beyond,
#: that detail is on each model's page (``<model>/report.md``, always written) and the report links the pages.
INLINE_MODELS = 3


def model_page(model: str, page: Path, report: Path, samples: list[Path], taxonomy: dict[str, Any] | None) -> str:
    """One model's page: its error samples on every benchmark and its error-class examples, linked to the report."""
    parts = [f"# {model}: error samples and error classes", "",
             f"Back to the [report]({os.path.relpath(report, page.parent)}).", ""]  # fmt: skip
    for sample in samples:
        benchmark = sample.parent.name if sample.parent.name != model else ALPACA_EVAL
        parts += [f"## {report_title([benchmark])}", "", sample.read_text(encoding="utf-8")]
    if taxonomy is not None:
        parts += ["## Error classes (AlpacaEval 2.0)", "", *taxonomy_examples(taxonomy)]
    return "\n".join(parts).rstrip() + "\n"


def write_pages(page_models: list[str], pages: list[Path], report: Path, samples: list[Path],
                taxonomies: list[Path]) -> None:  # fmt: skip
    """Each model's page (`model_page`): the samples under its folder, its taxonomy."""
    found = {t["model"]: t for t in (json.loads(Path(p).read_text(encoding="utf-8")) for p in taxonomies)}
    for model, page in zip(page_models, pages, strict=True):
        own = [Path(s) for s in samples if sample_model(Path(s), page_models) == model]
        write_text(page, model_page(model, page, report, own, found.get(model)))


def sample_model(sample: Path, models: list[str]) -> str | None:
    """The model an error_sample.md belongs to: its folder's, or (on a benchmark) its folder's parent's."""
    for folder in (sample.parent.name, sample.parent.parent.name):
        if folder in models:
            return folder
    return None


def pages_line(page_models: list[str], pages: list[Path], report: Path) -> list[str]:
    """The links to each model's page, where the report leaves their detail out."""
    links = ", ".join(f"[{m}]({os.path.relpath(p, report.parent)})" for m, p in zip(page_models, pages, strict=True))
    return [f"With {len(page_models)} models, each model's error samples and error-class examples are on its own "
            f"page: {links}.", ""]  # fmt: skip


def run(
    *,
    models: list[str],
    leaderboard: Path,
    throughputs: list[Path],
    outputs: list[Path],
    error_samples: list[Path],
    meta: Path | None,
    prompts: Path | None,
    judge: Annotated[dict[str, Any], JSON],
    comparison: Path | None,
    taxonomies: list[Path],
    context: Path | None,
    context_models: Annotated[list[str], JSON],
    subsets: Path | None,
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
    benchmarks: list[str] | None = None,
    overview: Path | None = None,
    overview_figure: Path | None = None,
    page_models: list[str] | None = None,
    pages: list[Path] | None = None,
) -> None:
    """The report step: assemble ``report.md`` from the outputs of every other step.

    `benchmarks` are the run's (result folders' names, in the order of the
    config's ``benchmarks``: the order of the sections; default AlpacaEval's
    alone); `overview` is overview.csv, the report's opening table.
    `models`, `throughputs`, `outputs`, `error_samples` and `taxonomies` are
    AlpacaEval's, one per model, and `meta`, `prompts`, `comparison`,
    `context` and `subsets` its files (none and None without AlpacaEval);
    `annotations` are every (model, reference) pair's annotations (for the judge audit);
    `validation` is validate_judge's agreement.json, or None when it is not enabled;
    `sweep_*` are the sweep step's outputs, one per sweep (none without sweeps);
    `mt_*` are MT-Bench's error samples and figure (none without MT-Bench);
    `turns` is the leaderboard's win rate by number of turns; `pages` has each of `page_models`' page
    (`model_page`), which the report links instead of holding the detail beyond `INLINE_MODELS` models.
    """
    benchmarks = benchmarks or [ALPACA_EVAL]
    tps = {m: read_throughput(p) for m, p in zip(models, throughputs, strict=True)}
    every_benchmark = read_leaderboard(leaderboard, None, None)
    page_models, pages = page_models or [], pages or []
    inline = len(page_models) <= INLINE_MODELS
    write_pages(page_models, pages, report, [*error_samples, *(arena_error_samples or []), *(mt_error_samples or [])],
                taxonomies)  # fmt: skip
    if not inline:
        error_samples, arena_error_samples, mt_error_samples = [], [], []
    parts = [f"# Evaluation report: {report_title(benchmarks)}", ""]
    if ALPACA_EVAL in benchmarks:
        parts += alpaca_eval.warning_lines(models, outputs, prompts, read_leaderboard(leaderboard, None))
    if overview is not None:
        parts += overview_parts(overview, overview_figure, report)
    for name in dict.fromkeys(b.split("-")[0] for b in benchmarks):  # arena_hard's versions: one group
        if name == ALPACA_EVAL:
            parts += alpaca_eval.opening(leaderboard=leaderboard, tps=tps, meta=meta, prompts=prompts, judge=judge)
        elif name == MT_BENCH:
            parts += mt_bench.sections(mt_bench_findings(every_benchmark), mt_error_samples or [], report, mt_figure)
        else:
            parts += arena_hard.sections(leaderboard, arena_protocols or [], arena_error_samples or [])
    if ALPACA_EVAL in benchmarks:
        sweeps = list(zip(sweep_tables, sweep_verdicts, sweep_figures, strict=True))
        parts += alpaca_eval.details(
            models=models, board=read_leaderboard(leaderboard), tps=tps, report=report, turns=turns, figures=figures,
            subsets=subsets, comparison=comparison, taxonomies=taxonomies, context=context,
            context_models=context_models, judge=judge, sweeps=sweeps, examples=inline,
        )  # fmt: skip
        agreement = json.loads(validation.read_text()) if validation else None
        parts += ["## Judge validation", "", *validation_markdown(agreement)]
        parts += audit_section(judge["audit"]["swap"], audit_of(judge, annotations, agreement))
    parts += history_section(history)
    if not inline:
        parts += ["## Error samples", "", *pages_line(page_models, pages, report)]
    elif ALPACA_EVAL in benchmarks:
        parts += ["## Error samples", "", "Random losses to the reference, for error analysis.", ""]
        parts += [Path(p).read_text(encoding="utf-8") for p in error_samples]
    write_text(report, "\n".join(parts).rstrip() + "\n")
    print(f"wrote {report}")
