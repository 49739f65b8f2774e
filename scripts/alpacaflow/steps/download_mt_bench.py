"""The download_mt_bench step: MT-Bench's questions, reference answers and judge prompts.

A local rule (like download_prompts, it may use the network): it reads the
files from FastChat's repository at the pinned revision, or a local copy of
it (`mt_bench.source`), checks them, and writes into ``results/mt_bench/``:

* ``prompts.parquet``: the questions as a prompt table (`benchmarks.mt_bench.data.question_table`);
* ``prompts_meta.json``: where each file came from and its SHA-256;
* ``protocol.json``: the four single-answer grading prompts, whose
  reference answers the judge sees, and the official judge and its decoding.

A question with other than two turns, or a category that needs a reference
answer without one, is one line naming the question, and nothing is written.
With ``max_instances`` N (`mt_bench.max_instances`), only N questions are kept
(`benchmarks.keep_instances`: the N with the lowest SHA-256 of their question_id).
No later step needs the network.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from ..benchmarks import keep_instances
from ..benchmarks.mt_bench.data import (
    JUDGE_PROMPTS,
    NEED_REF_CATS,
    QUESTIONS,
    judge_prompts,
    question_table,
    reference_answers,
)
from ..benchmarks.mt_bench.data import references_path as reference_file
from ..hub import repository_file
from ..io import read_jsonl, write_json, write_parquet

#: The official judge and its decoding (FastChat gen_judgment.py ``--judge-model`` default; common.py run_judge_single).
OFFICIAL_JUDGE = {"judge_model": "gpt-4", "max_tokens": 2048, "temperature": 0.0}


def run(*, source: str, repo: str, revision: str, reference_model: str, prompts: Path, meta: Path,
        protocol: Path, max_instances: int = 0) -> None:  # fmt: skip
    """The download_mt_bench step: the benchmark's files into `prompts`, `meta` and `protocol`."""
    files: dict[str, dict[str, str]] = {}

    def get(path: str) -> list[dict]:
        data, where = repository_file(source, repo, revision, path, "mt_bench.source")
        files[path] = {"from": where, "sha256": hashlib.sha256(data).hexdigest()}
        return read_jsonl(data, path)

    questions = get(QUESTIONS)
    references = reference_answers(get(reference_file(reference_model)), reference_file(reference_model))
    table = keep_instances(question_table(questions, references, reference_model, QUESTIONS), max_instances,
                           "question_id")  # fmt: skip
    graders = judge_prompts(get(JUDGE_PROMPTS), JUDGE_PROMPTS)
    write_parquet(prompts, table)
    write_json(protocol, {"benchmark": "mt_bench", **OFFICIAL_JUDGE, "reference_model": reference_model,
                          "need_reference": list(NEED_REF_CATS), "prompts": graders})  # fmt: skip
    write_json(meta, {"benchmark": "mt_bench", "source": source if source != "github" else f"github:{repo}",
                      "revision_resolved": revision if source == "github" else None, "files": files,
                      "sha256": files[QUESTIONS]["sha256"], "rows_in_source": len(questions),
                      "rows_kept": len(table), "max_instances": max_instances or None,
                      "duplicates": "error"})  # fmt: skip
    counts = table["dataset"].value_counts().sort_index()
    print(json.dumps({"benchmark": "mt_bench", "questions": len(table), "categories": counts.to_dict()}))
