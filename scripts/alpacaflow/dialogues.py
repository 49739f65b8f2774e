"""Prompt-set rows that are conversations: their check, how the judge sees them, and their number of turns.

A prompt-set row may hold ``messages`` instead of ``instruction``: a list
of ``{role, content}``, optionally starting with a ``system`` message, then
``user`` and ``assistant`` turns in alternation, ending with a ``user``
turn, which the models answer (`check_messages` says in one line what is
wrong with a row that is not so).

alpaca_eval's judge templates take one instruction. A conversation is given
to the judge in that slot as its transcript (`judge_view`,
`CONVERSATION_HEADER` then one ``[Role]`` block per message), so the judge
reads the earlier turns and judges the two final answers as replies to the
last user turn; the rest of the judge's prompt is alpaca_eval's template,
unchanged. A single-instruction row (and a conversation of one user turn
with no system message, which is the same prompt) is shown exactly as
before. The transcript is also the row's ``instruction`` everywhere after
download_prompts: in model_outputs.json, the annotations and the caches.
"""

from __future__ import annotations

import json
from typing import Any

from .errors import AlpacaflowError

ROLES = ("system", "user", "assistant")

#: The first line of a conversation as the judge reads it, in the judge template's instruction slot.
CONVERSATION_HEADER = (
    "The following is a conversation between a user and an AI assistant. The outputs to compare are the "
    "assistant's next reply to the user's last message."
)

#: Win rates by number of user turns are reported in these groups.
TURN_GROUPS = ("1", "2", "3+")


def _check_message(where: str, k: int, message: Any) -> None:
    if not isinstance(message, dict) or "role" not in message or "content" not in message:
        raise AlpacaflowError(f"{where}: message {k} needs 'role' and 'content'")
    if message["role"] not in ROLES:
        raise AlpacaflowError(f"{where}: message {k} has unknown role {message['role']!r} (use {', '.join(ROLES)})")
    content = message["content"]
    if not isinstance(content, str) or not content.strip():
        raise AlpacaflowError(f"{where}: message {k} ({message['role']}) has empty content")


def check_messages(messages: Any, where: str) -> list[dict[str, str]]:
    """The row's conversation as ``{role, content}`` dicts, or one line naming `where` and what is wrong."""
    if not isinstance(messages, list) or not messages:
        raise AlpacaflowError(f"{where}: 'messages' must be a non-empty list of {{role, content}}")
    for k, message in enumerate(messages):
        _check_message(where, k, message)
    turns = messages[1:] if messages[0]["role"] == "system" else messages
    expected = ["user", "assistant"]
    for k, message in enumerate(turns):
        if message["role"] != expected[k % 2]:
            position = k + len(messages) - len(turns)
            if message["role"] == "system":
                raise AlpacaflowError(f"{where}: message {position} is a system message; only the first may be")
            after = f"after a {turns[k - 1]['role']} turn" if k else "first"
            raise AlpacaflowError(
                f"{where}: message {position} is a {message['role']} turn {after}; user and assistant turns must "
                "alternate, starting with the user"
            )
    if not turns or turns[-1]["role"] != "user":
        raise AlpacaflowError(f"{where}: the conversation ends with an assistant turn; it must end with the user's")
    return [{"role": m["role"], "content": m["content"]} for m in messages]


def is_single(messages: list[dict[str, str]]) -> bool:
    """A conversation that is one user turn and nothing else: the same prompt as an instruction row."""
    return len(messages) == 1


def judge_view(messages: list[dict[str, str]]) -> str:
    """The text the judge reads in its template's instruction slot (a single user turn: that turn's text)."""
    if is_single(messages):
        return messages[0]["content"]
    blocks = [f"[{m['role'].capitalize()}]\n{m['content']}" for m in messages]
    return "\n\n".join([CONVERSATION_HEADER, *blocks])


def is_conversation(instruction: str) -> bool:
    """Whether an annotation's instruction is a conversation's judge view (`judge_view`)."""
    return instruction.startswith(CONVERSATION_HEADER)


def user_turns(messages: list[dict[str, str]]) -> int:
    """How many user turns a conversation has (the last one is answered)."""
    return sum(m["role"] == "user" for m in messages)


def turn_group(turns: int) -> str:
    """The group a row's number of user turns is reported in: 1, 2 or 3+."""
    return TURN_GROUPS[min(turns, 3) - 1]


def to_json(messages: list[dict[str, str]] | None) -> str | None:
    """A conversation as the prompt table stores it (None for an instruction row)."""
    return None if messages is None else json.dumps(messages, ensure_ascii=False)


def from_json(value: Any) -> list[dict[str, str]] | None:
    """The prompt table's stored conversation (None for an instruction row)."""
    return json.loads(value) if isinstance(value, str) and value else None


def record_instruction(record: dict[str, Any], where: str) -> Any:
    """An output record's instruction: its ``instruction``, or the judge view of its ``messages``."""
    if "instruction" not in record and "messages" in record:
        return judge_view(check_messages(record["messages"], where))
    return record.get("instruction")
