"""The export_arena step: an Arena-Hard-Auto version's answers and judgments in the official file layout.

Into ``results/official/data/arena-hard-<v>/`` (the layout the official
scripts read under their working folder's ``data/``):

* ``question.jsonl``: the questions (``uid``, ``category``, ``subcategory``, ``prompt``);
* ``model_answer/<model>.jsonl``: each model's answers and each baseline's,
  one line per question (``uid``, ``ans_id``, ``model``, ``messages`` with the
  answer as ``content.answer``, ``metadata``); the style metadata is
  `metrics.style.answer_metadata` (token length under tiktoken's o200k_base,
  read from download_benchmark's copy; header, list and bold counts), a
  baseline's as the official file carries it where it does;
* ``model_judgment/<judge>/<model>.jsonl``: each model's judgment records
  (``uid``, ``category``, ``judge``, ``model``, ``baseline``, ``games``).

So ``show_result.py -b arena-hard-<v> -j <judge>`` run in ``results/official``
reads alpacaflow's files, and published answers or judgments can be merged
in. The leaderboard's style-controlled score reads the metadata here.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import pandas as pd

from ..errors import AlpacaflowError
from ..io import covering_outputs, jsonl, load_prompt_table, read_records, write_folder
from ..metrics.style import answer_metadata, tiktoken_encoder

#: The keys of an official judgment line (annotations add alpacaflow's own).
JUDGMENT_KEYS = ("uid", "category", "judge", "model", "baseline", "games")


def answer_line(uid: str, model: str, question: str, answer: str, metadata: dict[str, Any]) -> dict[str, Any]:
    """One official ``model_answer`` line (its ``ans_id`` a hash of the model, question and answer)."""
    ans_id = hashlib.sha256(json.dumps([model, uid, answer]).encode()).hexdigest()[:22]
    messages = [{"role": "user", "content": question}, {"role": "assistant", "content": {"answer": answer}}]
    return {"uid": uid, "ans_id": ans_id, "model": model, "messages": messages, "metadata": metadata}


def baseline_lines(questions: pd.DataFrame, encoder: Any) -> dict[str, list[dict[str, Any]]]:
    """Each baseline's answer lines: the official metadata where its file has it, computed where not."""
    lines: dict[str, list[dict[str, Any]]] = {}
    for row in questions.itertuples():
        meta = json.loads(row.reference_metadata) if row.reference_metadata else None
        meta = meta or answer_metadata(row.reference_output, encoder)
        line = answer_line(row.uid, row.reference_generator, row.instruction, row.reference_output, meta)
        lines.setdefault(row.reference_generator, []).append(line)
    return lines


def model_lines(questions: pd.DataFrame, model: str, outputs: Path, encoder: Any) -> list[dict[str, Any]]:
    """A model's answer lines; its outputs must answer every question."""
    answers = covering_outputs(read_records(outputs), str(outputs), questions)
    return [answer_line(row.uid, model, row.instruction, answers[row.instruction],
                        answer_metadata(answers[row.instruction], encoder))
            for row in questions.itertuples()]  # fmt: skip


def judgment_lines(model: str, annotations: Path) -> tuple[str, list[dict[str, Any]]]:
    """A model's judgment lines and their judge; one judge per file (mixed judges are an error)."""
    records = read_records(annotations)
    judges = sorted({str(r.get("judge")) for r in records})
    if len(judges) != 1 or any(r.get("model") != model for r in records):
        raise AlpacaflowError(f"{annotations}: judgments of one model by one judge expected, found judges {judges}")
    return judges[0], [{k: r[k] for k in JUDGMENT_KEYS} for r in records]


def run(*, benchmark: str, prompts: Path, encoding: Path, models: list[str], outputs: list[Path],
        annotations: list[Path], folder: Path) -> None:  # fmt: skip
    """The export_arena step: `models`, `outputs` and `annotations` run in parallel, one entry per model."""
    questions = load_prompt_table(prompts)
    encoder = tiktoken_encoder(encoding.parent)
    files: dict[str, str] = {}
    for baseline, lines in baseline_lines(questions, encoder).items():
        files[f"model_answer/{baseline}.jsonl"] = jsonl(lines)
    judges = set()
    for model, output, annotation in zip(models, outputs, annotations, strict=True):
        if f"model_answer/{model}.jsonl" in files:
            raise AlpacaflowError(f"{benchmark}: the model {model} has a baseline's name")
        files[f"model_answer/{model}.jsonl"] = jsonl(model_lines(questions, model, output, encoder))
        judge, lines = judgment_lines(model, annotation)
        judges.add(judge)
        files[f"model_judgment/{judge}/{model}.jsonl"] = jsonl(lines)
    if len(judges) > 1:
        raise AlpacaflowError(f"{benchmark}: models judged by different judges {sorted(judges)}; rerun annotate")
    files["question.jsonl"] = jsonl([{"uid": r.uid, "category": r.dataset, "subcategory": r.subcategory,
                                      "prompt": r.instruction} for r in questions.itertuples()])  # fmt: skip
    write_folder(folder, files)
    print(json.dumps({"benchmark": benchmark, "folder": str(folder), "files": sorted(files)}))
