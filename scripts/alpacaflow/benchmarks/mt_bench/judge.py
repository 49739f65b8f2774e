"""Grading MT-Bench: each answer's two turns rated 1-10 by the judge, parsed as FastChat parses them, cached.

For each question and model, as FastChat's ``gen_judgment.py --mode single``
does: turn 1 is graded with ``single-v1`` (``single-math-v1`` with the
reference answer for math, reasoning and coding), turn 2 with the
multi-turn prompts, which show the whole conversation and grade the second
answer (`mt_bench.grading_messages`). Each grading is the prompt's system
message and its filled user template, decoded by the configured judge's
engine with the official 2,048 tokens at temperature 0 (overridable). The
rating is `metrics.mt_bench.parse_rating`'s; a judgment without one is
recorded with score -1, counted, and left out of the scores, as FastChat's
``show_result.py`` leaves it out.

A local judge whose context cannot hold a grading's prompt and its
``max_tokens`` gets the answers it shows cut to fit (on turn 2 the longer of
the two first; `fit_answers`), and the grading is flagged
``truncated_for_judge`` and counted. Gradings are cached as Arena-Hard's games are (`arena_hard.judge.play`): in the
pair's ``judge_cache/mt_bench-<judge>-<key>.json``, keyed by the messages and
decoding; a rerun grades only what is not cached.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd

from ...judge_prompts import fit_texts
from ...judge_settings import identity_label
from ...metrics.mt_bench import UNPARSED, parse_rating
from ..arena_hard.judge import arena_judge_name, play
from .data import grading_messages, prompt_name


def fit_answers(row: Any, turn: int, answers: tuple[str, str], judge: dict[str, Any], prompts: dict[str, Any],
                max_tokens: int) -> tuple[tuple[str, str], bool]:  # fmt: skip
    """The answers a grading shows, cut to fit a local judge's context (API judges: as they are); whether cut."""
    shown, cut = fit_texts(judge, grading_messages(row, turn, ("", ""), prompts), list(answers[:turn]), max_tokens)
    return (shown[0], shown[1] if turn == 2 else answers[1]), cut


def judge_mt_bench(
    table: pd.DataFrame, model: str, protocol: dict[str, Any], judge: dict[str, Any], *, cache_path: Path,
    decoder: Any, identity: dict[str, str], max_tokens: int, temperature: float,
) -> tuple[list[dict[str, Any]], dict[str, Any]]:  # fmt: skip
    """Grade one model's answers (`mt_bench.answer_table`): records and counts.

    Records are FastChat's ``model_judgment`` lines (``question_id``,
    ``model``, ``judge`` as [judge, prompt name], ``user_prompt``,
    ``judgment``, ``score``, ``turn``), question by question, turn 1 first,
    with the category, the judge's identity, and the question and answer graded.
    """
    prompts = protocol["prompts"]
    fitted = [fit_answers(row, turn, (row.output, row.output_2), judge, prompts, max_tokens)
              for row in table.itertuples() for turn in (1, 2)]  # fmt: skip
    gradings = [grading_messages(row, turn, fitted[2 * n + turn - 1][0], prompts)
                for n, row in enumerate(table.itertuples()) for turn in (1, 2)]  # fmt: skip
    cache, keys, judged = play(gradings, judge, decoder, cache_path, max_tokens=max_tokens, temperature=temperature)
    name = arena_judge_name(judge)
    records = []
    for n, row in enumerate(table.itertuples()):
        for turn in (1, 2):
            entry = cache[keys[2 * n + turn - 1]]
            reported = entry.get("reported_model")
            label = identity_label({**identity, "api_model": reported} if reported else identity)
            records.append({"question_id": int(row.question_id), "model": model,
                            "judge": [name, prompt_name(row.dataset, turn)],
                            "user_prompt": gradings[2 * n + turn - 1][1]["content"], "judgment": entry["judgment"],
                            "score": parse_rating(entry["judgment"]), "turn": turn, "category": row.dataset,
                            "prompt_index": int(row.index), "judge_identity": label,
                            "instruction": row.instruction if turn == 1 else row.turn_2,
                            "output": row.output if turn == 1 else row.output_2,
                            "truncated_for_judge": fitted[2 * n + turn - 1][1]})  # fmt: skip
    unparsed = sum(r["score"] == UNPARSED for r in records)
    counts = {"n": len(table), "gradings": len(keys), "judged_this_run": judged,
              "reused_from_cache": len(keys) - judged, "unparsed": unparsed,
              "truncated_for_judge": sum(cut for _, cut in fitted)}  # fmt: skip
    return records, counts
