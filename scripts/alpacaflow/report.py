"""The report step: ``report.md``, readable on its own.

`run` turns the leaderboard, throughput files, the outputs of compare,
error_taxonomy, context, plots and validate_judge, and the error samples into ``report.md``:
which judge, method and reference were used, the leaderboard, speed and
win-rate comparisons in sentences, the figures (linked), the paired
comparison with the baseline, the error taxonomy, published context rows,
judge validation (when it ran) and the error samples.
"""

from __future__ import annotations

import json
import math
import os
from pathlib import Path
from typing import Annotated, Any

import pandas as pd

from .compare import significance_sentence
from .config import PROMPT_REFERENCE
from .error_taxonomy import taxonomy_table
from .errors import AlpacaflowError
from .history import identity, read_history
from .io import JSON, load_prompt_table, read_records, read_throughput, reference_generators, visible, write_text
from .judge_audit import audit_summary
from .judge_settings import judge_name
from .leaderboard import judge_identities, leaderboard_markdown, read_leaderboard
from .template_leaks import leak_summary, leak_warning


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


def ratio_sentence(model: str, base: str, tp: dict[str, Any], tp_base: dict[str, Any]) -> str | None:
    """Throughput of `model` relative to the baseline model, when both were generated here."""
    if "examples_per_second" not in tp or "examples_per_second" not in tp_base:
        return None
    ex = tp["examples_per_second"] / tp_base["examples_per_second"]
    tok = tp["output_tokens_per_second"] / tp_base["output_tokens_per_second"]
    return (
        f"{model} generated {ex:.2f}x as many examples/s as {base} ({tok:.2f}x the output tokens/s); "
        "examples/s also depends on how long each model's answers are."
    )


def _lc(value: float) -> str:
    return "n/a" if pd.isna(value) else f"{value:.1f}%"


def winrate_sentence(row: pd.Series, base: pd.Series) -> str:
    """Compare one model's win rates with the baseline model's."""
    d_wr = row["win_rate"] - base["win_rate"]
    d_lc = row["length_controlled_winrate"] - base["length_controlled_winrate"]
    lc_points = "n/a points" if pd.isna(d_lc) else f"{d_lc:+.1f} points"
    return (
        f"{row['model']} wins {row['win_rate']:.1f}% (LC {_lc(row['length_controlled_winrate'])}) of its comparisons "
        f"with the reference, against {base['win_rate']:.1f}% (LC {_lc(base['length_controlled_winrate'])}) for "
        f"{base['model']}: {d_wr:+.1f} points of win rate and {lc_points} of LC win rate "
        f"(standard errors {row['standard_error']:.1f} and {base['standard_error']:.1f} points)."
    )


def leak_warnings(models: list[str], outputs: list[Path], prompts: Path) -> list[str]:
    """A warning per model (and for the prompt set's references) where over 2% of the outputs leak a chat template."""
    warnings = [
        leak_warning(model, leak_summary([r.get("output") for r in read_records(path)]))
        for model, path in zip(models, outputs, strict=True)
    ]
    table = load_prompt_table(prompts)
    reference = reference_generators(prompts)
    warnings.append(leak_warning(f"The references ({reference})", leak_summary(table["reference_output"].tolist())))
    return [f"> **Warning: leaked chat template.** {visible(w)}\n" for w in warnings if w]


def head_to_head_sections(leaderboard: Path) -> list[str]:
    """A section per model in `references` (beyond the prompt set): its leaderboard and what LC means there."""
    every = read_leaderboard(leaderboard, None)
    lines: list[str] = []
    for reference in dict.fromkeys(every["reference"]):
        if reference == PROMPT_REFERENCE:
            continue
        rows = read_leaderboard(leaderboard, reference)
        lc_applies = rows["length_controlled_winrate"].notna().any()
        lines += [
            f"## Head to head: against {reference}",
            "",
            f"Every other model judged against **{reference}**'s outputs on the same prompts, by the same judge "
            f"(a win rate above 50% means the judge preferred the model to {reference} more often than not).",
            "",
            leaderboard_markdown(rows),
        ]
        if lc_applies:
            lines += [
                "The LC win rates here are what alpaca_eval computes for these annotations: its GLM uses df_gamed's "
                f"instruction difficulties, which were estimated against GPT-4 Turbo's outputs, not {reference}'s; "
                "read them as approximate.",
                "",
            ]
    return lines


def history_section(appended: Path) -> list[str]:
    """Each pair's earlier evaluations from history.parquet, as `model (vs reference): LC x (date) → y now`."""
    record = json.loads(Path(appended).read_text(encoding="utf-8"))
    table = read_history(Path(record["history"]))
    lines = []
    for now in record["current"]:
        pair = table[(table["model"] == now["model"]) & (table["reference"] == now["reference"])]
        current = identity(pd.Series(now))
        earlier = pair[[identity(r) != current for _, r in pair.iterrows()]].sort_values("time", kind="stable")
        if earlier.empty:
            continue
        rows = [r for _, r in earlier.tail(3).iterrows()]
        steps = [f"{_history_value(r)} ({str(r['time'])[:10]})" for r in rows] + [f"{_history_value(now)} now"]
        judges = [*rows, now]
        for i in range(1, len(steps)):
            if not same_judge(judges[i - 1], judges[i]):
                steps[i] = f"**judge changed to {judge_label(judges[i])}:** {steps[i]}"
        against = "" if now["reference"] == PROMPT_REFERENCE else f" (vs {now['reference']})"
        lines.append(f"- {now['model']}{against}: {' → '.join(steps)}")
    intro = (
        f"Every evaluation appends one row per model and reference to `{record['history']}` (a row equal to an "
        "earlier one but for its time is not added); each model's earlier rows, with their dates. Numbers by "
        "different judges are not comparable: a change of judge (its name or identity) is marked in bold."
    )
    if not lines:
        return ["## History", "", f"No earlier evaluation of these models is recorded in `{record['history']}`.", ""]
    return ["## History", "", intro, "", *lines, ""]


def _identity(row: Any) -> str | None:
    """A history row's judge identity; None in rows written before it was kept."""
    ident = row.get("judge_identity")
    return ident if isinstance(ident, str) and ident else None


def judge_label(row: Any) -> str:
    """A history row's judge: its name and, where recorded, its identity."""
    return f"{row['judge']} ({_identity(row)})" if _identity(row) else str(row["judge"])


def same_judge(a: Any, b: Any) -> bool:
    """Two history rows by the same judge: the same name, and the same identity where both recorded one."""
    return a["judge"] == b["judge"] and (None in (_identity(a), _identity(b)) or _identity(a) == _identity(b))


def _history_value(row: Any) -> str:
    """LC win rate of a history row (win rate where LC is n/a)."""
    lc = row["length_controlled_winrate"]
    if lc is not None and not (isinstance(lc, float) and math.isnan(lc)):
        return f"LC {lc:.1f}"
    return f"win rate {row['win_rate']:.1f}"


def duplicates_notes(meta: dict[str, Any], tps: dict[str, dict[str, Any]]) -> list[str]:
    """What ``prompts.duplicates: first`` dropped: rows of the prompt set and of imported outputs files."""
    notes = []
    if meta.get("duplicates_dropped"):
        notes.append(
            f"{meta['duplicates_dropped']} row(s) of the prompt set repeated an earlier row's instruction and were "
            "dropped (`prompts.duplicates: first` keeps the first); each instruction is judged once."
        )
    for model, tp in tps.items():
        if tp.get("duplicates_dropped"):
            notes.append(
                f"{model}'s imported outputs ({tp.get('imported_from')}) repeated {tp['duplicates_dropped']} "
                "instruction(s); the first output of each was kept."
            )
    return [*notes, ""] if notes else []


def judging_notes(board: pd.DataFrame) -> list[str]:
    """Sentences on outputs the judge saw in an unusual form: unparsed, empty, cut to fit its context."""
    notes = []
    for row in board.itertuples():
        parts = []
        if row.unparsed:
            parts.append(f"{row.unparsed} unparsed judgment(s) dropped")
        if row.empty_outputs:
            parts.append(f"{row.empty_outputs} empty output(s), judged as they are")
        if row.truncated_for_judge:
            parts.append(f"{row.truncated_for_judge} pair(s) cut to fit the judge's context")
        if parts:
            notes.append(f"- {row.model}: " + "; ".join(parts) + ".")
    return [*notes, ""] if notes else []


def mixed_judge_notes(every: pd.DataFrame) -> list[str]:
    """A warning where a pair's judgments came from more than one judge identity (leaderboard.csv, all references)."""
    mixed = [
        f"{r.model}" + ("" if r.reference == PROMPT_REFERENCE else f" (vs {r.reference})")
        for r in every.itertuples()
        if isinstance(r.judge_identity, str) and ", " in r.judge_identity
    ]
    if not mixed:
        return []
    return [
        f"> **Warning: more than one judge.** The judgments of {', '.join(mixed)} come from more than one judge "
        f"({'; '.join(judge_identities(every))}): typically an API judge that answered later requests with another "
        "model than the cached judgments record. Numbers that mix judges are not comparable with one judge's; "
        "delete the judge cache to judge everything with one.",
        "",
    ]


def _figure(out: Path, path: Path, alt: str) -> str:
    return f"![{alt}]({os.path.relpath(path, out.parent)})"


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
        _figure(out, by_name["win_rates"], "win rates"),
        "",
        "Output lengths (characters) per model next to the reference's; a judge that likes long answers "
        "rewards the longer box.",
        "",
        _figure(out, by_name["lengths"], "output lengths"),
        "",
        "The judge's preference for the model against how much longer (right) or shorter (left) its answer is "
        "than the reference; the black line is the mean per length-difference decile.",
        "",
        _figure(out, by_name["length_preference"], "preference against length difference"),
        "",
        "Win rate per AlpacaEval source subset (95% error bars):",
        "",
        _figure(out, by_name["subsets"], "win rate per subset"),
        "",
        *lines,
        "",
    ]


def _ci(value: float, low: float, high: float, sign: str = "") -> str:
    return f"{value:{sign}.1f} [{low:{sign}.1f}, {high:{sign}.1f}]"


def _paired_phrase(paired: dict[str, Any], metric: str) -> str:
    """A paired difference with its CI: "+3.1 points against zero_shot (95% CI [-2.0, +8.1])"."""
    diff = "lc_diff" if metric == "lc_win_rate" and paired["lc_diff"] is not None else "win_rate_diff"
    value, low, high = paired[diff], paired[f"{diff}_ci_low"], paired[f"{diff}_ci_high"]
    what = "" if diff == "lc_diff" or metric == "win_rate" else " of win rate (LC n/a)"
    return f"{value:+.1f} points{what} against {paired['against']} (paired 95% CI [{low:+.1f}, {high:+.1f}])"


def sweep_section(out: Path, table: pd.DataFrame, verdict: dict[str, Any], figure: Path) -> list[str]:
    """One checkpoint sweep: win rates against the step, the best step, and whether the end still improves."""
    name, best, trend = verdict["sweep"], verdict["best"], verdict["trend"]
    metric = "LC win rate" if verdict["metric"] == "lc_win_rate" else "win rate (LC is n/a for a checkpoint)"
    lines = [
        f"## Checkpoint sweep: {name}",
        "",
        f"{len(table)} checkpoints of {name} (steps {', '.join(str(s) for s in table['step'])}), each judged like "
        f"the models above; the baseline is {verdict['baseline']} (the horizontal lines). Percentages with 95% "
        "intervals (1.96 standard errors).",
        "",
        "| step | model | win rate (%) | LC win rate (%) |",
        "|---|---|---|---|",
        *[
            f"| {r.step} | {r.model} | {_ci(r.win_rate, r.win_rate_ci_low, r.win_rate_ci_high)} | "
            + ("n/a" if pd.isna(r.lc_win_rate) else _ci(r.lc_win_rate, r.lc_win_rate_ci_low, r.lc_win_rate_ci_high))
            + " |"
            for r in table.itertuples()
        ],
        "",
        _figure(out, figure, f"sweep {name}"),
        "",
        f"**Best step: {best['step']}** ({best['model']}) by {metric}, {best['value']:.1f}%"
        + (
            f" (tied with step{'s' if len(best['tied_steps']) > 1 else ''} "
            f"{', '.join(str(s) for s in best['tied_steps'])}; its higher win rate decides): "
            if best.get("tied_steps")
            else ": "
        )
        + _paired_phrase(best["vs_baseline"], verdict["metric"])
        + (
            f" and {_paired_phrase(best['vs_final'], verdict['metric'])}."
            if best["vs_final"]
            else "; it is the final checkpoint."
        ),
        f"The last checkpoints (step {trend['from_step']} to {trend['to_step']}) "
        + ("**still improve significantly**" if trend["improving"] else "**do not improve significantly**")
        + f": step {trend['to_step']} is {_paired_phrase(trend, verdict['metric'])}.",
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


def _code(text: str) -> str:
    """`text` as an inline code span, also when it holds backticks; control characters escaped (`io.visible`)."""
    text = visible(text)
    return f"`` {text} ``" if "`" in text else f"`{text}`"


def taxonomy_section(taxonomies: list[dict[str, Any]]) -> list[str]:
    """Counts and rates of each error class over all losses, with one example each."""
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
    for t in taxonomies:
        lines += [f"Examples for {t['model']}:", ""]
        for c, cat in t["categories"].items():
            ex = cat["example"]
            if ex:
                snippet = _code(" ".join(ex["output"].split())[:160]) if ex["output"].strip() else "(empty)"
                lines.append(f"- {c}: prompt {ex['prompt_index']} “{' '.join(ex['instruction'].split())[:80]}” → "
                             f"{snippet} ({len(ex['output'])} chars; reference {ex['reference_chars']})")  # fmt: skip
        lines.append("")
    return lines


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


def _share(part: dict[str, Any]) -> str:
    if part["n"] == 0:
        return "n/a"
    return f"{part['percent']:.1f} [{part['ci_low']:.1f}, {part['ci_high']:.1f}] ({part['k']}/{part['n']})"


NOT_AUDITED = (
    "Not run (opt-in): set `judge.audit: {swap: N}` to judge N sampled pairs of every model in both orders and "
    "measure how often the judge's winner depends on which output it sees first."
)


def audit_section(judge: dict[str, Any], annotations: list[Path], agreement: dict[str, Any] | None) -> list[str]:
    """The judge audit: position flips and longer-output wins per pair and pooled, and the verdict."""
    lines = ["## Judge audit", ""]
    swap = judge["audit"]["swap"]
    if not swap:
        return [*lines, NOT_AUDITED, ""]
    pairs = []
    for path in annotations:
        records = read_records(path)
        pairs.append((str(records[0]["generator_2"]), str(records[0]["generator_1"]), records))
    summary = audit_summary(pairs, agreement)
    lines += [
        f"Up to {swap} sampled pairs of every model and reference were judged twice, once with each output shown "
        "first (alpaca_eval shows each pair once, in a random order). A position flip is a pair whose winner changed "
        "with the order. Longer output wins: of the judgments with a winner whose two outputs differ in length, the "
        "share the longer output won (all judged pairs). Percentages with Wilson 95% intervals.",
        "",
        "| model | reference | position flips (%) | longer output wins (%) |",
        "|---|---|---|---|",
        *[
            f"| {r['model']} | {r['reference']} | {_share(r['flips'])} | {_share(r['longer'])} |"
            for r in summary["pairs"]
        ],  # fmt: skip
        f"| **all pairs** | | {_share(summary['pooled']['flips'])} | {_share(summary['pooled']['longer'])} |",
        "",
    ]
    if summary["agreement"] is not None:
        lines += [f"Agreement with the official judge (judge validation): same winner in {summary['agreement']:.1f}% "
                  "of the published pairs.", ""]  # fmt: skip
    return [*lines, summary["verdict"], ""]


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
) -> None:
    """The report step: assemble ``report.md`` from the outputs of every other step.

    `annotations` are every (model, reference) pair's annotations (for the judge audit);
    `validation` is validate_judge's agreement.json, or None when it is not enabled;
    `sweep_*` are the sweep step's outputs, one per sweep (none without sweeps).
    """
    board = read_leaderboard(leaderboard)
    if board.empty:
        raise AlpacaflowError(f"{leaderboard}: empty leaderboard")
    source = json.loads(Path(meta).read_text())
    reference = reference_generators(prompts)
    tps = {m: read_throughput(p) for m, p in zip(models, throughputs, strict=True)}
    judge_model = judge["openai_model"] if judge["backend"] == "openai" else judge["model"]
    every = read_leaderboard(leaderboard, None)
    revision = source.get("revision_resolved") or source.get("revision_requested") or "local file"
    unparsed = int(board["unparsed"].sum())
    parts = [
        "# AlpacaEval 2.0 report",
        "",
        *leak_warnings(models, outputs, prompts),
        f"Each model answered {source['rows_kept']} prompts of `{source['source']}` ({revision}); the judge compared "
        f"every answer with the reference answer by **{reference}**. Judge: **{judge_name(judge)}** "
        f"(`{judge_model}`, backend {judge['backend']}, method {judge['method']}; identity: "
        f"{'; '.join(judge_identities(every)) or 'not recorded'}). Win rates are alpaca_eval's "
        "(`get_winrate`), length-controlled (LC) win rates its `length_controlled_v1` GLM; ± is one standard error.",
        "",
        *mixed_judge_notes(every),
        *duplicates_notes(source, tps),
        "## Leaderboard",
        "",
        leaderboard_markdown(board),
        f"{unparsed} judgment(s) could not be parsed even after retries; they are dropped and win rates "
        "are over the parsed ones."
        if unparsed
        else "Every judgment was parsed.",
        "",
        *judging_notes(board),
        *(
            [
                f"Only {int(board['n_total'].max())} prompts were judged: the LC GLM has little data to fit and, "
                "regularized, pulls LC win rates towards 50%. Read LC numbers from full 805-prompt runs.",
                "",
            ]
            if board["n_total"].max() < 200
            else []
        ),
        *head_to_head_sections(leaderboard),
        "## Generation speed",
        "",
        *[speed_sentence(m, tps[m]) for m in models],
        "",
    ]
    base = models[0]
    by_model = board.set_index("model", drop=False)
    comparisons = []
    for m in models[1:]:
        ratio = ratio_sentence(m, base, tps[m], tps[base])
        comparisons += [s for s in (ratio, winrate_sentence(by_model.loc[m], by_model.loc[base])) if s]
    if comparisons:
        parts += [f"## Against {base}", "", *comparisons, ""]
    for table, verdict, figure in zip(sweep_tables, sweep_verdicts, sweep_figures, strict=True):
        parts += sweep_section(report, pd.read_csv(table), json.loads(Path(verdict).read_text()), figure)
    parts += plots_section(report, figures, pd.read_csv(subsets))
    parts += comparison_section(pd.read_csv(comparison))
    parts += taxonomy_section([json.loads(Path(p).read_text(encoding="utf-8")) for p in taxonomies])
    parts += context_section(pd.read_csv(context), context_models, judge_name(judge))
    agreement = json.loads(validation.read_text()) if validation else None
    parts += ["## Judge validation", "", *validation_markdown(agreement)]
    parts += audit_section(judge, annotations, agreement)
    parts += history_section(history)
    parts += ["## Error samples", "", "Random losses to the reference, for error analysis.", ""]
    parts += [Path(p).read_text(encoding="utf-8") for p in error_samples]
    write_text(report, "\n".join(parts).rstrip() + "\n")
    print(f"wrote {report}")
