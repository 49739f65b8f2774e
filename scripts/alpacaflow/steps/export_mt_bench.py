"""The export_mt_bench step: MT-Bench's answers and gradings in FastChat's file layout.

Into ``results/official/data/mt_bench/`` (the layout FastChat's
``fastchat/llm_judge`` scripts read under their working folder's ``data/``):

* ``question.jsonl``: the questions (``question_id``, ``category``, ``turns``);
* ``reference_answer/<name>.jsonl``: the reference answers the gradings showed;
* ``model_answer/<model>.jsonl``: each model's answers, one line per question
  (``question_id``, ``answer_id``, ``model_id``, ``choices[0].turns``);
* ``model_judgment/<judge>_single.jsonl``: every model's gradings by that judge
  (``question_id``, ``model``, ``judge`` as [judge, prompt name], ``user_prompt``,
  ``judgment``, ``score``, ``turn``).

So ``show_result.py --bench-name mt_bench --judge-model <judge>`` run in
``results/official`` reads alpacaflow's files and prints the scores the
leaderboard shows, and published answers or judgments can be merged in.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import pandas as pd

from ..benchmarks.mt_bench.data import answer_table
from ..errors import AlpacaflowError
from ..io import jsonl, load_prompt_table, read_records, write_folder

#: The keys of FastChat's judgment line (annotations add alpacaflow's own).
JUDGMENT_KEYS = ("question_id", "model", "judge", "user_prompt", "judgment", "score", "turn")


def answer_lines(questions: pd.DataFrame, model: str, outputs: Path) -> list[dict[str, Any]]:
    """A model's ``model_answer`` lines (``answer_id`` a hash of the model, question and answers)."""
    table = answer_table(read_records(outputs), str(outputs), questions)
    lines = []
    for row in table.itertuples():
        turns = [row.output, row.output_2]
        answer_id = hashlib.sha256(json.dumps([model, int(row.question_id), turns]).encode()).hexdigest()[:22]
        lines.append({"question_id": int(row.question_id), "answer_id": answer_id, "model_id": model,
                      "choices": [{"index": 0, "turns": turns}]})  # fmt: skip
    return lines


def reference_lines(questions: pd.DataFrame) -> dict[str, list[dict[str, Any]]]:
    """The reference answers by their author: one ``reference_answer`` line per question that has one."""
    found: dict[str, list[dict[str, Any]]] = {}
    for row in questions[questions["reference_generator"] != ""].itertuples():
        found.setdefault(row.reference_generator, []).append(
            {
                "question_id": int(row.question_id),
                "model_id": row.reference_generator,
                "choices": [{"index": 0, "turns": [row.reference_output, row.reference_2]}],
            }  # fmt: skip
        )
    return found


def run(*, prompts: Path, models: list[str], outputs: list[Path], annotations: list[Path], folder: Path) -> None:
    """The export_mt_bench step: `models`, `outputs` and `annotations` run in parallel, one entry per model."""
    questions = load_prompt_table(prompts)
    asked = [{"question_id": int(r.question_id), "category": r.dataset, "turns": [r.instruction, r.turn_2]}
             for r in questions.itertuples()]  # fmt: skip
    files = {"question.jsonl": jsonl(asked)}
    for author, lines in reference_lines(questions).items():
        files[f"reference_answer/{author}.jsonl"] = jsonl(lines)
    judgments: dict[str, list[dict[str, Any]]] = {}
    for model, output, annotation in zip(models, outputs, annotations, strict=True):
        files[f"model_answer/{model}.jsonl"] = jsonl(answer_lines(questions, model, output))
        for record in read_records(annotation):
            if record.get("model") != model:
                raise AlpacaflowError(f"{annotation}: gradings of {model} expected, found {record.get('model')}")
            judgments.setdefault(str(record["judge"][0]), []).append({k: record[k] for k in JUDGMENT_KEYS})
    for judge, lines in judgments.items():
        files[f"model_judgment/{judge}_single.jsonl"] = jsonl(lines)
    write_folder(folder, files)
    print(json.dumps({"benchmark": "mt_bench", "folder": str(folder), "files": sorted(files)}))
