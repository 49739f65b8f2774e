"""Arena-Hard-Auto's data, read from its official repository at a pinned revision (or a local copy of it).

What a version needs, from ``github.com/lmarena/arena-hard-auto`` (the files
of the repository, so that they are the ones its own pipeline reads):

* ``data/arena-hard-<v>/question.jsonl``: ``{uid, category, prompt}`` (v2.0
  adds ``subcategory``);
* ``utils/judge_utils.py``: ``JUDGE_SETTINGS``, per category its baseline
  model and the judge's system prompt (read with `ast`, never executed);
* ``data/arena-hard-<v>/model_answer/<baseline>.jsonl``: each baseline's
  answers (``messages[-1].content.answer``) and style metadata;
* ``config/arena-hard-<v>.yaml``: the judge model, temperature, max tokens,
  the label patterns and the user-prompt template.

These texts are data: fetched into ``results/arena_hard-<v>/`` by the
download_benchmark step and never copied into this project (tests use
stand-ins of the same shape). `question_table` makes the questions a prompt
table (`io.PROMPT_COLUMNS`: the baseline's answer is each row's reference,
so that generation and the leaderboard treat them as any prompt set);
`judge_protocol` (``protocol.json``) keeps what the judge needs.

The official style metadata counts an answer's tokens with tiktoken's
``o200k_base`` encoding, which tiktoken downloads on first use (that fails
offline): `fetch_encoding` reads it from OpenAI's public URL (tiktoken's own)
or a local file, checks tiktoken's pinned SHA-256 and download_benchmark
keeps it under tiktoken's cache name (`ENCODING_CACHE_NAME`), so that later
steps run tiktoken with no network.
"""

from __future__ import annotations

import ast
import hashlib
import json
from pathlib import Path
from typing import Any

import pandas as pd
import yaml

from ...errors import AlpacaflowError
from ...hub import read_source
from ...io import PROMPT_COLUMNS

#: tiktoken's o200k_base (``encoding_for_model("gpt-4o")``): where tiktoken fetches it, and the SHA-256 it expects.
ENCODING_URL = "https://openaipublic.blob.core.windows.net/encodings/o200k_base.tiktoken"
ENCODING_SHA256 = "446a9538cb6c348e3516120d7c08b09f57c36495e2acfffe59a5bf8b0cfb1a2d"
#: The file name tiktoken's cache (TIKTOKEN_CACHE_DIR) looks it up by: the SHA-1 of its URL.
ENCODING_CACHE_NAME = hashlib.sha1(ENCODING_URL.encode()).hexdigest()


def fetch_encoding(source: str) -> tuple[bytes, str]:
    """The o200k_base encoding file from `source` (a URL or a local file), checked against tiktoken's SHA-256."""
    data = read_source(source, "o200k_base.tiktoken", " (arena_hard.encoding may name a local copy of the file)")
    if hashlib.sha256(data).hexdigest() != ENCODING_SHA256:
        raise AlpacaflowError(f"{source}: not tiktoken's o200k_base.tiktoken (SHA-256 differs from {ENCODING_SHA256})")
    return data, source


def _value(node: ast.AST, names: dict[str, Any]) -> Any:
    """A literal, with names bound earlier in the module resolved (the system prompts are module constants)."""
    if isinstance(node, ast.Name):
        if node.id not in names:
            raise ValueError(node.id)
        return names[node.id]
    if isinstance(node, ast.Dict):
        return {_value(k, names): _value(v, names) for k, v in zip(node.keys, node.values, strict=True) if k}
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add):
        return _value(node.left, names) + _value(node.right, names)
    return ast.literal_eval(node)


def judge_settings(text: str, where: str) -> dict[str, dict[str, str]]:
    """``JUDGE_SETTINGS`` of ``utils/judge_utils.py``, read with `ast` (the file is never executed)."""
    names: dict[str, Any] = {}
    for node in ast.parse(text).body:
        if isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name):
            try:
                names[node.targets[0].id] = _value(node.value, names)
            except (ValueError, TypeError, SyntaxError):
                continue
    settings = names.get("JUDGE_SETTINGS")
    if (
        not isinstance(settings, dict)
        or not settings
        or not all(
            isinstance(s, dict) and isinstance(s.get("baseline"), str) and isinstance(s.get("system_prompt"), str)
            for s in settings.values()
        )
    ):
        raise AlpacaflowError(f"{where}: no JUDGE_SETTINGS with a baseline and a system prompt per category")
    return {c: {"baseline": s["baseline"], "system_prompt": s["system_prompt"]} for c, s in settings.items()}


def answer_text(record: dict[str, Any]) -> str:
    """The answer of an official ``model_answer`` record: its last message's ``content.answer``."""
    content = (record.get("messages") or [{}])[-1].get("content")
    answer = content.get("answer") if isinstance(content, dict) else content
    return answer if isinstance(answer, str) else ""


def official_answers(records: list[dict[str, Any]], where: str, questions: pd.DataFrame,
                     subset: bool = False) -> list[str]:  # fmt: skip
    """The answers of an official ``model_answer`` file, in the question table's order (matched by ``uid``).

    A question without an answer, or an answer to a question not in the table
    (another version's file), is an error naming one; on a `subset` of the
    version's questions (``max_instances``) the other questions' answers are left out.
    """
    by_uid = {r.get("uid"): answer_text(r) for r in records}
    missing = [u for u in questions["uid"] if u not in by_uid]
    if missing:
        raise AlpacaflowError(f"{where}: {len(missing)} question(s) have no answer, e.g. uid {missing[0]}; "
                              "is it this version's answer file?")  # fmt: skip
    extra = sorted(set(by_uid) - set(questions["uid"]), key=str)
    if extra and not subset:
        raise AlpacaflowError(f"{where}: {len(extra)} answer(s) to questions not in this version, e.g. uid {extra[0]}")
    return [by_uid[u] for u in questions["uid"]]


def question_table(
    questions: list[dict[str, Any]], baselines: dict[str, dict[str, dict[str, Any]]],
    settings: dict[str, dict[str, str]], where: str,
) -> pd.DataFrame:  # fmt: skip
    """The questions as a prompt table: the category's baseline answer is each row's reference.

    `baselines` maps a baseline model to its answer records by uid.
    """
    rows = []
    seen: set[str] = set()
    for n, question in enumerate(questions):
        uid, category, prompt = question.get("uid"), question.get("category"), question.get("prompt")
        if not isinstance(uid, str) or not isinstance(prompt, str) or not prompt.strip():
            raise AlpacaflowError(f"{where}: line {n + 1}: a question needs a uid and a prompt")
        if uid in seen:
            raise AlpacaflowError(f"{where}: line {n + 1}: uid {uid} appears twice")
        seen.add(uid)
        if category not in settings:
            raise AlpacaflowError(f"{where}: question {uid}: category {category!r} has no judge settings")
        baseline = settings[category]["baseline"]
        answer = baselines.get(baseline, {}).get(uid)
        if answer is None or not answer_text(answer).strip():
            raise AlpacaflowError(f"{where}: question {uid} has no answer of its baseline {baseline}")
        metadata = json.dumps(answer["metadata"]) if answer.get("metadata") else ""
        rows.append({"index": n, "instruction": prompt, "dataset": category, "reference_output": answer_text(answer),
                     "reference_generator": baseline, "uid": uid, "subcategory": question.get("subcategory") or "",
                     "reference_metadata": metadata})  # fmt: skip
    return pd.DataFrame(rows, columns=[*PROMPT_COLUMNS, "uid", "subcategory", "reference_metadata"])


def judge_protocol(
    config: dict[str, Any], settings: dict[str, dict[str, str]], categories: list[str]
) -> dict[str, Any]:
    """What the judge needs for a version: the official judge, decoding, label patterns, templates per category."""
    needed = ("judge_model", "temperature", "max_tokens", "regex_patterns", "prompt_template")
    missing = [k for k in needed if k not in config]
    if missing:
        raise AlpacaflowError(f"the version's config lacks {missing}")
    return {
        **{k: config[k] for k in needed},
        "categories": {c: settings[c] for c in categories},
    }


def load_protocol(path: str | Path) -> dict[str, Any]:
    """A version's protocol.json (download_benchmark's)."""
    return json.loads(Path(path).read_text(encoding="utf-8"))


def read_config(data: bytes, where: str) -> dict[str, Any]:
    try:
        config = yaml.safe_load(data.decode("utf-8"))
    except yaml.YAMLError as exc:
        raise AlpacaflowError(f"{where}: not readable YAML ({exc})") from None
    if not isinstance(config, dict):
        raise AlpacaflowError(f"{where}: not a mapping")
    return config
