"""The error_sample step: random losses to the reference, for error analysis.

`sample_losses` draws, with a fixed seed (``error_sample.seed``), up to
``error_sample.n`` annotations where the judge preferred the reference
(`preferences.is_loss`). The draw is written as JSON Lines (every field,
the judge's raw output included) and as the Markdown the report includes.
On an Arena-Hard benchmark (``results/<model>/arena_hard-<v>/``) a loss is a
question whose battles the model lost on balance (`metrics.arena.record_battles`:
their mean below 0.5), and the judge's output is both games' judgments.
On MT-Bench (``results/<model>/mt_bench/``) the sample is the ``n`` lowest-rated
answers (`lowest_rated`: both turns, unparsed ratings left out, ties in a seeded random order).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

from ..dialogues import is_conversation
from ..io import jsonl, read_records, visible, write_text
from ..metrics.arena import record_battles
from ..metrics.mt_bench import UNPARSED
from ..preferences import is_loss


def arena_entry(record: dict[str, Any]) -> dict[str, Any]:
    """An Arena-Hard judgment record as an annotation: preference 1-2 (2: the model won every battle), both games."""
    battles = record_battles(record)
    games = record.get("games") or []
    return {
        "prompt_index": record.get("prompt_index"), "dataset": record.get("category"),
        "instruction": record.get("instruction", ""), "output_2": record.get("output", ""),
        "output_1": record.get("reference_output", ""),
        "preference": 1 + sum(battles) / len(battles) if battles else None,
        "annotator": record.get("judge"),
        "preference_raw_completion": " | ".join(f"game {k}: {g.get('score')}" for k, g in enumerate(games, 1)),
    }  # fmt: skip


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


def lowest_rated(records: list[dict[str, Any]], n: int, seed: int) -> list[dict[str, Any]]:
    """MT-Bench's `n` lowest-rated answers (unparsed ratings left out; ties in a seeded random order)."""
    rated = [r for r in records if r.get("score") != UNPARSED]
    shuffle = np.random.default_rng(seed).permutation(len(rated))
    order = sorted(range(len(rated)), key=lambda i: (rated[i]["score"], shuffle[i]))
    return [
        {"question_id": rated[i]["question_id"], "turn": rated[i]["turn"], "category": rated[i].get("category"),
         "instruction": rated[i].get("instruction", ""), "model_output": rated[i].get("output", ""),
         "rating": rated[i]["score"], "judge": rated[i]["judge"], "judge_raw_output": rated[i]["judgment"]}
        for i in order[:n]
    ]  # fmt: skip


def lowest_rated_markdown(model: str, sample: list[dict[str, Any]], n_rated: int) -> str:
    """One model's lowest-rated MT-Bench answers as Markdown."""
    lines = [f"### {model}: the {len(sample)} lowest-rated of {n_rated} rated answers", ""]
    for k, ex in enumerate(sample, 1):
        lines += [
            f"#### {k}. question {ex['question_id']} ({ex['category']}), turn {ex['turn']}, rating {ex['rating']}",
            "", f"**Question (turn {ex['turn']})**", "", _quote(ex["instruction"]), "", f"**{model}**", "",
            _quote(ex["model_output"]), "",
            f"**Judge ({ex['judge'][1]}) raw output**: `{visible(ex['judge_raw_output'][:300])}`", "",
        ]  # fmt: skip
    return "\n".join(lines)


def _quote(text: str) -> str:
    """`text` as a Markdown block quote, control characters escaped (`io.visible`)."""
    return "\n".join("> " + line for line in visible(text or "(empty)").splitlines() or ["(empty)"])


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
            "**Conversation** (the models answer its last user turn)"
            if is_conversation(ex["instruction"])
            else "**Instruction**",
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
            f"**Judge raw output**: `{visible(raw_text[:300])}`",
            "",
        ]
    return "\n".join(lines)


def run(*, annotations: Path, model: str, discrete: bool, n: int, seed: int, jsonl: Path, md: Path) -> None:
    """The error_sample step: draw one model's error sample and write it as JSON Lines and Markdown."""
    records = read_records(annotations)
    if records and "turn" in records[0]:  # MT-Bench's gradings
        sample = lowest_rated(records, n, seed)
        rated = sum(r["score"] != UNPARSED for r in records)
        write_sample(jsonl, md, sample, lowest_rated_markdown(model, sample, rated))
        print(f"sampled the {len(sample)} lowest-rated answers of {model}")
        return
    if records and "games" in records[0]:  # an Arena-Hard benchmark's judgments
        records, discrete = [arena_entry(r) for r in records], False
    sample = sample_losses(records, discrete, n, seed)
    n_losses = sum(is_loss(r.get("preference"), discrete) for r in records)
    write_sample(jsonl, md, sample, error_sample_markdown(model, sample, n_losses, len(records)))
    print(f"sampled {len(sample)} losses of {model}")


def write_sample(jsonl_path: Path, md: Path, sample: list[dict[str, Any]], markdown: str) -> None:
    """The sample as JSON Lines (every field) and its Markdown."""
    write_text(jsonl_path, jsonl(sample))
    write_text(md, markdown)
