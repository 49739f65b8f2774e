"""Judging Arena-Hard-Auto: two games per question, the label parsed as the official pipeline parses it, cached.

For each question and model (`judge_arena`), as the official ``gen_judgment.py`` does:
game 1 shows the category's baseline as assistant A and the model as B,
game 2 the model as A and the baseline as B; each game is the category's
system prompt and the version's user template filled with the question and
the two answers (``protocol.json``), decoded by the configured judge's
engine (``chat`` of `engines.judge_vllm` or `engines.judge_openai`) with the
version's max tokens and temperature. The label is `metrics.arena.parse_label`'s;
a game without one is recorded with ``score: null`` (the official pipeline
does not ask again either) and its question is left out of the score.

Each game's judgment is cached in the pair's ``judge_cache/arena-<judge>-<key>.json``
(the judge's identity is in the key, as for AlpacaEval), keyed by a hash of
the game's messages and decoding: the question, both answers and their order.
A rerun judges only games not in the cache; the cache is saved every
``judge.checkpoint_every`` games, so a killed job redoes at most that many.
A local judge whose context cannot hold a game's prompt and its answer
tokens gets both answers cut to fit (the longer first; counted).
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import pandas as pd

from ...engines import judge_engine
from ...errors import Stopped, Terminated, saved_work, stopped_by_signal
from ...io import write_json
from ...judge_prompts import fit_texts
from ...judge_settings import identity_label
from ...metrics.arena import parse_label


def arena_judge_name(judge: dict[str, Any]) -> str:
    """The judge as the official judgment files name it: the API model, or the local model folder's name."""
    if judge.get("name"):
        return judge["name"]
    return judge["openai_model"] if judge["backend"] == "openai" else Path(judge["model"].rstrip("/")).name


def game_messages(question: str, answer_a: str, answer_b: str, category: dict[str, str], template: str) -> list[dict]:
    """One game's messages: the category's system prompt, the template filled with the question and answers."""
    user = template.format(QUESTION=question, ANSWER_A=answer_a, ANSWER_B=answer_b)
    return [{"role": "system", "content": category["system_prompt"]}, {"role": "user", "content": user}]


def game_key(messages: list[dict], max_tokens: int, temperature: float) -> str:
    """A game's cache key: its messages and decoding (the judge's identity is in the cache file's name)."""
    payload = json.dumps({"messages": messages, "max_tokens": max_tokens, "temperature": temperature}, sort_keys=True)
    return hashlib.sha256(payload.encode()).hexdigest()


def _cached(path: Path) -> dict[str, dict[str, Any]]:
    try:
        found = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return found if isinstance(found, dict) else {}


def fit_answers(row: Any, judge: dict[str, Any], protocol: dict[str, Any], max_tokens: int) -> tuple[str, str, bool]:
    """The model's and the baseline's answers, cut to fit a local judge's context (API judges: as they are)."""
    fixed = game_messages(row.instruction, "", "", protocol["categories"][row.dataset], protocol["prompt_template"])
    (model, baseline), cut = fit_texts(judge, fixed, [str(row.output), str(row.reference_output)], max_tokens)
    return model, baseline, cut


def build_games(table: pd.DataFrame, judge: dict[str, Any], protocol: dict[str, Any],
                max_tokens: int) -> tuple[list[tuple[list[dict], list[dict]]], list[bool]]:  # fmt: skip
    """Each question's two games (the baseline as A, then the model as A), and whether its answers were cut."""
    games, cut = [], []
    template = protocol["prompt_template"]
    for row in table.itertuples():
        answer, baseline, was_cut = fit_answers(row, judge, protocol, max_tokens)
        category = protocol["categories"][row.dataset]
        first = game_messages(row.instruction, baseline, answer, category, template)
        games.append((first, game_messages(row.instruction, answer, baseline, category, template)))
        cut.append(was_cut)
    return games, cut


def play(games: list[list[dict]], judge: dict[str, Any], decoder: Any, cache_path: Path, *, max_tokens: int,
         temperature: float) -> tuple[dict[str, dict[str, Any]], list[str], int]:  # fmt: skip
    """Judge the games not in the cache, saving it every ``checkpoint_every``: (cache, each game's key, judged now)."""
    engine = judge_engine(judge)
    keys = [game_key(g, max_tokens, temperature) for g in games]
    cache = _cached(cache_path)
    todo = [i for i, key in enumerate(keys) if key not in cache]
    cost = engine.chat_cost_line([games[i] for i in todo], judge, max_tokens) if todo else None
    if cost:
        print(cost, flush=True)

    def saved() -> str:
        return saved_work(sum(k in cache for k in keys), len(keys), "games", cache_path)

    try:
        for start in range(0, len(todo), judge["checkpoint_every"]):
            chunk = todo[start : start + judge["checkpoint_every"]]
            answers = engine.chat(decoder, judge, [games[i] for i in chunk], max_tokens=max_tokens,
                                  temperature=temperature)  # fmt: skip
            cache.update({keys[i]: {"judgment": text, "reported_model": reported}
                          for i, (text, reported) in zip(chunk, answers, strict=True)})  # fmt: skip
            write_json(cache_path, cache)
            print(f"checkpoint: {saved()}", flush=True)
    except Terminated as exc:
        raise stopped_by_signal(exc, sum(k in cache for k in keys), len(keys), "games", cache_path) from None
    except Exception as exc:
        failure = engine.failure(exc)
        if failure is None:
            raise
        raise Stopped(f"{failure}; {saved()}") from None
    return cache, keys, len(todo)


def judge_arena(
    table: pd.DataFrame, model: str, protocol: dict[str, Any], judge: dict[str, Any], *, cache_path: Path,
    decoder: Any, identity: dict[str, str], max_tokens: int, temperature: float,
) -> tuple[list[dict[str, Any]], dict[str, Any]]:  # fmt: skip
    """Judge one model's answers (`table`: the questions with an ``output`` column): records and counts.

    Records are the official ``model_judgment`` lines (``uid``, ``category``,
    ``judge``, ``model``, ``baseline``, ``games``), in question order, with
    the judge's identity, whether the answers were cut for the judge, and the
    question and both answers as they are (for error analysis).
    """
    games, cut = build_games(table, judge, protocol, max_tokens)
    flat = [g for pair in games for g in pair]
    cache, keys, judged = play(flat, judge, decoder, cache_path, max_tokens=max_tokens, temperature=temperature)
    records = []
    for n, row in enumerate(table.itertuples()):
        entries = [cache[keys[2 * n + g]] for g in (0, 1)]
        patterns = protocol["regex_patterns"]
        results = [{"score": parse_label(e["judgment"], patterns), "judgment": {"answer": e["judgment"]},
                    "prompt": games[n][g]} for g, e in enumerate(entries)]  # fmt: skip
        reported = sorted({e.get("reported_model") for e in entries} - {None})
        label = identity_label({**identity, "api_model": reported[0]}) if reported else identity_label(identity)
        records.append({"uid": row.uid, "category": row.dataset, "judge": arena_judge_name(judge), "model": model,
                        "baseline": row.reference_generator, "games": results, "prompt_index": int(row.index),
                        "judge_identity": label, "truncated_for_judge": cut[n], "instruction": row.instruction,
                        "output": str(row.output), "reference_output": str(row.reference_output)})  # fmt: skip
    null = sum(any(g["score"] is None for g in r["games"]) for r in records)
    counts = {"n": len(records), "games": len(keys), "judged_this_run": judged, "reused_from_cache": len(keys) - judged,
              "null_games": null, "truncated_for_judge": sum(cut)}  # fmt: skip
    return records, counts
