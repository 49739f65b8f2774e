"""Prompt formatting: a model's prompt format turned into the token ids it decodes from.

Prompts are turned into token ids here, once, so the vLLM and transformers
backends decode from exactly the same input. Formats (a model's
``prompt_format``, `PromptFormat`):

* ``alpaca``: the Alpaca instruction template;
* ``chat``: the tokenizer's chat template with a generation prompt, or, on a
  tokenizer without one, the Llama-3 header format (provided the tokenizer
  knows the Llama-3 header tokens);
* ``template``: a Jinja file rendered like a Hugging Face chat template
  (transformers' `apply_chat_template` with that file as ``chat_template``:
  ``messages``, ``bos_token``, ``eos_token``, ``add_generation_prompt``).

The chat formats take an optional system message and extra template
variables (``chat_template_kwargs``, e.g. Qwen3's ``enable_thinking``).
They never read the clock: every chat prompt is rendered with a fixed date
(`PromptFormat.date`, the config's ``prompt_date``), given to the template
as ``date_string`` (unless ``chat_template_kwargs`` sets one) and as the
answer of ``strftime_now``, which transformers would otherwise answer with
today's date (Meta's Llama-3.2-Instruct template writes ``Today Date: ...``
into every prompt): the same settings give the same prompts on any day.

A conversation (MT-Bench's second turn: the first question, the model's
own first answer, the second question) is rendered by the same formats: the
chat formats get the messages; ``alpaca`` continues its template after the
first answer with a blank line, ``### Instruction:``, the question, a blank
line and ``### Response:`` per further question (`ALPACA_NEXT_TURN`). A
prompt-set conversation (`dialogues`) is rendered the same way; its own
system message replaces the model's ``system_prompt`` (``alpaca`` writes it
as a paragraph before the template).

Every format gives exactly one BOS on a tokenizer that has one: text that
starts with BOS is tokenized as it is; other text gets the tokenizer's special
tokens (its BOS). `check_bos` stops a run whose prompts would start with BOS
twice and says where each prompt's BOS came from.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .errors import AlpacaflowError

ALPACA_TEMPLATE = (
    "Below is an instruction that describes a task. "
    "Write a response that appropriately completes the request.\n\n"
    "### Instruction:\n{instruction}\n\n### Response:\n"
)

#: The Alpaca format's next turn, after the model's previous answer.
ALPACA_NEXT_TURN = "\n\n### Instruction:\n{instruction}\n\n### Response:\n"

LLAMA3_HEADER = "<|start_header_id|>{role}<|end_header_id|>\n\n{content}<|eot_id|>"
LLAMA3_GENERATION_PROMPT = "<|start_header_id|>assistant<|end_header_id|>\n\n"

FORMATS = ("chat", "alpaca", "template")


@dataclass(frozen=True)
class PromptFormat:
    """How a model's instructions become prompts (a model entry's prompt keys)."""

    name: str = "chat"
    template: str | None = None  # the Jinja file's text, for name == "template"
    system_prompt: str | None = None
    chat_template_kwargs: dict[str, Any] = field(default_factory=dict)
    date: str | None = None  # the date prompts are rendered with; None = the schema's prompt_date

    @classmethod
    def from_settings(cls, settings: dict[str, Any]) -> PromptFormat:
        """The format of a model's resolved settings (reads the template file)."""
        template = settings["template"]
        return cls(
            settings["prompt_format"],
            read_template(template) if template else None,
            settings["system_prompt"],
            dict(settings["chat_template_kwargs"]),
            settings.get("prompt_date"),
        )

    def template_variables(self) -> dict[str, Any]:
        """What the chat template gets besides the messages: the pinned date, then ``chat_template_kwargs``."""
        from .config import default_prompt_date, parse_date

        date = self.date or default_prompt_date()
        moment = parse_date(date) or parse_date(default_prompt_date())
        assert moment is not None  # the schema's default parses

        def strftime_now(fmt: str) -> str:  # transformers' template global, answered from the pinned date
            return moment.strftime(fmt)

        return {"date_string": date, **self.chat_template_kwargs, "strftime_now": strftime_now}


@dataclass(frozen=True)
class FormattedPrompt:
    """A prompt as text (for the record) and as the token ids actually decoded from.

    `bos` says where its BOS came from: ``text`` (the template wrote it),
    ``tokenizer`` (added as the tokenizer's special token) or ``none``.
    """

    text: str
    token_ids: list[int]
    bos: str = "none"


def read_template(path: str) -> str:
    """A template file's text, with one clear line if it cannot be read."""
    try:
        return Path(path).expanduser().read_text(encoding="utf-8")
    except OSError as exc:
        raise AlpacaflowError(f"cannot read the prompt template '{path}': {exc.strerror or exc}") from None


def template_sha256(path: str | None) -> str:
    """SHA-256 of a template file ("" for none): a rerun trigger of generate."""
    if not path or not Path(path).expanduser().is_file():
        return ""
    return hashlib.sha256(Path(path).expanduser().read_bytes()).hexdigest()


def user_turn(instruction: str) -> list[dict[str, str]]:
    """A one-question conversation."""
    return [{"role": "user", "content": instruction}]


def _with_system(fmt: PromptFormat, conversation: list[dict[str, str]]) -> list[dict[str, str]]:
    """The model's system prompt before the conversation, unless the conversation has its own."""
    if conversation[0]["role"] == "system":
        return conversation
    system = [{"role": "system", "content": fmt.system_prompt}] if fmt.system_prompt else []
    return [*system, *conversation]


def _llama3_fallback(tokenizer: Any, messages: list[dict[str, str]]) -> str:
    vocab = tokenizer.get_vocab()
    if not all(tok in vocab for tok in ("<|start_header_id|>", "<|end_header_id|>", "<|eot_id|>")):
        raise AlpacaflowError(
            f"tokenizer {getattr(tokenizer, 'name_or_path', '')!s} has no chat template and no Llama-3 "
            "header tokens; set this model's prompt_format to 'alpaca' or 'template'"
        )
    turns = "".join(LLAMA3_HEADER.format(role=m["role"], content=m["content"]) for m in messages)
    return (tokenizer.bos_token or "") + turns + LLAMA3_GENERATION_PROMPT


def _render_chat(tokenizer: Any, fmt: PromptFormat, conversation: list[dict[str, str]]) -> str:
    messages = _with_system(fmt, conversation)
    if fmt.name == "chat" and not getattr(tokenizer, "chat_template", None):
        return _llama3_fallback(tokenizer, messages)
    try:
        return tokenizer.apply_chat_template(
            messages,
            chat_template=fmt.template if fmt.name == "template" else None,
            tokenize=False,
            add_generation_prompt=True,
            **fmt.template_variables(),
        )
    except Exception as exc:  # jinja2's TemplateError and the template's own raise_exception
        raise AlpacaflowError(f"prompt format '{fmt.name}': the chat template failed: {exc}") from None


def _render_alpaca(conversation: list[dict[str, str]]) -> str:
    system = ""
    if conversation[0]["role"] == "system":  # a prompt-set conversation's own: a paragraph before the template
        system, conversation = conversation[0]["content"] + "\n\n", conversation[1:]
    text = system + ALPACA_TEMPLATE.format(instruction=conversation[0]["content"])
    for message in conversation[1:]:
        if message["role"] == "assistant":
            text += message["content"]
        else:
            text += ALPACA_NEXT_TURN.format(instruction=message["content"])
    return text


def render_conversation(tokenizer: Any, conversation: list[dict[str, str]], fmt: PromptFormat) -> str:
    """The prompt text of a conversation (user and assistant turns, ending with the user's) in `fmt`."""
    if fmt.name == "alpaca":
        return _render_alpaca(conversation)
    if fmt.name in ("chat", "template"):
        return _render_chat(tokenizer, fmt, conversation)
    raise AlpacaflowError(f"unknown prompt_format '{fmt.name}' (use one of {', '.join(FORMATS)})")


def render(tokenizer: Any, instruction: str, fmt: PromptFormat) -> str:
    """The prompt text of one instruction in `fmt`."""
    return render_conversation(tokenizer, user_turn(instruction), fmt)


def tokenize_once(tokenizer: Any, text: str) -> tuple[list[int], str]:
    """Token ids of `text` with exactly one BOS where the tokenizer has one, and where it came from.

    Text that already starts with BOS (a template wrote it) is tokenized
    without special tokens; other text with them, so that the tokenizer adds
    its BOS (if it adds one at all).
    """
    plain = list(tokenizer(text, add_special_tokens=False)["input_ids"])
    bos_id = tokenizer.bos_token_id
    if bos_id is None:
        return plain, "none"
    if plain[:1] == [bos_id]:
        return plain, "text"
    if list(tokenizer(text, add_special_tokens=True)["input_ids"])[:1] == [bos_id]:
        return [bos_id, *plain], "tokenizer"  # its BOS only (never a trailing EOS some tokenizers add)
    return plain, "none"


def format_prompt(tokenizer: Any, instruction: str, fmt: PromptFormat | str) -> FormattedPrompt:
    """Render one instruction in `fmt` (a `PromptFormat` or a format name) and tokenize it."""
    return format_conversation(tokenizer, user_turn(instruction), fmt)


def format_conversation(tokenizer: Any, conversation: list[dict[str, str]], fmt: PromptFormat | str) -> FormattedPrompt:
    """Render a conversation in `fmt` (a `PromptFormat` or a format name) and tokenize it."""
    fmt = PromptFormat(fmt) if isinstance(fmt, str) else fmt
    text = render_conversation(tokenizer, conversation, fmt)
    ids, bos = tokenize_once(tokenizer, text)
    return FormattedPrompt(text, ids, bos)


def leading_bos(token_ids: list[int], bos_id: int | None) -> int:
    """How many BOS tokens a prompt starts with."""
    n = 0
    while bos_id is not None and n < len(token_ids) and token_ids[n] == bos_id:
        n += 1
    return n


_BOS_SOURCE = {"text": "written by the template", "tokenizer": "added by the tokenizer (the text has none)"}


def check_bos(tokenizer: Any, prompts: list[FormattedPrompt], prompt_format: str) -> str:
    """Stop on prompts that start with BOS twice; one line saying how prompts start and where BOS came from.

    A tokenizer without BOS (Qwen's, say) is left alone; a prompt without BOS
    on a tokenizer that has one is reported, not stopped (its tokenizer adds none).
    """
    bos_id = tokenizer.bos_token_id
    counts = [leading_bos(p.token_ids, bos_id) for p in prompts]
    twice = next((i for i, n in enumerate(counts) if n > 1), None)
    if twice is not None:
        raise AlpacaflowError(
            f"prompt format '{prompt_format}' gives prompt {twice} {counts[twice]} BOS tokens "
            f"({prompts[twice].token_ids[:6]}...): the text starts with BOS more than once"
        )
    head = prompts[0].token_ids[:8] if prompts else []
    start = f"prompt format '{prompt_format}': token ids start {head}"
    if bos_id is None:
        return f"{start} (the tokenizer has no BOS)"
    without = sum(n == 0 for n in counts)
    if without:
        return f"{start}; {without} of {len(prompts)} prompts have no BOS (the tokenizer adds none)"
    sources = sorted({p.bos for p in prompts})
    where = "; ".join(_BOS_SOURCE.get(s, s) for s in sources)
    return f"{start}, one BOS ({bos_id}) per prompt, {where}"
