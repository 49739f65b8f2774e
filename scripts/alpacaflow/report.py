"""Error samples and the final report.

`sample_losses` draws, with a fixed seed, annotations where the judge
preferred the reference (preference 1 for discrete judges, below 1.5 for
weighted ones) for error analysis. `write_report` turns the leaderboard,
throughput files and error samples into ``report.md``: which judge, method
and reference were used, the leaderboard, speed and win-rate comparisons in
sentences, and the error samples.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from .errors import AlpacaflowError
from .io import atomic_path, read_parquet, read_records, write_text
from .judge_settings import judge_name
from .metrics import leaderboard_markdown


def is_loss(preference: Any, discrete: bool) -> bool:
    """True when the judge preferred the reference (output_1)."""
    if preference is None or (isinstance(preference, float) and math.isnan(preference)):
        return False
    return preference == 1.0 if discrete else preference < 1.5


def sample_losses(records: list[dict[str, Any]], discrete: bool, n: int, seed: int) -> list[dict[str, Any]]:
    """Up to `n` losses drawn at random (seeded), in the order drawn."""
    losses = [r for r in records if is_loss(r.get("preference"), discrete)]
    rng = np.random.default_rng(seed)
    picks = rng.choice(len(losses), size=min(n, len(losses)), replace=False) if losses else []
    return [
        {
            "prompt_index": losses[i].get("prompt_index"),
            "dataset": losses[i].get("dataset"),
            "instruction": losses[i]["instruction"],
            "model_output": losses[i]["output_2"],
            "reference_output": losses[i]["output_1"],
            "preference": losses[i]["preference"],
            "judge": losses[i].get("annotator"),
            "judge_raw_output": losses[i].get("preference_raw_completion"),
        }
        for i in picks
    ]


def _quote(text: str) -> str:
    return "\n".join("> " + line for line in (text or "(empty)").splitlines() or ["(empty)"])


def error_sample_markdown(model: str, sample: list[dict[str, Any]], n_losses: int, n_total: int) -> str:
    """One model's error sample as Markdown."""
    lines = [
        f"### {model}: {len(sample)} of {n_losses} losses to the reference ({n_total} judged)",
        "",
    ]
    for k, ex in enumerate(sample, 1):
        raw = ex["judge_raw_output"]
        raw_text = raw if isinstance(raw, str) else json.dumps(raw, ensure_ascii=False)
        lines += [
            f"#### {k}. prompt {ex['prompt_index']} ({ex['dataset']}), preference {ex['preference']:.3f}",
            "",
            "**Instruction**",
            "",
            _quote(ex["instruction"]),
            "",
            f"**{model}**",
            "",
            _quote(ex["model_output"]),
            "",
            "**Reference**",
            "",
            _quote(ex["reference_output"]),
            "",
            f"**Judge raw output**: `{raw_text[:300]}`",
            "",
        ]
    return "\n".join(lines)


def write_error_sample(
    annotations: Path, model: str, discrete: bool, n: int, seed: int, out_jsonl: Path, out_md: Path
) -> list[dict[str, Any]]:
    """Draw the error sample for one model and write it as JSON Lines and Markdown."""
    records = read_records(annotations)
    sample = sample_losses(records, discrete, n, seed)
    n_losses = sum(is_loss(r.get("preference"), discrete) for r in records)
    with atomic_path(out_jsonl) as tmp:
        tmp.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in sample), encoding="utf-8")
    write_text(out_md, error_sample_markdown(model, sample, n_losses, len(records)))
    return sample


def _throughput(path: Path) -> dict[str, Any]:
    return json.loads(Path(path).read_text())


def speed_sentence(model: str, tp: dict[str, Any]) -> str:
    """One sentence on a model's generation speed."""
    if "examples_per_second" not in tp:
        return f"- **{model}**: outputs imported from `{tp.get('imported_from')}`; no generation timings."
    return (
        f"- **{model}** ({tp['backend']} on {tp['device']}): {tp['n_examples']} responses in "
        f"{tp['generate_seconds']:.1f} s, i.e. {tp['seconds_per_example']:.3f} s per example, "
        f"{tp['examples_per_second']:.2f} examples/s and {tp['output_tokens_per_second']:.0f} output tokens/s "
        f"({load_phrase(tp)}; {tp['hit_max_new_tokens']} of {tp['n_examples']} responses hit max_new_tokens)."
    )


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


def winrate_sentence(row: pd.Series, base: pd.Series) -> str:
    """Compare one model's win rates with the baseline model's."""
    d_wr = row["win_rate"] - base["win_rate"]
    d_lc = row["length_controlled_winrate"] - base["length_controlled_winrate"]
    return (
        f"{row['model']} wins {row['win_rate']:.1f}% (LC {row['length_controlled_winrate']:.1f}%) of its comparisons "
        f"with the reference, against {base['win_rate']:.1f}% (LC {base['length_controlled_winrate']:.1f}%) for "
        f"{base['model']}: {d_wr:+.1f} points of win rate and {d_lc:+.1f} points of LC win rate "
        f"(standard errors {row['standard_error']:.1f} and {base['standard_error']:.1f} points)."
    )


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


def write_report(
    models: list[str],
    leaderboard_csv: Path,
    throughputs: list[Path],
    error_samples: list[Path],
    prompts_meta: Path,
    prompts_table: Path,
    judge: dict[str, Any],
    out: Path,
) -> str:
    """Assemble report.md from the step outputs."""
    board = pd.read_csv(leaderboard_csv)
    if board.empty:
        raise AlpacaflowError(f"{leaderboard_csv}: empty leaderboard")
    meta = json.loads(Path(prompts_meta).read_text())
    reference = ", ".join(sorted(read_parquet(prompts_table)["reference_generator"].astype(str).unique()))
    tps = {m: _throughput(p) for m, p in zip(models, throughputs, strict=True)}
    judge_model = judge["openai_model"] if judge["backend"] == "openai" else judge["model"]
    revision = meta.get("revision_resolved") or meta.get("revision_requested") or "local file"
    unparsed = int(board["unparsed"].sum())
    parts = [
        "# AlpacaEval 2.0 report",
        "",
        f"Each model answered {meta['rows_kept']} prompts of `{meta['source']}` ({revision}); the judge compared "
        f"every answer with the reference answer by **{reference}**. Judge: **{judge_name(judge)}** "
        f"(`{judge_model}`, backend {judge['backend']}, method {judge['method']}). Win rates are alpaca_eval's "
        "(`get_winrate`), length-controlled (LC) win rates its `length_controlled_v1` GLM; ± is one standard error.",
        "",
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
    parts += ["## Error samples", "", "Random losses to the reference, for error analysis.", ""]
    parts += [Path(p).read_text(encoding="utf-8") for p in error_samples]
    text = "\n".join(parts).rstrip() + "\n"
    write_text(out, text)
    return text
