"""Prompt formats on the tiny tokenizers: Alpaca, chat template, Llama-3 fallback; stop tokens."""

from __future__ import annotations

import pytest
from alpacaflow.errors import AlpacaflowError
from alpacaflow.formatting import ALPACA_TEMPLATE, format_prompt
from alpacaflow.stopping import eos_token_ids
from transformers import AutoTokenizer

INSTRUCTION = "Why is the sky blue?"


@pytest.fixture(scope="module")
def tokenizers(tiny_models):
    return {name: AutoTokenizer.from_pretrained(path) for name, path in tiny_models.items()}


def test_alpaca_format_adds_bos_once(tokenizers):
    tok = tokenizers["base"]
    prompt = format_prompt(tok, INSTRUCTION, "alpaca")
    assert prompt.text == ALPACA_TEMPLATE.format(instruction=INSTRUCTION)
    assert prompt.text.endswith("### Response:\n")
    assert prompt.token_ids[0] == tok.bos_token_id
    assert prompt.token_ids.count(tok.bos_token_id) == 1
    assert tok.decode(prompt.token_ids, skip_special_tokens=True) == prompt.text


def test_chat_template_is_used(tokenizers):
    tok = tokenizers["chat"]
    prompt = format_prompt(tok, INSTRUCTION, "chat")
    expected = tok.apply_chat_template(
        [{"role": "user", "content": INSTRUCTION}], tokenize=False, add_generation_prompt=True
    )
    assert prompt.text == expected
    assert prompt.text.endswith("<|start_header_id|>assistant<|end_header_id|>\n\n")
    assert prompt.token_ids.count(tok.bos_token_id) == 1
    header = tok.convert_tokens_to_ids("<|start_header_id|>")
    assert prompt.token_ids.count(header) == 2


def test_llama3_fallback_without_template(tokenizers):
    base = tokenizers["base"]
    assert not base.chat_template
    prompt = format_prompt(base, INSTRUCTION, "chat")
    assert prompt.text == (
        "<|begin_of_text|><|start_header_id|>user<|end_header_id|>\n\n"
        f"{INSTRUCTION}<|eot_id|><|start_header_id|>assistant<|end_header_id|>\n\n"
    )
    # The tiny chat template is Llama-3 style, so the fallback must tokenize identically.
    assert prompt.token_ids == format_prompt(tokenizers["chat"], INSTRUCTION, "chat").token_ids


def test_fallback_needs_llama3_header_tokens():
    from tokenizers import Tokenizer, models, pre_tokenizers
    from transformers import PreTrainedTokenizerFast

    raw = Tokenizer(models.WordLevel({"[UNK]": 0, "hi": 1}, unk_token="[UNK]"))
    raw.pre_tokenizer = pre_tokenizers.Whitespace()
    tok = PreTrainedTokenizerFast(tokenizer_object=raw, unk_token="[UNK]")
    with pytest.raises(AlpacaflowError, match="no chat template.*prompt_format"):
        format_prompt(tok, "hi", "chat")


def test_stop_tokens_include_eos_and_end_of_turn(tokenizers):
    chat = tokenizers["chat"]
    ids = eos_token_ids(chat)
    assert chat.convert_tokens_to_ids("<|eot_id|>") in ids
    assert chat.convert_tokens_to_ids("<|end_of_text|>") in ids
    assert {7, 8} <= set(eos_token_ids(chat, [7, 8]))
    assert tokenizers["base"].eos_token_id in eos_token_ids(tokenizers["base"])
