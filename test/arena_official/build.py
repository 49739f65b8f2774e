"""The official-agreement fixture: a synthetic Arena-Hard v0.1 run exported by alpacaflow, with known labels.

50 hand-generated questions (no Arena-Hard text), a baseline named as v0.1's
(``gpt-4-0314``, so that the official ``JUDGE_SETTINGS`` finds it) and three
models whose answers differ in length and Markdown (headers, lists, bold,
code blocks with ``#`` lines inside, which the official counts must skip).
Each question's two labels come from a seeded rule over the answers (a
quality draw, a length and a Markdown preference, a position bias), with a
few games left without a label. `export` runs alpacaflow's export_arena step
on them: the files under ``data/arena-hard-v0.1/`` are its output.

``python test/arena_official/build.py`` rewrites them; the official
``show_result.py`` was then run on them (outside this project), and its
printed numbers are in ``expected.json`` with the command and revision.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np

HERE = Path(__file__).parent
BASELINE, CATEGORY, JUDGE = "gpt-4-0314", "arena-hard-v0.1", "known-labels"
#: model -> (mean length in sentences, Markdown share, quality)
MODELS = {"plain": (3, 0.0, 0.2), "styled": (9, 0.8, 0.0), "balanced": (5, 0.4, 0.4)}
N = 50
LABELS = ["B>>A", "B>A", "A=B", "A>B", "A>>B"]  # worst to best for assistant A


def answer(rng: np.random.Generator, sentences: int, markdown: float, i: int) -> str:
    """A synthetic answer: sentences, and with probability `markdown` each a header, list, bold or code block."""
    parts = []
    for k in range(max(1, int(rng.poisson(sentences)))):
        text = f"Point {k} of answer {i} says something {'useful ' * int(rng.integers(1, 6))}here."
        if rng.random() < markdown:
            kind = int(rng.integers(0, 4))
            text = [f"## Part {k}\n{text}", f"- {text}\n- more\n1. first", f"**{text}**",
                    f"```python\n# comment {k}\nx = {k}\n```"][kind]  # fmt: skip
        parts.append(text)
    return "\n\n".join(parts)


def label(rng: np.random.Generator, a: str, b: str, bonus_a: float, bonus_b: float) -> str | None:
    """A game's label from the two answers: quality, a taste for length and Markdown, a slight bias for A."""
    if rng.random() < 0.04:
        return None
    taste = lambda s: 0.15 * np.log1p(len(s)) + 0.3 * (s.count("**") + s.count("- ") + s.count("## ")) ** 0.5  # noqa: E731
    diff = bonus_a - bonus_b + taste(a) - taste(b) + 0.1 + rng.normal(0, 0.6)
    return LABELS[int(np.digitize(diff, [-0.9, -0.3, 0.3, 0.9]))]


def inputs(root: Path) -> tuple[Path, list[str], list[Path], list[Path]]:
    """The export step's inputs: the prompt table, and per model its outputs and annotations."""
    import pandas as pd
    from alpacaflow.io import write_json, write_parquet

    rng = np.random.default_rng(2026)
    questions = [f"Synthetic question {i}: explain topic {i} in a few points." for i in range(N)]
    baseline = [answer(rng, 5, 0.3, i) for i in range(N)]
    table = pd.DataFrame({"index": range(N), "instruction": questions, "dataset": CATEGORY,
                          "reference_output": baseline, "reference_generator": BASELINE,
                          "uid": [f"u{i:03d}" for i in range(N)], "subcategory": "",
                          "reference_metadata": ""})  # fmt: skip
    prompts = root / "prompts.parquet"
    write_parquet(prompts, table)
    outputs, annotations = [], []
    for model, (sentences, markdown, quality) in MODELS.items():
        answers = [answer(rng, sentences, markdown, i) for i in range(N)]
        records = []
        for i, (ours, theirs) in enumerate(zip(answers, baseline, strict=True)):
            games = [label(rng, theirs, ours, 0.0, quality), label(rng, ours, theirs, quality, 0.0)]
            verdicts = [{"score": g, "judgment": {"answer": f"[[{g}]]" if g else "no verdict"}} for g in games]
            records.append({"uid": f"u{i:03d}", "category": CATEGORY, "judge": JUDGE, "model": model,
                            "baseline": BASELINE, "games": verdicts})  # fmt: skip
        outputs.append(root / model / "model_outputs.json")
        write_json(outputs[-1], [{"instruction": q, "output": a} for q, a in zip(questions, answers, strict=True)])
        annotations.append(root / model / "annotations.json")
        write_json(annotations[-1], records)
    return prompts, list(MODELS), outputs, annotations


def export(work: Path, encoding: Path, folder: Path) -> Path:
    """The fixture's files: alpacaflow's export_arena step run on `inputs` (encoding: an o200k_base.tiktoken)."""
    from alpacaflow.benchmarks.arena_hard.data import ENCODING_CACHE_NAME
    from alpacaflow.io import write_bytes
    from alpacaflow.steps import export_arena

    prompts, models, outputs, annotations = inputs(work)
    cache = work / "tiktoken" / ENCODING_CACHE_NAME
    write_bytes(cache, encoding.read_bytes())
    export_arena.run(benchmark="arena_hard-v0.1", prompts=prompts, encoding=cache, models=models, outputs=outputs,
                     annotations=annotations, folder=folder)  # fmt: skip
    return folder


if __name__ == "__main__":
    import tempfile

    from alpacaflow.testing.tokenizers import o200k_base_file

    with tempfile.TemporaryDirectory() as tmp:
        found = export(Path(tmp), o200k_base_file(Path(tmp) / "o200k_base.tiktoken"), HERE / "data" / CATEGORY)
        json.dump(sorted(str(p.relative_to(HERE)) for p in found.rglob("*.jsonl")), sys.stdout, indent=1)
