"""Prompt formats, stop rules and reasoning outputs on the real Llama-3.2 and Qwen3 tokenizers.

Token ids are checked one by one for each format: a template file with and
without BOS, system prompts, Qwen3's chat template with thinking on and off.
Generation runs on scripted models (`alpacaflow.testing.tiny`: tiny models on the real
tokenizers that write a fixed text after a prompt), so that a stop string, a
stop token id and a ``<think>`` block appear exactly where the tests expect
them, in vLLM and transformers alike. Tests that start engines are ``slow``.
"""

from __future__ import annotations

import datetime
import functools
import json
from pathlib import Path

import pytest
from alpacaflow import generation
from alpacaflow.engines.base import Completion
from alpacaflow.errors import AlpacaflowError
from alpacaflow.formatting import PromptFormat, check_bos, format_prompt
from alpacaflow.io import read_parquet
from alpacaflow.steps import generate
from alpacaflow.steps.download_prompts import prepare_prompts
from alpacaflow.stopping import StopRules, eos_token_ids, finish
from alpacaflow.testing.tokenizers import llama3_tokenizer, qwen3_tokenizer
from conftest import REALISTIC, resolved_settings, run_generate_probe

BOS, START, END, EOT, PYTHON_TAG = 128000, 128006, 128007, 128009, 128010
SYSTEM, USER, ASSISTANT, BLANK_LINE = 9125, 882, 78191, 271
IM_START, IM_END, ENDOFTEXT, THINK, THINK_END = 151644, 151645, 151643, 151667, 151668
Q_SYSTEM, Q_USER, Q_ASSISTANT, Q_NEWLINE, Q_BLANK_LINE = 8948, 872, 77091, 198, 271
INSTRUCTION, SYSTEM_PROMPT = "Name three prime numbers.", "Be brief."
NO_BOS_TEMPLATE = REALISTIC / "llama-3-chat-no-bos.jinja"
META_TEMPLATE = REALISTIC / "llama-3.2-instruct.jinja"
ALPACA_STOPS = ["### Instruction:", "### Input:", "### Response:"]


@functools.cache
def llama():
    return llama3_tokenizer("base")


@functools.cache
def qwen():
    return qwen3_tokenizer()


def ids(tok, text: str) -> list[int]:
    return tok.encode(text, add_special_tokens=False)


def test_a_template_file_without_bos_gets_the_tokenizers_bos_once():
    tok = llama()
    prompt = format_prompt(tok, INSTRUCTION, PromptFormat("template", NO_BOS_TEMPLATE.read_text()))
    assert not prompt.text.startswith("<|begin_of_text|>")
    assert prompt.token_ids == [BOS, START, USER, END, BLANK_LINE, *ids(tok, INSTRUCTION),
                                EOT, START, ASSISTANT, END, BLANK_LINE]  # fmt: skip
    assert prompt.bos == "tokenizer"
    line = check_bos(tok, [prompt], "template (llama-3-chat-no-bos.jinja)")
    assert line.endswith("one BOS (128000) per prompt, added by the tokenizer (the text has none)")
    # Meta's template writes BOS itself: the tokenizer's is not added on top.
    written = format_prompt(tok, INSTRUCTION, PromptFormat("template", META_TEMPLATE.read_text()))
    assert written.token_ids[:3] == [BOS, START, SYSTEM] and written.token_ids.count(BOS) == 1
    assert written.bos == "text"
    assert check_bos(tok, [written], "template").endswith("one BOS (128000) per prompt, written by the template")
    # The same file as a tokenizer's own chat template (prompt_format chat): the same ids.
    chat_tok = llama3_tokenizer("chat", NO_BOS_TEMPLATE.read_text())
    assert format_prompt(chat_tok, INSTRUCTION, "chat").token_ids == prompt.token_ids


def test_a_template_that_writes_bos_twice_is_stopped():
    twice = PromptFormat("template", "{{ bos_token }}{{ bos_token }}{{ messages[0]['content'] }}")
    prompt = format_prompt(llama(), INSTRUCTION, twice)
    with pytest.raises(AlpacaflowError, match=r"gives prompt 0 2 BOS tokens \(\[128000, 128000,"):
        check_bos(llama(), [prompt], "template")


def test_a_broken_template_is_one_line():
    with pytest.raises(AlpacaflowError, match="prompt format 'template': the chat template failed: .*bad"):
        format_prompt(llama(), INSTRUCTION, PromptFormat("template", "{{ raise_exception('bad template') }}"))


def test_the_system_prompt_reaches_every_chat_format():
    tok = llama()
    fallback = format_prompt(tok, INSTRUCTION, PromptFormat("chat", system_prompt=SYSTEM_PROMPT))
    assert fallback.token_ids == [BOS, START, SYSTEM, END, BLANK_LINE, *ids(tok, SYSTEM_PROMPT), EOT,
                                  START, USER, END, BLANK_LINE, *ids(tok, INSTRUCTION), EOT,
                                  START, ASSISTANT, END, BLANK_LINE]  # fmt: skip
    from_file = PromptFormat("template", NO_BOS_TEMPLATE.read_text(), SYSTEM_PROMPT)
    assert format_prompt(tok, INSTRUCTION, from_file).token_ids == fallback.token_ids
    meta = format_prompt(llama3_tokenizer("chat", META_TEMPLATE.read_text()), INSTRUCTION,
                         PromptFormat("chat", system_prompt=SYSTEM_PROMPT))  # fmt: skip
    assert "Today Date: " in meta.text and f"\n\n{SYSTEM_PROMPT}<|eot_id|>" in meta.text
    assert format_prompt(tok, INSTRUCTION, "chat").text.count("<|start_header_id|>system") == 0  # none by default
    qwen_prompt = format_prompt(qwen(), INSTRUCTION, PromptFormat("chat", system_prompt=SYSTEM_PROMPT))
    assert qwen_prompt.token_ids == [IM_START, Q_SYSTEM, Q_NEWLINE, *ids(qwen(), SYSTEM_PROMPT), IM_END, Q_NEWLINE,
                                     IM_START, Q_USER, Q_NEWLINE, *ids(qwen(), INSTRUCTION), IM_END, Q_NEWLINE,
                                     IM_START, Q_ASSISTANT, Q_NEWLINE]  # fmt: skip


class FrozenClock(datetime.datetime):
    """A clock stopped at `when` (the `datetime` that transformers' ``strftime_now`` reads)."""

    when = datetime.datetime(2031, 3, 5, 9, 0)

    @classmethod
    def now(cls, tz=None):  # noqa: ANN001, ANN206
        return cls.when


def _clock_at(monkeypatch: pytest.MonkeyPatch, when: datetime.datetime) -> None:
    import transformers.utils.chat_template_utils as chat_templates

    monkeypatch.setattr(FrozenClock, "when", when)
    monkeypatch.setattr(chat_templates, "datetime", FrozenClock)


def test_prompts_hold_the_pinned_date_whatever_the_clock(monkeypatch):
    """Meta's real Llama-3.2-Instruct template reads the clock; prompts hold the schema's date on any day."""
    from alpacaflow.engines.base import Request
    from alpacaflow.store import request_key

    tok = llama3_tokenizer("chat", META_TEMPLATE.read_text())
    entry = {"path": "m", "prompt_format": "chat"}
    settings = resolved_settings("m", entry)
    assert settings["prompt_date"] == "26 Jul 2024"  # the schema's default, Meta's own fallback
    keys = []
    for day in (datetime.datetime(2031, 3, 5), datetime.datetime(2027, 11, 30)):
        _clock_at(monkeypatch, day)
        assert format_prompt(tok, INSTRUCTION, PromptFormat("chat")).text.count(f"{day:%d %b %Y}") == 0
        prompt = format_prompt(tok, INSTRUCTION, PromptFormat.from_settings(settings))
        assert "Today Date: 26 Jul 2024\n\n" in prompt.text and f"{day:%Y}" not in prompt.text
        keys.append(request_key(settings, {"folder_sha256": "x"}, Request(prompt.token_ids, 8, 42)))
    assert keys[0] == keys[1]
    # The control: transformers' own clock is the one frozen above (what an unpinned render writes).
    _clock_at(monkeypatch, datetime.datetime(2031, 3, 5))
    assert "Today Date: 05 Mar 2031" in tok.apply_chat_template([{"role": "user", "content": "x"}], tokenize=False)


def test_a_models_date_string_and_any_clock_call_get_the_pinned_date(monkeypatch):
    _clock_at(monkeypatch, datetime.datetime(2031, 3, 5))
    tok = llama3_tokenizer("chat", META_TEMPLATE.read_text())
    own = resolved_settings("m", {"path": "m", "chat_template_kwargs": {"date_string": "01 Jan 2025"}})
    assert own["prompt_date"] == "01 Jan 2025"
    assert "Today Date: 01 Jan 2025\n\n" in format_prompt(tok, INSTRUCTION, PromptFormat.from_settings(own)).text
    # A template that calls strftime_now in another format gets the pinned date in that format.
    clock = "{{ bos_token }}{{ strftime_now('%Y-%m-%d') }}|{{ messages[0]['content'] }}"
    text = format_prompt(tok, INSTRUCTION, PromptFormat("template", clock, date="26 Jul 2024")).text
    assert text == f"<|begin_of_text|>2024-07-26|{INSTRUCTION}"
    assert resolved_settings("m", {"path": "m", "prompt_format": "alpaca"})["prompt_date"] is None


def test_qwen3_thinking_is_switched_by_chat_template_kwargs():
    tok = qwen()
    thinking = format_prompt(tok, INSTRUCTION, "chat")  # Qwen3's template thinks unless told otherwise
    assert thinking.token_ids == [IM_START, Q_USER, Q_NEWLINE, *ids(tok, INSTRUCTION), IM_END, Q_NEWLINE,
                                  IM_START, Q_ASSISTANT, Q_NEWLINE]  # fmt: skip
    off = format_prompt(tok, INSTRUCTION, PromptFormat("chat", chat_template_kwargs={"enable_thinking": False}))
    assert off.token_ids == [*thinking.token_ids, THINK, Q_BLANK_LINE, THINK_END, Q_BLANK_LINE]
    on = format_prompt(tok, INSTRUCTION, PromptFormat("chat", chat_template_kwargs={"enable_thinking": True}))
    assert on.token_ids == thinking.token_ids
    assert check_bos(tok, [off], "chat").endswith("(the tokenizer has no BOS)") and off.bos == "none"


def test_end_of_sequence_ids_are_special_tokens_only():
    """Qwen's BPE has "</s>" as plain text (id 128247): writing it must not stop a Qwen model."""
    assert qwen().get_vocab()["</s>"] == 128247
    assert eos_token_ids(qwen(), [IM_END, ENDOFTEXT]) == [ENDOFTEXT, IM_END]
    assert eos_token_ids(llama()) == [128001, 128008, EOT]


def test_finish_cuts_at_the_first_stop_string_and_counts_tokens_through_it():
    tok = llama()
    written = ids(tok, "Paris is the capital of France.\n\n### Instruction:\nName another city.")
    rules = StopRules([128001, EOT], [], ALPACA_STOPS)
    done = finish(tok, Completion(written, len(written), "length", 0.1), rules, "keep")
    assert done.text == "Paris is the capital of France.\n\n"
    assert done.token_ids == ids(tok, "Paris is the capital of France.\n\n### Instruction:\n")  # ":\n" completes it
    assert (done.output_tokens, done.finish_reason, done.stop_rule) == (10, "stop", "stop")
    assert done.stop_match == "### Instruction:"
    by_id = finish(tok, Completion(ids(tok, "Hello world"), 3, "stop", 0.1, PYTHON_TAG),
                   StopRules([EOT, PYTHON_TAG], [PYTHON_TAG], []), "keep")  # fmt: skip
    assert (by_id.text, by_id.stop_rule, by_id.stop_match) == ("Hello world", "stop_token_ids", "128010")
    eos = finish(tok, Completion(ids(tok, "Hi"), 2, "stop", 0.1, EOT), StopRules([EOT, PYTHON_TAG], [PYTHON_TAG], []),
                 "keep")  # fmt: skip
    assert (eos.stop_rule, eos.stop_match) == ("eos", "128009")


@pytest.mark.parametrize(
    ("text", "reason", "reasoning", "expected"),
    [
        ("<think>Let me think.\n</think>\n\nFour!", "stop", "strip", ("Four!", True, 6, False)),
        ("<think>Let me think.\n</think>\n\nFour!", "stop", "keep", ("<think>Let me think.\n</think>\n\nFour!",
                                                                     True, 6, False)),
        ("<think>Let me", "length", "keep", ("<think>Let me", True, 3, True)),
        ("<think>Let me", "length", "strip", ("", True, 3, True)),
        ("Four!", "stop", "strip", ("Four!", False, 0, False)),
    ],
)  # fmt: skip
def test_finish_strips_or_keeps_a_leading_think_block(text, reason, reasoning, expected):
    tok = qwen()
    written = ids(tok, text)
    done = finish(tok, Completion(written, len(written), reason, 0.1, IM_END if reason == "stop" else None),
                  StopRules([IM_END], [], []), reasoning)  # fmt: skip
    assert (done.text, done.opens_with_think, done.reasoning_tokens, done.truncated_in_reasoning) == expected
    assert done.output_tokens == len(written)  # reasoning tokens are counted apart, not removed from the count


def _prompts(realistic: Path, out: Path, n: int) -> Path:
    cfg = {"source": str(realistic / "prompts.json"), "df_gamed": str(realistic / "df_gamed.csv"),
           "revision": "main", "max_instances": n}  # fmt: skip
    prepare_prompts(cfg, out / "prompts.parquet", out / "df_gamed.csv", out / "prompts_meta.json")
    return out / "prompts.parquet"


def _settings(realistic: Path, model: str, backend: str, entry: dict, **generation) -> dict:
    gen = {"backend": backend, "device": "cpu", "dtype": "float32", "temperature": 0.0, "max_new_tokens": 24,
           "max_model_len": 2048, "gpu_memory_utilization": 0.2, "enforce_eager": True, **generation}  # fmt: skip
    return resolved_settings(model, {"path": str(realistic / "models" / model), **entry}, gen)


def test_the_length_check_stops_before_any_engine_starts(tmp_path, realistic, monkeypatch):
    """The longest of 805 real-length prompts plus max_new_tokens over max_model_len: one line, no engine."""

    def no_engine(*args, **kwargs):
        raise AssertionError("an engine was started")

    monkeypatch.setattr(generation, "load_generator", no_engine)
    prompts = _prompts(realistic, tmp_path, 805)
    settings = _settings(realistic, "writer", "vllm", {"prompt_format": "alpaca"}, max_new_tokens=4096,
                         max_model_len=4096)  # fmt: skip
    longest = max(len(format_prompt(llama(), r, "alpaca").token_ids) for r in read_parquet(prompts)["instruction"])
    total, room = longest + 4096, 4096 - longest
    message = (f"model 'writer': the longest prompt \\(index \\d+, {longest} tokens\\) plus max_new_tokens 4096 "
               f"is {total} tokens, more than max_model_len 4096: raise generation.max_model_len to "
               f"{total} or more, or lower generation.max_new_tokens to {room} or less$")  # fmt: skip
    with pytest.raises(AlpacaflowError, match=message):
        generate.run_generation(settings, prompts, tmp_path / "out")
    assert not (tmp_path / "out").exists()


#: (model, prompt format settings, what it writes: output, output tokens, stop rule, stop match, reasoning tokens).
CASES = {
    "alpaca_stops": ("writer", {"prompt_format": "alpaca"},
                     ("Paris is the capital of France.\n\n", 10, "stop", "### Instruction:", 0)),
    "stop_token_id": ("writer", {"prompt_format": "chat", "stop_token_ids": [PYTHON_TAG]},
                      ("Hello world", 3, "stop_token_ids", str(PYTHON_TAG), 0)),
    "qwen3_strip": ("qwen3", {"reasoning": "strip"}, ("The answer is four!", 13, "eos", str(IM_END), 6)),
}  # fmt: skip
#: Transformers only: the same rules, off or at their edges.
MORE_CASES = {
    "alpaca_no_stops": ("writer", {"prompt_format": "alpaca", "stop": []}, (None, 24, None, None, 0)),
    "eos": ("writer", {"prompt_format": "chat"}, ("Hello world Bye", 5, "eos", str(EOT), 0)),
    "qwen3_thinking_off": ("qwen3", {"chat_template_kwargs": {"enable_thinking": False}},
                           ("The answer is four!", 6, "eos", str(IM_END), 0)),
}  # fmt: skip
COLUMNS = ["output", "output_tokens", "stop_rule", "stop_match", "reasoning_tokens"]


def _check(table, expected: tuple) -> None:
    for row in table[COLUMNS].itertuples(index=False):
        assert tuple(row) == expected or expected[0] is None and tuple(row)[1:] == expected[1:]


@pytest.mark.slow
def test_stop_rules_and_think_blocks_in_vllm_and_transformers_alike(tmp_path, realistic, capsys):
    prompts = _prompts(realistic, tmp_path, 4)
    runs = {}
    for backend, cases in (("transformers", {**CASES, **MORE_CASES}), ("vllm", CASES)):
        for name, (model, entry, _) in cases.items():
            runs[backend, name] = (_settings(realistic, model, backend, entry), str(tmp_path / backend / name))
    for (backend, _), (settings, out) in runs.items():
        if backend == "transformers":
            generate.run_generation(settings, prompts, Path(out))
    log = capsys.readouterr().out
    probe = run_generate_probe([(s, prompts, out) for (backend, _), (s, out) in runs.items() if backend == "vllm"])
    assert probe.returncode == 0, probe.stderr[-3000:]
    tables = {key: read_parquet(Path(out) / "generations.parquet") for key, (_, out) in runs.items()}

    for name, (_, _, expected) in {**CASES, **MORE_CASES}.items():
        _check(tables["transformers", name], expected)
    for name in CASES:  # both engines stopped at the same token, for the same rule
        hf, vl = tables["transformers", name], tables["vllm", name]
        assert hf[[*COLUMNS, "finish_reason"]].equals(vl[[*COLUMNS, "finish_reason"]])
        assert [list(x) for x in hf["output_token_ids"]] == [list(x) for x in vl["output_token_ids"]]
    runaway = tables["transformers", "alpaca_no_stops"]["output"][0]
    assert runaway.startswith("Paris is the capital of France.\n\n### Instruction:\nParis is")  # what the stops cut
    for backend in ("transformers", "vllm"):
        throughput = json.loads((tmp_path / backend / "qwen3_strip" / "throughput.json").read_text())
        assert (throughput["open_with_think"], throughput["reasoning_tokens"], throughput["stopped_by"]) == (
            4,
            24,
            {"eos": 4},
        )
        stops = json.loads((tmp_path / backend / "alpaca_stops" / "throughput.json").read_text())["stopped_by"]
        assert stops == {"stop": 4}
    assert "stop strings ['### Instruction:', '### Input:', '### Response:']" in log
    assert "4 outputs ended: 4 by eos; 4 of 4 open with <think> (reasoning: strip)" in log
    assert "4 outputs ended: 4 by stop; 0 of 4 open with <think>" in probe.stdout
    assert "stop_token_ids [128010]" in probe.stdout
    # vLLM decoded from exactly these ids (the backend checks): the Llama-3 fallback and Alpaca, one BOS each.
    fallback, alpaca = tables["vllm", "stop_token_id"], tables["vllm", "alpaca_stops"]
    assert all(list(ids[:5]) == [BOS, START, USER, END, BLANK_LINE] for ids in fallback["prompt_token_ids"])
    assert all(list(ids).count(BOS) == 1 for ids in [*fallback["prompt_token_ids"], *alpaca["prompt_token_ids"]])
    assert probe.stdout.count("one BOS (128000) per prompt") == 2


def test_an_output_still_thinking_at_max_new_tokens_is_reported(tmp_path, realistic, capsys):
    """Transformers, 3 new tokens: every output is cut inside its <think> block."""
    prompts = _prompts(realistic, tmp_path, 2)
    settings = _settings(realistic, "qwen3", "transformers", {"reasoning": "strip"}, max_new_tokens=3)
    generate.run_generation(settings, prompts, tmp_path / "out")
    table = read_parquet(tmp_path / "out" / "generations.parquet")
    assert table["truncated_in_reasoning"].tolist() == [True, True] and table["output"].tolist() == ["", ""]
    assert table["finish_reason"].tolist() == ["length", "length"]
    assert json.loads((tmp_path / "out" / "throughput.json").read_text())["truncated_in_reasoning"] == 2
    assert "2 of 2 open with <think> (reasoning: strip); 2 hit max_new_tokens inside <think>" in capsys.readouterr().out


def test_the_report_says_where_stop_strings_and_think_blocks_applied():
    from alpacaflow.benchmarks.alpaca_eval.report import speed_sentence

    tp = {"backend": "vllm", "device": "cuda", "n_examples": 805, "generate_seconds": 80.5, "seconds_per_example": 0.1,
          "examples_per_second": 10.0, "output_tokens_per_second": 900.0, "load_seconds": 20.0,
          "hit_max_new_tokens": 3, "stopped_by": {"eos": 700, "stop": 102}, "open_with_think": 805,
          "reasoning_tokens": 123456, "truncated_in_reasoning": 3}  # fmt: skip
    sentence = speed_sentence("qwen3_8b", tp)
    assert sentence.endswith("3 of 805 responses hit max_new_tokens; 102 cut at a stop string; 805 opened with "
                             "`<think>` (123456 reasoning tokens; 3 still inside it at max_new_tokens)).")  # fmt: skip
    plain = {**tp, "stopped_by": {"eos": 802}, "open_with_think": 0}
    assert speed_sentence("sft", plain).endswith("3 of 805 responses hit max_new_tokens).")


def _dialogue_rows(records: list[dict]) -> list[dict]:
    """The realistic set's 805 rows, two of every three a conversation over the rows before it (2 or 3 user turns)."""
    rows = []
    for k, record in enumerate(records):
        earlier = records[max(0, k - k % 3) : k]
        turns = [m for e in earlier for m in ({"role": "user", "content": e["instruction"]},
                                              {"role": "assistant", "content": e["output"]})]  # fmt: skip
        last = {"role": "user", "content": record["instruction"]}
        rows.append({"messages": [*turns, last], "output": record["output"]} if turns else record)
    return rows


def test_conversations_at_real_shape_one_bos_the_pinned_date_and_the_longest_row_named(tmp_path, realistic,
                                                                                      monkeypatch):  # fmt: skip
    """805 rows on the real Llama-3.2-Instruct template: each conversation rendered whole, one BOS, no engine."""
    from alpacaflow.generation import format_rows

    source = tmp_path / "dialogues.json"
    rows = _dialogue_rows(json.loads((realistic / "prompts.json").read_text()))
    source.write_text(json.dumps(rows))
    cfg = {"source": str(source), "df_gamed": None, "revision": "main", "max_instances": None}
    prepare_prompts(cfg, tmp_path / "prompts.parquet", tmp_path / "df_gamed.csv", tmp_path / "meta.json")
    table = read_parquet(tmp_path / "prompts.parquet")
    assert len(table) == 805 and table["turns"].value_counts().to_dict() == {1: 269, 2: 268, 3: 268}
    meta = {"prompt_format": "template", "template": str(META_TEMPLATE)}  # Meta's Llama-3.2-Instruct template
    settings = _settings(realistic, "chat", "vllm", meta, max_new_tokens=512, max_model_len=4096)
    tokenizer = llama()
    formatted = format_rows(tokenizer, table, PromptFormat.from_settings(settings))
    assert "one BOS (128000) per prompt" in check_bos(tokenizer, formatted, "template")
    for row, prompt in zip(rows, formatted, strict=True):
        assert prompt.text.count("Today Date: 26 Jul 2024") == 1
        contents = [m["content"] for m in row.get("messages", [{"content": row.get("instruction")}])]
        positions = [prompt.text.index(c) for c in contents]
        assert positions == sorted(positions)
        assert prompt.text.endswith("<|eot_id|><|start_header_id|>assistant<|end_header_id|>\n\n")
    lengths = [len(p.token_ids) for p in formatted]
    longest = max(range(805), key=lengths.__getitem__)
    assert table["turns"][longest] == 3 and lengths[longest] > 1000  # real lengths: three turns of real answers

    def no_engine(*args, **kwargs):
        raise AssertionError("an engine was started")

    monkeypatch.setattr(generation, "load_generator", no_engine)
    settings["generation"]["max_model_len"] = lengths[longest] + 100
    message = (f"^model 'chat': prompt-set row {table['index'][longest]} \\(a conversation of 3 user turns, "
               f"{lengths[longest]} tokens\\) plus max_new_tokens 512 is {lengths[longest] + 512} tokens")  # fmt: skip
    with pytest.raises(AlpacaflowError, match=message):
        generate.run_generation(settings, tmp_path / "prompts.parquet", tmp_path / "out")
    assert not (tmp_path / "out" / "model_outputs.json").exists()
