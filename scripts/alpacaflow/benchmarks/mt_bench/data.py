"""MT-Bench's data, read from FastChat's repository at a pinned revision (or a local copy of it).

What the benchmark needs, from ``github.com/lm-sys/FastChat`` under
``fastchat/llm_judge/data/`` (the files its own ``gen_judgment.py`` reads):

* ``mt_bench/question.jsonl``: ``{question_id, category, turns: [t1, t2]}``;
* ``mt_bench/reference_answer/<judge>.jsonl``: reference answers
  (``choices[0].turns``) for the categories that need one (`NEED_REF_CATS`);
* ``judge_prompts.jsonl``: the judge prompts by name (system prompt, user
  template, output format).

These texts are data: fetched into ``results/mt_bench/`` by the
download_mt_bench step and never copied into this project (tests use
stand-ins of the same shape). `question_table` makes the questions a prompt
table (`io.PROMPT_COLUMNS`: turn 1 is the instruction, the reference answer's
turn 1 the reference; ``question_id``, ``turn_2`` and ``reference_2`` beside
them); `grading_messages` fills a judge prompt as FastChat's
``run_judge_single`` does.
"""

from __future__ import annotations

from typing import Any

import pandas as pd

from ...errors import AlpacaflowError
from ...io import PROMPT_COLUMNS

#: Where FastChat keeps the benchmark's files (paths in its repository).
DATA = "fastchat/llm_judge/data"
QUESTIONS = f"{DATA}/mt_bench/question.jsonl"
JUDGE_PROMPTS = f"{DATA}/judge_prompts.jsonl"
#: The categories whose grading shows the judge a reference answer (FastChat common.py ``NEED_REF_CATS``).
NEED_REF_CATS = ("math", "reasoning", "coding")
#: The judge prompt per (needs a reference, turn) (FastChat gen_judgment.py ``make_judge_single``).
PROMPT_NAMES = {
    (False, 1): "single-v1",
    (True, 1): "single-math-v1",
    (False, 2): "single-v1-multi-turn",
    (True, 2): "single-math-v1-multi-turn",
}
#: The columns of the question table beside `io.PROMPT_COLUMNS`.
EXTRA_COLUMNS = ["question_id", "turn_2", "reference_2"]


def references_path(reference_model: str) -> str:
    """The reference answers' file in the repository (``reference_answer/gpt-4.jsonl``)."""
    return f"{DATA}/mt_bench/reference_answer/{reference_model}.jsonl"


def _turns(record: dict[str, Any]) -> list[Any]:
    choices = record.get("choices")
    first = choices[0] if isinstance(choices, list) and choices and isinstance(choices[0], dict) else {}
    turns = first.get("turns")
    return turns if isinstance(turns, list) else []


def reference_answers(records: list[dict[str, Any]], where: str) -> dict[int, list[str]]:
    """Reference answers by question id: both turns' texts (FastChat's ``choices[0].turns``)."""
    found = {}
    for n, record in enumerate(records, 1):
        turns = _turns(record)
        if (
            not isinstance(record.get("question_id"), int)
            or len(turns) != 2
            or not all(isinstance(t, str) for t in turns)
        ):
            raise AlpacaflowError(f"{where}: line {n}: a reference answer needs a question_id and two turns")
        found[record["question_id"]] = turns
    return found


def question_table(questions: list[dict[str, Any]], references: dict[int, list[str]], reference_model: str,
                   where: str) -> pd.DataFrame:  # fmt: skip
    """The questions as a prompt table; a question the protocol cannot grade is one line naming it.

    A question needs an integer id (once), a category and exactly two
    non-empty turns; a category in `NEED_REF_CATS` needs a reference answer.
    """
    rows = []
    seen: set[int] = set()
    for n, question in enumerate(questions):
        qid, category, turns = question.get("question_id"), question.get("category"), question.get("turns")
        name = f"{where}: question {qid}" if qid is not None else f"{where}: line {n + 1}"
        if not isinstance(qid, int) or isinstance(qid, bool) or not isinstance(category, str) or not category:
            raise AlpacaflowError(f"{name}: a question needs an integer question_id and a category")
        if qid in seen:
            raise AlpacaflowError(f"{name}: question_id {qid} appears twice")
        seen.add(qid)
        if not isinstance(turns, list) or len(turns) != 2:
            count = len(turns) if isinstance(turns, list) else 0
            raise AlpacaflowError(f"{name}: MT-Bench asks two turns; this question has {count}")
        if not all(isinstance(t, str) and t.strip() for t in turns):
            raise AlpacaflowError(f"{name}: a turn is empty")
        reference = references.get(qid) if category in NEED_REF_CATS else None
        if category in NEED_REF_CATS and reference is None:
            raise AlpacaflowError(
                f"{name}: category {category} is graded against a reference answer, and "
                f"{references_path(reference_model)} has none for it"
            )
        rows.append({"index": n, "instruction": turns[0], "dataset": category,
                     "reference_output": reference[0] if reference else "",
                     "reference_generator": reference_model if reference else "", "question_id": qid,
                     "turn_2": turns[1], "reference_2": reference[1] if reference else ""})  # fmt: skip
    return pd.DataFrame(rows, columns=[*PROMPT_COLUMNS, *EXTRA_COLUMNS])


def answer_table(records: list[Any], source: str, questions: pd.DataFrame) -> pd.DataFrame:
    """The questions with the model's two answers (``output``, ``output_2``), matched by question id."""
    by_id = {r.get("question_id"): r for r in records if isinstance(r, dict)}
    answers = []
    for qid in questions["question_id"]:
        outputs = by_id.get(qid, {}).get("outputs")
        if not isinstance(outputs, list) or len(outputs) != 2:
            raise AlpacaflowError(f"{source}: MT-Bench question {qid} has no answer with two turns")
        answers.append(outputs)
    return questions.assign(output=[str(a[0]) for a in answers], output_2=[str(a[1]) for a in answers])


def judge_prompts(records: list[dict[str, Any]], where: str) -> dict[str, dict[str, str]]:
    """The single-answer grading prompts by name (the four of `PROMPT_NAMES`), checked to ask for ``[[rating]]``."""
    by_name = {r.get("name"): r for r in records}
    found = {}
    for name in PROMPT_NAMES.values():
        prompt = by_name.get(name)
        if not isinstance(prompt, dict) or not all(
            isinstance(prompt.get(k), str) for k in ("system_prompt", "prompt_template")
        ):
            raise AlpacaflowError(f"{where}: no judge prompt {name} with a system_prompt and a prompt_template")
        if prompt.get("output_format") != "[[rating]]":
            raise AlpacaflowError(f"{where}: judge prompt {name} asks for {prompt.get('output_format')!r}, "
                                  "not [[rating]]")  # fmt: skip
        found[name] = {k: prompt[k] for k in ("system_prompt", "prompt_template", "output_format")}
    return found


def prompt_name(category: str, turn: int) -> str:
    """The judge prompt that grades `turn` of a question of `category`."""
    return PROMPT_NAMES[(category in NEED_REF_CATS, turn)]


def grading_messages(row: Any, turn: int, answers: tuple[str, str], prompts: dict[str, dict[str, str]]) -> list[dict]:
    """The judge's messages for one turn of one answer, filled as FastChat's ``run_judge_single`` fills them.

    `row` is a question-table row; `answers` the model's two turns. Turn 2
    shows the whole conversation and grades the second answer.
    """
    prompt = prompts[prompt_name(row.dataset, turn)]
    refs = {}
    if row.dataset in NEED_REF_CATS:
        refs = {"ref_answer_1": row.reference_output, **({"ref_answer_2": row.reference_2} if turn == 2 else {})}
    if turn == 1:
        user = prompt["prompt_template"].format(question=row.instruction, answer=answers[0], **refs)
    else:
        user = prompt["prompt_template"].format(question_1=row.instruction, question_2=row.turn_2,
                                                answer_1=answers[0], answer_2=answers[1], **refs)  # fmt: skip
    return [{"role": "system", "content": prompt["system_prompt"]}, {"role": "user", "content": user}]


def temperature(category: str, temperatures: dict[str, float], default: float) -> float:
    """A category's answer temperature (the official ``temperature_config``, overridable; others `default`)."""
    return float(temperatures.get(category, default))
