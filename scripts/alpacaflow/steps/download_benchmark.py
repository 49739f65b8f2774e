"""The download_benchmark step: an Arena-Hard-Auto version's questions, baselines and judge protocol.

A local rule (like download_prompts, it may use the network): it reads the
version's files from the official repository at the pinned revision, or a
local copy of it (`arena_hard.source`), checks them, and writes into
``results/arena_hard-<v>/``:

* ``prompts.parquet``: the questions as a prompt table, each category's
  baseline answer as the reference (with the question's ``uid``,
  ``subcategory`` and the baseline answer's style ``reference_metadata``);
* ``prompts_meta.json``: where each file came from and its SHA-256;
* ``protocol.json``: the official judge, its decoding, the label patterns,
  the user-prompt template and each category's baseline and system prompt;
* ``tiktoken/<name>``: tiktoken's o200k_base encoding under tiktoken's cache
  name (`benchmarks.arena_hard.data.fetch_encoding`; from `encoding`, a URL or a local file,
  default tiktoken's own URL), which the style metadata's token counts need.

With ``max_instances`` N (`arena_hard.max_instances`), only N questions are kept
(`benchmarks.keep_instances`: the N with the lowest SHA-256 of their uid).

No later step needs the network.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from ..benchmarks import VERSIONS, keep_instances, version_of
from ..benchmarks.arena_hard.data import (
    ENCODING_URL,
    fetch_encoding,
    judge_protocol,
    judge_settings,
    question_table,
    read_config,
)
from ..hub import repository_file
from ..io import read_jsonl, write_bytes, write_json, write_parquet


def run(
    *, benchmark: str, source: str, repo: str, revision: str, encoding_source: str, prompts: Path, meta: Path,
    protocol: Path, encoding: Path, max_instances: int = 0,
) -> None:  # fmt: skip
    """The download_benchmark step: `benchmark` is ``arena_hard-v0.1`` or ``arena_hard-v2.0``."""
    bench = VERSIONS[version_of(benchmark)]
    files: dict[str, dict[str, str]] = {}

    def get(path: str) -> bytes:
        data, where = repository_file(source, repo, revision, path, "arena_hard.source")
        files[path] = {"from": where, "sha256": hashlib.sha256(data).hexdigest()}
        return data

    question_path = f"data/{bench}/question.jsonl"
    questions = read_jsonl(get(question_path), question_path)
    settings = judge_settings(get("utils/judge_utils.py").decode("utf-8"), "utils/judge_utils.py")
    categories = sorted({str(q.get("category")) for q in questions if q.get("category") in settings})
    baselines = {}
    for baseline in sorted({settings[c]["baseline"] for c in categories}):
        path = f"data/{bench}/model_answer/{baseline}.jsonl"
        baselines[baseline] = {r.get("uid"): r for r in read_jsonl(get(path), path)}
    table = keep_instances(question_table(questions, baselines, settings, question_path), max_instances, "uid")
    config_path = f"config/{bench}.yaml"
    found = judge_protocol(read_config(get(config_path), config_path), settings, categories)
    tokens, where = fetch_encoding(encoding_source or ENCODING_URL)
    files["o200k_base.tiktoken"] = {"from": where, "sha256": hashlib.sha256(tokens).hexdigest()}
    write_parquet(prompts, table)
    write_json(protocol, {"benchmark": benchmark, **found})
    write_bytes(encoding, tokens)
    write_json(meta, {"benchmark": benchmark, "source": source if source != "github" else f"github:{repo}",
                      "revision_resolved": revision if source == "github" else None, "files": files,
                      "sha256": files[question_path]["sha256"], "rows_in_source": len(questions),
                      "rows_kept": len(table), "max_instances": max_instances or None,
                      "duplicates": "error"})  # fmt: skip
    print(json.dumps({"benchmark": benchmark, "questions": len(table), "categories": categories,
                      "baselines": sorted(baselines)}))  # fmt: skip
