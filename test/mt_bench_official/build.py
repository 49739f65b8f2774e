"""The FastChat-agreement fixture: a synthetic MT-Bench run exported by alpacaflow, with known ratings.

40 hand-generated two-turn questions in MT-Bench's eight categories (no
MT-Bench text; the reasoning, math and coding ones with reference answers),
three models, and a judgment per (model, question, turn) whose rating comes
from a seeded rule: whole and half ratings, a few ``[rating]`` (the parser's
second pattern) and a few judgments without a rating (score -1, left out), so
that the two turns lose different numbers of ratings and FastChat's Average
differs from the mean of the turn means. `build` writes the questions, the
answers and the gradings as alpacaflow's steps write them (download_mt_bench's
prompt table, generate's model_outputs.json, annotate's annotations.json) and
runs alpacaflow's export_mt_bench step: the files under ``data/mt_bench/`` are its output.

``python test/mt_bench_official/build.py`` rewrites them; FastChat's
``show_result.py`` was then run on them (outside this project), and its printed
numbers are in ``expected.json`` with the command and revision.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np

HERE = Path(__file__).parent
JUDGE = "known-ratings"
CATEGORIES = ["writing", "roleplay", "reasoning", "math", "coding", "extraction", "stem", "humanities"]
#: model -> (turn-1 quality, turn-2 quality) on the 1-10 scale
MODELS = {"steady": (6.0, 6.0), "fades": (7.5, 4.0), "weak": (3.5, 3.0)}
N = 40


def questions() -> list[dict]:
    """Question records as FastChat's question.jsonl holds them."""
    return [{"question_id": 200 + i, "category": CATEGORIES[i % 8],
             "turns": [f"Synthetic question {i}: say something about topic {i}.", f"Now say it again, shorter ({i})."]}
            for i in range(N)]  # fmt: skip


def references() -> list[dict]:
    """Reference answers of the categories that need one."""
    return [{"question_id": q["question_id"], "model_id": "gpt-4",
             "choices": [{"index": 0, "turns": [f"Reference {q['question_id']}.", f"Shorter {q['question_id']}."]}]}
            for q in questions() if q["category"] in ("reasoning", "math", "coding")]  # fmt: skip


def judgment(rng: np.random.Generator, quality: float) -> str:
    """A judgment with a rating drawn around `quality` (halves included), sometimes in brackets or missing."""
    draw = rng.random()
    rating = float(np.clip(np.round(2 * rng.normal(quality, 1.5)) / 2, 1, 10))
    text = str(int(rating)) if rating.is_integer() else str(rating)
    if draw < 0.06:
        return "The answer is hard to grade; no rating."
    if draw < 0.12:
        return f"Rating: [{text}]"
    return f"The answer does what was asked, mostly. Rating: [[{text}]]"


def build(out: Path, folder: Path) -> dict[str, Path]:
    """Write the synthetic run into `out` and export it into `folder`; each model's annotations.json."""
    from alpacaflow.benchmarks.mt_bench.data import question_table, reference_answers
    from alpacaflow.io import read_jsonl, write_json
    from alpacaflow.metrics.mt_bench import parse_rating
    from alpacaflow.steps import export_mt_bench

    asked = questions()
    refs = reference_answers(references(), "references")
    table = question_table(asked, refs, "gpt-4", "questions")
    prompts = out / "prompts.parquet"
    out.mkdir(parents=True, exist_ok=True)
    table.to_parquet(prompts, index=False)
    rng = np.random.default_rng(28)
    annotations = {}
    for model, quality in MODELS.items():
        outputs = []
        for q in asked:
            answers = [f"{model} answers {q['question_id']}.", f"{model} again on {q['question_id']}."]
            outputs.append({"instruction": q["turns"][0], "output": answers[0], "generator": model,
                            "dataset": q["category"], "question_id": q["question_id"], "turns": q["turns"],
                            "outputs": answers})  # fmt: skip
        write_json(out / model / "model_outputs.json", outputs)
        records = []
        for q in asked:
            for turn in (1, 2):
                text = judgment(rng, quality[turn - 1])
                name = ("single-math-v1" if q["category"] in ("reasoning", "math", "coding") else "single-v1") + (
                    "-multi-turn" if turn == 2 else "")  # fmt: skip
                records.append({"question_id": q["question_id"], "model": model, "judge": [JUDGE, name],
                                "user_prompt": f"grade {model} {q['question_id']} {turn}", "judgment": text,
                                "score": parse_rating(text), "turn": turn, "category": q["category"]})  # fmt: skip
        write_json(out / model / "annotations.json", records)
        annotations[model] = out / model / "annotations.json"
    export_mt_bench.run(prompts=prompts, models=list(MODELS), outputs=[out / m / "model_outputs.json" for m in MODELS],
                        annotations=list(annotations.values()), folder=folder)  # fmt: skip
    assert len(read_jsonl((folder / "model_judgment" / f"{JUDGE}_single.jsonl").read_bytes(), "j")) == 6 * N
    return annotations


if __name__ == "__main__":
    sys.path.insert(0, str(HERE.parents[1] / "scripts"))
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        build(Path(tmp), HERE / "data" / "mt_bench")
    print(json.dumps(sorted(str(p.relative_to(HERE)) for p in (HERE / "data").rglob("*.jsonl"))))
