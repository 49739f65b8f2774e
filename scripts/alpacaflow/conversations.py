"""Two-turn answers (MT-Bench): every first turn, then every second turn after the model's own first answer.

As FastChat's ``gen_model_answer.py`` asks them: the second question comes
in the same conversation, after the model's first answer, rendered by the
model's prompt format over the whole conversation
(`formatting.format_conversation`). Both turns go through the same store and
engine (`generation.Decoding`): a job killed between the turns finds every
first answer in the store and generates only second turns; killed inside a
turn, it loses at most one group. Each question is answered at its
category's temperature (`benchmarks.mt_bench.data.temperature`; 0 = greedy). The second
turn's prompts get the same BOS, stop and length checks as the first's
(`generation.answer`): a second-turn prompt that leaves no room for its
answer in the model's context is one line naming the question, before any
second turn is generated.
"""

from __future__ import annotations

from typing import Any

import pandas as pd

from .benchmarks.mt_bench.data import temperature
from .formatting import PromptFormat, format_conversation, user_turn
from .generation import Decoding, answer

#: Where the MT-Bench answers' max_new_tokens is set (over the model's own), for the length check's advice.
SETTING = "mt_bench.generation"


def conversation(first: str, reply: str, second: str) -> list[dict[str, str]]:
    """The second turn's conversation: the first question, the model's answer, the second question."""
    return [*user_turn(first), {"role": "assistant", "content": reply}, *user_turn(second)]


def two_turns(settings: dict[str, Any], questions: pd.DataFrame, fmt: PromptFormat,
              decoding: Decoding) -> pd.DataFrame:  # fmt: skip
    """Both turns' answers to `questions` (a table with ``turn_2``): the per-example table, a row per turn.

    Rows are in question order, turn 1 before turn 2, with ``turn`` and ``question_id``.
    """
    section = settings["mt_bench"]
    heat = [temperature(c, section["temperatures"], section["default_temperature"]) for c in questions["dataset"]]
    tokenizer = decoding.tokenizer
    first_prompts = [format_conversation(tokenizer, user_turn(q), fmt) for q in questions["instruction"]]
    first = answer(settings, questions, first_prompts, decoding, temperatures=heat, what="first turns",
                   setting=SETTING)  # fmt: skip
    second_prompts = [
        format_conversation(tokenizer, conversation(q1, reply, q2), fmt)
        for q1, reply, q2 in zip(questions["instruction"], first["output"], questions["turn_2"], strict=True)
    ]
    ids = questions["question_id"].tolist()

    def name(i: int, n: int) -> str:
        return (f"MT-Bench question {ids[i]}'s second-turn prompt (the first turn, the model's first answer and the "
                f"second question: {n} tokens)")  # fmt: skip

    second = answer(settings, questions.assign(instruction=questions["turn_2"]), second_prompts, decoding,
                    temperatures=heat, what="second turns", name=name, setting=SETTING)  # fmt: skip
    table = pd.concat([first.assign(turn=1, question_id=ids), second.assign(turn=2, question_id=ids)])
    return table.sort_values(["index", "turn"], kind="stable").reset_index(drop=True)


def conversation_records(model: str, questions: pd.DataFrame, table: pd.DataFrame) -> list[dict[str, Any]]:
    """model_outputs.json on MT-Bench: per question its first turn and answer (as on AlpacaEval) and both turns."""
    answers = table.pivot(index="question_id", columns="turn", values="output")
    return [
        {
            "instruction": row.instruction,
            "output": answers.loc[row.question_id, 1],
            "generator": model,
            "dataset": row.dataset,
            "question_id": int(row.question_id),
            "turns": [row.instruction, row.turn_2],
            "outputs": [answers.loc[row.question_id, 1], answers.loc[row.question_id, 2]],
        }  # fmt: skip
        for row in questions.itertuples()
    ]
