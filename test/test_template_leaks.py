"""Leaked chat templates: outputs made to leak in each format are found, clean ones are not, and the counts reach
the leaderboard, the error taxonomy, the generate log and the report's opening warning."""

from __future__ import annotations

import pytest
from alpacaflow.steps.generate import leak_line
from alpacaflow.taxonomy import classify
from alpacaflow.template_leaks import find_leak, leak_summary, leak_warning, opens_with_think

ANSWER = "Paris is the capital of France."


@pytest.mark.parametrize(
    ("output", "chat_format", "at_start"),
    [
        # Llama-3: the assistant header generated again, decoded with special tokens stripped (or kept).
        (f"assistant\n\n{ANSWER}", "bare role header (special tokens stripped)", True),
        (f"<|start_header_id|>assistant<|end_header_id|>\n\n{ANSWER}", "Llama-3", True),
        (f"{ANSWER}<|eot_id|>", "Llama-3", False),
        (f"{ANSWER}<|eot_id|><|start_header_id|>user<|end_header_id|>\n\nThanks!", "Llama-3", False),
        # A turn written on after the answer, special tokens stripped.
        (f"{ANSWER}assistant\n\nAnything else?", "bare role header (special tokens stripped)", False),
        # ChatML (Qwen): header kept, or stripped to "assistant\n".
        (f"<|im_start|>assistant\n{ANSWER}", "ChatML", True),
        (f"{ANSWER}<|im_end|>", "ChatML", False),
        (f"assistant\n{ANSWER}", "bare role header (special tokens stripped)", True),
        # Alpaca: the template's next section written on.
        (f"### Response:\n{ANSWER}", "Alpaca", True),
        (f"{ANSWER}\n\n### Instruction:\nName another capital.", "Alpaca", False),
        # Others.
        (f"[INST] What is the capital? [/INST] {ANSWER}", "Llama-2/Mistral", True),
        (f"{ANSWER}<end_of_turn>\n<start_of_turn>user", "Gemma", False),
        (f"<|assistant|>\n{ANSWER}", "Phi-3/Zephyr", True),
        (f"{ANSWER}<|endoftext|>", "end-of-text token", False),
    ],
)
def test_outputs_made_to_leak_are_found(output, chat_format, at_start):
    leak = find_leak(output)
    assert leak is not None and (leak.chat_format, leak.at_start) == (chat_format, at_start)
    assert leak.marker.strip() in output
    assert "leaked_template" in classify(output, ANSWER, "stop", TAXONOMY)


@pytest.mark.parametrize(
    "output",
    [
        ANSWER,
        "As an AI assistant, I can help you plan the trip.",
        "Assistant\n\nThe word above is a heading, capitalized.",
        "assistant manager duties include scheduling.",
        "Ask the assistant\n\nand the user\n\nwill both see it.",
        "Use <s>strike</s> in HTML and ### Notes: as a heading.",
        "A user: someone who uses a system.\nsystem administrators keep it running.",
        "<think>\nThe capital of France...\n</think>\n\nParis.",
        "",
        None,
    ],
)
def test_clean_outputs_raise_no_alarm(output):
    assert find_leak(output) is None


def test_think_openings_are_counted_apart_from_leaks():
    outputs = ["<think>\nHm.\n</think>\n\nParis.", "  <think>Hm.", ANSWER, f"assistant\n\n{ANSWER}"]
    summary = leak_summary(outputs)
    assert (summary["n"], summary["leaked_template"], summary["think_opening"]) == (4, 1, 2)
    assert opens_with_think(outputs[1]) and not opens_with_think(ANSWER)


def test_warning_above_two_percent_names_model_share_example_and_cause():
    clean = [ANSWER] * 98
    assert leak_warning("sft", leak_summary([*clean, f"assistant\n\n{ANSWER}", ANSWER])) is None  # 1%
    summary = leak_summary([*clean[:97], *[f"assistant\n\n{ANSWER}"] * 3])  # 3%
    warning = leak_warning("sft", summary)
    assert warning.startswith("sft: 3 of 100 outputs (3.0%) open with chat-template markup")
    assert "'assistant\\n\\nParis is the capital of France.'" in warning
    assert "Likely cause: the prompt format does not match how the model was trained" in warning
    line = leak_line("sft", [*clean[:97], *[f"assistant\n\n{ANSWER}"] * 3])
    assert line.splitlines()[0] == "chat-template check: 3 of 100 outputs hold chat-format markup; 0 open with <think>"
    assert line.splitlines()[1] == f"WARNING: {warning}"


TAXONOMY = {"ngram": 3, "repeated_ngram_share": 0.5, "shorter_ratio": 0.0, "min_language_chars": 10_000}
