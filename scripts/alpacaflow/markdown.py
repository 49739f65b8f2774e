"""Markdown forms of the steps' outputs, and the small pieces every Markdown file is built from.

The report step assembles ``report.md`` from these sections (and the
leaderboard's own, `board.leaderboard_markdown`): the paired comparison,
the error taxonomy, the published context, judge validation, the judge
audit, the checkpoint sweeps and the win rate by number of turns. Each renders data that a step or the
library computed and decided (`metrics`, `findings`); none decides anything.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pandas as pd

from .dialogues import TURN_GROUPS
from .io import visible
from .metrics.audit import AGREEMENT_LIMIT, FLIP_LIMIT, LONGER_LIMIT
from .metrics.paired import significance
from .taxonomy import taxonomy_table


def code(text: str) -> str:
    """`text` as an inline code span, also when it holds backticks; control characters escaped (`io.visible`)."""
    text = visible(text)
    return f"`` {text} ``" if "`" in text else f"`{text}`"


def ci(value: float, low: float, high: float, sign: str = "") -> str:
    return f"{value:{sign}.1f} [{low:{sign}.1f}, {high:{sign}.1f}]"


def paired_phrase(paired: dict[str, Any], metric: str) -> str:
    """A paired difference with its CI: "+3.1 points against zero_shot (95% CI [-2.0, +8.1])"."""
    diff = "lc_diff" if metric == "lc_win_rate" and paired["lc_diff"] is not None else "win_rate_diff"
    value, low, high = paired[diff], paired[f"{diff}_ci_low"], paired[f"{diff}_ci_high"]
    what = "" if diff == "lc_diff" or metric == "win_rate" else " of win rate (LC n/a)"
    return f"{value:+.1f} points{what} against {paired['against']} (paired 95% CI [{low:+.1f}, {high:+.1f}])"


def figure(out: Path, path: Path, alt: str) -> str:
    return f"![{alt}]({os.path.relpath(path, out.parent)})"


def _benchmark_cell(row: pd.Series, label: str) -> str:
    """A benchmark's score with its interval in a sweep table, n/a where it has none."""
    score = row[f"{label}_score"]
    return "n/a" if pd.isna(score) else ci(score, row[f"{label}_ci_low"], row[f"{label}_ci_high"])


def _average_cell(row: pd.Series) -> str:
    """MT-Bench's Average of a sweep step with its 95% interval, or n/a."""
    if pd.isna(row["mt_bench_average"]):
        return "n/a"
    low, high = row["mt_bench_average_ci_low"], row["mt_bench_average_ci_high"]
    return f"{row['mt_bench_average']:.2f} [{low:.2f}, {high:.2f}]"


def sweep_section(out: Path, table: pd.DataFrame, verdict: dict[str, Any], figure_path: Path) -> list[str]:
    """One checkpoint sweep: win rates against the step, the best step, and whether the end still improves."""
    name, best, trend = verdict["sweep"], verdict["best"], verdict["trend"]
    benchmarks = [c.removesuffix("_score") for c in table.columns if c.endswith("_score")]  # Arena-Hard columns
    mt_bench = "mt_bench_average" in table.columns
    metric = "LC win rate" if verdict["metric"] == "lc_win_rate" else "win rate (LC is n/a for a checkpoint)"
    lines = [
        f"## Checkpoint sweep: {name}",
        "",
        f"{len(table)} checkpoints of {name} (steps {', '.join(str(s) for s in table['step'])}), each judged like "
        f"the models above; the baseline is {verdict['baseline']} (the horizontal lines). Percentages with 95% "
        "intervals (1.96 standard errors).",
        "",
        "| step | model | win rate (%) | LC win rate (%) |"
        + "".join(f" {b} score (%, 90%) |" for b in benchmarks)
        + (" MT-Bench Average (95%) |" if mt_bench else ""),
        "|---|---|---|---|" + "---|" * (len(benchmarks) + mt_bench),
        *[
            f"| {r.step} | {r.model} | {ci(r.win_rate, r.win_rate_ci_low, r.win_rate_ci_high)} | "
            + ("n/a" if pd.isna(r.lc_win_rate) else ci(r.lc_win_rate, r.lc_win_rate_ci_low, r.lc_win_rate_ci_high))
            + " |"
            + "".join(f" {_benchmark_cell(table.iloc[k], b)} |" for b in benchmarks)
            + (f" {_average_cell(table.iloc[k])} |" if mt_bench else "")
            for k, r in enumerate(table.itertuples())
        ],
        "",
        figure(out, figure_path, f"sweep {name}"),
        "",
        f"**Best step: {best['step']}** ({best['model']}) by {metric}, {best['value']:.1f}%"
        + (
            f" (tied with step{'s' if len(best['tied_steps']) > 1 else ''} "
            f"{', '.join(str(s) for s in best['tied_steps'])}; its higher win rate decides): "
            if best.get("tied_steps")
            else ": "
        )
        + paired_phrase(best["vs_baseline"], verdict["metric"])
        + (
            f" and {paired_phrase(best['vs_final'], verdict['metric'])}."
            if best["vs_final"]
            else "; it is the final checkpoint."
        ),
        f"The last checkpoints (step {trend['from_step']} to {trend['to_step']}) "
        + ("**still improve significantly**" if trend["improving"] else "**do not improve significantly**")
        + f": step {trend['to_step']} is {paired_phrase(trend, verdict['metric'])}.",
        "",
    ]
    return lines


def comparison_section(comparison: pd.DataFrame) -> list[str]:
    """Paired differences to the baseline with bootstrap CIs and the sign test."""
    if comparison.empty:
        return []
    first = comparison.iloc[0]
    lines = [
        f"## Paired comparison against {first['baseline']}",
        "",
        f"Same prompts, both models: differences in percentage points with a paired bootstrap 95% CI "
        f"({first['n_resamples']} resamples, seed {first['seed']}); the sign test counts prompts where the judge "
        "preferred one model's answer more than the other's. The LC interval resamples the per-prompt LC "
        "predictions of a GLM fitted once per model, so it leaves out the GLM's refitting variance.",
        "",
        "| model | paired prompts | win rate diff (95% CI) | LC win rate diff (95% CI) | better / worse / tied "
        "| sign test p |",
        "|---|---|---|---|---|---|",
    ]
    for r in comparison.itertuples():
        lc = "n/a" if pd.isna(r.lc_diff) else f"{r.lc_diff:+.1f} [{r.lc_diff_ci_low:+.1f}, {r.lc_diff_ci_high:+.1f}]"
        lines.append(
            f"| {r.model} | {r.n_paired} | {r.win_rate_diff:+.1f} [{r.win_rate_diff_ci_low:+.1f}, "
            f"{r.win_rate_diff_ci_high:+.1f}] | {lc} "
            f"| {r.n_model_better} / {r.n_baseline_better} / {r.n_same} | {r.sign_test_p:.3g} |"
        )
    return [*lines, "", *[significance_sentence(row) for _, row in comparison.iterrows()], ""]


def taxonomy_section(taxonomies: list[dict[str, Any]], examples: bool = True) -> list[str]:
    """Counts and rates of each error class over all losses, with one example each (`examples`: here)."""
    settings = taxonomies[0]["settings"]
    table = taxonomy_table(taxonomies)
    losses = ", ".join(f"{t['model']} {t['n_losses']} of {t['n_judged']}" for t in taxonomies)
    lines = [
        "## Error taxonomy",
        "",
        f"Every loss to the reference ({losses}) classified; a loss can fall in several classes, rates are shares "
        f"of the model's losses. Repetitive: at least {100 * settings['repeated_ngram_share']:.0f}% of its "
        f"{settings['ngram']}-grams repeat; much shorter: under {100 * settings['shorter_ratio']:.0f}% of the "
        "reference's characters; wrong language: langdetect names another language than the reference's.",
        "",
        "| class | " + " | ".join(t["model"] for t in taxonomies) + " |",
        "|---|" + "---|" * len(taxonomies),
        *["| " + " | ".join(str(v) for v in row) + " |" for row in table.itertuples(index=False)],
        "",
    ]
    for t in taxonomies if examples else []:
        lines += taxonomy_examples(t)
    return lines


def taxonomy_examples(taxonomy: dict[str, Any]) -> list[str]:
    """One model's example of each error class (the report's, or the model's page)."""
    lines = [f"Examples for {taxonomy['model']}:", ""]
    for c, cat in taxonomy["categories"].items():
        ex = cat["example"]
        if ex:
            snippet = code(" ".join(ex["output"].split())[:160]) if ex["output"].strip() else "(empty)"
            lines.append(f"- {c}: prompt {ex['prompt_index']} “{' '.join(ex['instruction'].split())[:80]}” → "
                         f"{snippet} ({len(ex['output'])} chars; reference {ex['reference_chars']})")  # fmt: skip
    return [*lines, ""]


def context_section(context: pd.DataFrame, names: list[str], our_judge: str) -> list[str]:
    """Published leaderboard rows for similar-size models, marked with their judge."""
    missing = sorted(set(names) - set(context["model"]))
    lines = [
        "## Published leaderboard context",
        "",
        "Rows of the AlpacaEval 2.0 leaderboards that ship with alpaca_eval, for models of a similar size. "
        f"Only rows judged by the same annotator as ours ({our_judge}) and against the official GPT-4 Turbo "
        "reference can be compared with the leaderboard above; the others are marked not comparable.",
        "",
        "| model | LC win rate (%) | win rate (%) | avg length | judge | comparable with ours |",
        "|---|---|---|---|---|---|",
    ]
    for r in context.itertuples():
        lc = "n/a" if pd.isna(r.length_controlled_winrate) else f"{r.length_controlled_winrate:.1f}"
        lines.append(f"| {r.model} | {lc} | {r.win_rate:.1f} | {r.avg_length:.0f} | {r.judge} "
                     f"| {'yes' if r.comparable else 'not comparable'} |")  # fmt: skip
    if missing:
        lines += ["", f"Not on any shipped leaderboard: {', '.join(missing)}."]
    return [*lines, ""]


def validation_markdown(result: dict[str, Any] | None) -> list[str]:
    """The report's judge-validation section."""
    if result is None:
        return [
            "Not run (opt-in): set `validate_judge.enabled: true` to judge a published model's outputs with "
            "this judge and compare with the official GPT-4 Turbo annotations.",
            "",
        ]

    def fmt(x: Any) -> str:
        return "n/a (a judge gave one constant preference)" if x is None else f"{x:.3f}"

    return [
        f"The configured judge (**{result['judge']}**) re-judged {result['n_pairs']} published pairs of "
        f"**{result['published_model']}** against the reference, annotated by **{result['official_judge']}** "
        f"(`{result['source']}`, SHA-256 `{result['sha256'][:12]}…`). Over the {result['n_compared']} pairs both "
        f"judges parsed ({result['n_dropped_unparsed']} dropped):",
        "",
        "| same winner | Pearson r | Spearman ρ | official win rate (%) | our judge's win rate (%) |",
        "|---|---|---|---|---|",
        f"| {100 * result['same_winner']:.1f}% | {fmt(result['pearson'])} | {fmt(result['spearman'])} "
        f"| {result['official_win_rate']:.1f} | {result['our_win_rate']:.1f} |",
        "",
    ]


def share(part: dict[str, Any]) -> str:
    if part["n"] == 0:
        return "n/a"
    return f"{part['percent']:.1f} [{part['ci_low']:.1f}, {part['ci_high']:.1f}] ({part['k']}/{part['n']})"


NOT_AUDITED = (
    "Not run (opt-in): set `judge.audit: {swap: N}` to judge N sampled pairs of every model in both orders and "
    "measure how often the judge's winner depends on which output it sees first."
)


def audit_section(swap: int, summary: dict[str, Any] | None) -> list[str]:
    """The judge audit (`metrics.audit.audit_summary`): flips and longer-output wins, per pair and pooled; verdict."""
    lines = ["## Judge audit", ""]
    if summary is None:
        return [*lines, NOT_AUDITED, ""]
    lines += [
        f"Up to {swap} sampled pairs of every model and reference were judged twice, once with each output shown "
        "first (alpaca_eval shows each pair once, in a random order). A position flip is a pair whose winner changed "
        "with the order. Longer output wins: of the judgments with a winner whose two outputs differ in length, the "
        "share the longer output won (all judged pairs). Percentages with Wilson 95% intervals.",
        "",
        "| model | reference | position flips (%) | longer output wins (%) |",
        "|---|---|---|---|",
        *[
            f"| {r['model']} | {r['reference']} | {share(r['flips'])} | {share(r['longer'])} |"
            for r in summary["pairs"]
        ],
        f"| **all pairs** | | {share(summary['pooled']['flips'])} | {share(summary['pooled']['longer'])} |",
        "",
    ]
    if summary["agreement"] is not None:
        lines += [f"Agreement with the official judge (judge validation): same winner in {summary['agreement']:.1f}% "
                  "of the published pairs.", ""]  # fmt: skip
    return [*lines, verdict_sentence(summary), ""]


def verdict_sentence(summary: dict[str, Any]) -> str:
    """The audit's assessment (`metrics.audit.assess`) in one sentence, naming the thresholds it used."""
    found, flips, longer = summary["assessment"], summary["pooled"]["flips"], summary["pooled"]["longer"]
    agreement = summary["agreement"]
    if found["trustworthy"] is None:
        return "No audited pair was judged in both orders, so the judge's position bias is unknown."
    length = ""
    if found["length_preference"]:
        length = (f" It prefers the longer output in {longer['percent']:.1f}% of decided pairs (above "
                  f"{LONGER_LIMIT:.0f}%): read the length-controlled win rate rather than the raw one.")  # fmt: skip
    if not found["trustworthy"]:
        problems = []
        if found["flips_above_limit"]:
            problems.append(f"its winner changes with the order in {flips['percent']:.1f}% of pairs "
                            f"(above {FLIP_LIMIT:.0f}%)")  # fmt: skip
        if found["agreement_below_limit"]:
            problems.append(f"it picks the official judge's winner in only {agreement:.1f}% of pairs "
                            f"(below {AGREEMENT_LIMIT:.0f}%)")  # fmt: skip
        return f"The judge is **not trustworthy** for this comparison: {' and '.join(problems)}.{length}"
    checked = f"flips {flips['percent']:.1f}% ≤ {FLIP_LIMIT:.0f}%"
    if agreement is not None:
        checked += f", agreement with the official judge {agreement:.1f}% ≥ {AGREEMENT_LIMIT:.0f}%"
    return f"The judge is **trustworthy** for this comparison by these checks ({checked}).{length}"


def significance_sentence(row: pd.Series | dict[str, Any]) -> str:
    """Whether the model is significantly better than the baseline (`metrics.paired.significance`), in one sentence."""
    lo, hi = row["win_rate_diff_ci_low"], row["win_rate_diff_ci_high"]
    found = significance(row)
    verdict = {"better": "is significantly better than", "worse": "is significantly worse than",
               "same": "is not significantly different from"}[found["win_rate"]]  # fmt: skip
    if found["lc_excludes_zero"] is None:
        lc = "the LC difference is n/a (see the leaderboard)"
    else:
        side = "excludes" if found["lc_excludes_zero"] else "includes"
        lc = (f"the LC difference is {row['lc_diff']:+.1f} points (CI [{row['lc_diff_ci_low']:+.1f}, "
              f"{row['lc_diff_ci_high']:+.1f}], which {side} 0)")  # fmt: skip
    return (
        f"**{row['model']} {verdict} {row['baseline']}** at the 5% level on win rate: "
        f"{row['win_rate_diff']:+.1f} points, 95% CI [{lo:+.1f}, {hi:+.1f}] over {row['n_paired']} paired prompts; "
        f"{lc}; the sign test gives p = {row['sign_test_p']:.3g} "
        f"({row['n_model_better']} prompts better, {row['n_baseline_better']} worse, {row['n_same']} tied)."
    )


def turns_section(table: pd.DataFrame) -> list[str]:
    """Win rate by number of user turns per pair (leaderboard's turn_win_rates.csv); none on a set of instructions."""
    if table.empty or set(table["turns"]) <= {"1"}:
        return []
    lines = ["## Win rate by number of turns", "",
             "The prompt set holds conversations: each model answered the last user turn of each, and the judge "
             "read the earlier turns with the two answers. Win rate (%) ± one standard error, with the prompts "
             "judged, by the number of user turns (one: a single instruction).", ""]  # fmt: skip
    for reference, rows in table.groupby("reference", sort=False):
        groups = [g for g in TURN_GROUPS if g in set(rows["turns"])]
        lines += [f"Against {'the reference answers' if reference == 'prompts' else reference}:", "",
                  "| model | " + " | ".join(f"{g} turn{'' if g == '1' else 's'}" for g in groups) + " |",
                  "|---|" + "---|" * len(groups)]  # fmt: skip
        for model, part in rows.groupby("model", sort=False):
            cells = part.set_index("turns").reindex(groups)
            lines.append(f"| {model} | " + " | ".join(_turn_cell(r) for r in cells.itertuples()) + " |")
        lines.append("")
    return lines


def _turn_cell(row: Any) -> str:
    """A win rate ± its standard error (none for one prompt) and the prompts judged; blank where none were."""
    if pd.isna(row.n):
        return ""
    error = "" if pd.isna(row.standard_error) else f" ± {row.standard_error:.1f}"
    return f"{row.win_rate:.1f}{error} ({int(row.n)})"
