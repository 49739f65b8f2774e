"""Realistic tier: the real Llama-3.2 tokenizer, 805 prompts of AlpacaEval's shape, the whole DAG.

The toy tokenizer and the 30 demo prompts hid real defects (a crash on split
prefills, BOS counts nobody checked, a biased subset, meaningless LC). Here
every path that reaches a model is checked token id by token id on Meta's
tokenizer, and the whole workflow runs over 805 prompts of real length.
Tests that start engines or workflows are marked ``slow``.
"""

from __future__ import annotations

import functools
import json
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml
from alpacaflow.errors import AlpacaflowError
from alpacaflow.formatting import ALPACA_TEMPLATE, FormattedPrompt, check_bos, format_prompt
from alpacaflow.io import read_parquet
from alpacaflow.judge_prompts import (
    CONTEXT_MARGIN,
    fit_to_context,
    judge_bos_line,
    judge_prompt_ids,
    ranking_template,
    render,
    weighted_template,
)
from alpacaflow.steps.download_prompts import prepare_prompts
from alpacaflow.steps.generate import generation_eos, run_generation
from alpacaflow.stopping import eos_token_ids
from conftest import REALISTIC, realistic_config, resolved_settings, run_snakemake, subprocess_env

BOS, START, END, EOT, EOM, END_OF_TEXT = 128000, 128006, 128007, 128009, 128008, 128001
SYSTEM, USER, ASSISTANT, BLANK_LINE = 9125, 882, 78191, 271  # "system", "user", "assistant", "\n\n"
INSTRUCTION = "Name three prime numbers."


@functools.cache
def tokenizer(realistic: Path, name: str):
    """A real-tokenizer model's tokenizer (read once per session: 17 MB of tokenizer.json)."""
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(realistic / "models" / name)


def judge_cfg(realistic: Path, method: str, **extra) -> dict:
    from alpacaflow.config import load_schema, validate_config

    judge = {"backend": "vllm", "method": method, "model": str(realistic / "models" / "judge"), "device": "cpu",
             "tensor_parallel_size": 1, "max_model_len": 4096, "dtype": "float32", "gpu_memory_utilization": 0.2,
             "enforce_eager": True, "batch_size": 16, **extra}  # fmt: skip
    return validate_config({"judge": judge, "models": {"m": {"path": "x"}}}, load_schema())["judge"]


def test_the_real_tokenizer_adds_bos_to_text_that_has_one(realistic):
    """The issue's example: the tokenizer's own BOS comes on top of one written in the text."""
    tok = tokenizer(realistic, "chat")
    assert len(tok) == 128256
    text = "<|begin_of_text|><|start_header_id|>user<|end_header_id|>"
    assert tok(text)["input_ids"] == [BOS, BOS, START, USER, END]
    assert tok(text, add_special_tokens=False)["input_ids"] == [BOS, START, USER, END]


def test_every_generate_format_starts_with_exactly_one_bos(realistic):
    chat, base = tokenizer(realistic, "chat"), tokenizer(realistic, "base")
    templated = format_prompt(chat, INSTRUCTION, "chat")  # Meta's Llama-3.2-Instruct template
    assert templated.token_ids[:5] == [BOS, START, SYSTEM, END, BLANK_LINE]
    assert "Cutting Knowledge Date: December 2023\nToday Date: " in templated.text  # its default system preamble
    assert templated.token_ids[-10:-5] == chat.encode(INSTRUCTION, add_special_tokens=False)[-5:]
    assert templated.token_ids[-5:] == [EOT, START, ASSISTANT, END, BLANK_LINE]
    alpaca = format_prompt(base, INSTRUCTION, "alpaca")  # the tokenizer's BOS
    body = base.encode(ALPACA_TEMPLATE.format(instruction=INSTRUCTION), add_special_tokens=False)
    assert alpaca.token_ids == [BOS, *body]
    fallback = format_prompt(base, INSTRUCTION, "chat")  # no chat template: Llama-3 headers, BOS written once
    assert fallback.token_ids == [BOS, START, USER, END, BLANK_LINE,
                                  *base.encode(INSTRUCTION, add_special_tokens=False),
                                  EOT, START, ASSISTANT, END, BLANK_LINE]  # fmt: skip
    for prompt, tok, fmt in ((templated, chat, "chat"), (alpaca, base, "alpaca"), (fallback, base, "chat")):
        assert prompt.token_ids.count(BOS) == 1
        assert "one BOS (128000) per prompt" in check_bos(tok, [prompt], fmt)
    assert check_bos(base, [alpaca], "alpaca").endswith("added by the tokenizer (the text has none)")
    assert check_bos(chat, [templated], "chat").endswith("written by the template")
    twice = FormattedPrompt(templated.text, chat(templated.text)["input_ids"])  # the text's BOS and the tokenizer's
    with pytest.raises(AlpacaflowError, match="gives prompt 0 2 BOS tokens"):
        check_bos(chat, [twice], "chat")


def test_stop_tokens_of_the_real_models(realistic):
    """Generation stops at <|eot_id|> and <|end_of_text|> (and <|eom_id|>) for both models."""
    chat_path, base_path = realistic / "models" / "chat", realistic / "models" / "base"
    assert eos_token_ids(tokenizer(realistic, "chat"), generation_eos(str(chat_path))) == [END_OF_TEXT, EOM, EOT]
    assert eos_token_ids(tokenizer(realistic, "base"), generation_eos(str(base_path))) == [END_OF_TEXT, EOM, EOT]


def test_judge_prompts_start_with_the_documented_bos_counts(realistic):
    """Weighted: one BOS (token ids, no special tokens added). Ranking: two (its text's and vLLM's), as documented."""
    tok = tokenizer(realistic, "judge")
    weighted, ranking = judge_cfg(realistic, "weighted"), judge_cfg(realistic, "ranking")
    w_text = render(weighted_template(), INSTRUCTION, "2, 3, 5", "4, 6, 8")
    r_text = render(ranking_template(), INSTRUCTION, "2, 3, 5", "4, 6, 8")
    w_ids, r_ids = judge_prompt_ids(weighted, tok, w_text), judge_prompt_ids(ranking, tok, r_text)
    assert w_ids[:5] == [BOS, START, SYSTEM, END, BLANK_LINE] and w_ids.count(BOS) == 1
    assert w_ids[-4:] == [START, ASSISTANT, END, BLANK_LINE]
    assert r_ids[:6] == [BOS, BOS, START, SYSTEM, END, BLANK_LINE] and r_ids.count(BOS) == 2
    assert r_ids[-4:] == [START, ASSISTANT, END, 198]  # the course file's assistant header ends in one newline
    assert judge_bos_line(weighted, tok, w_text).endswith(": 1 BOS")
    assert "2 BOS (the ranking prompt's own and vLLM's" in judge_bos_line(ranking, tok, r_text)
    # The weighted judge reads the log-probabilities of exactly these two single tokens.
    assert tok.encode("m", add_special_tokens=False) == [76] and tok.encode("M", add_special_tokens=False) == [44]


@pytest.mark.parametrize(("method", "writes"), [("weighted", 1), ("ranking", 100)])
def test_judge_context_is_cut_with_real_token_counts(realistic, method, writes):
    """The longest reference (6,600 characters) does not fit 1,024 tokens: cut, counted with the real tokenizer."""
    tok = tokenizer(realistic, "judge")
    judge = judge_cfg(realistic, method, max_model_len=1024)
    template = weighted_template() if method == "weighted" else ranking_template()
    records = json.loads((realistic / "prompts.json").read_text())
    longest = max(records, key=lambda r: len(r["output"]))
    shortest = min(records, key=lambda r: len(r["output"]) + len(r["instruction"]))
    pairs = pd.DataFrame(
        {
            "prompt_index": [0, 1],
            "instruction": [longest["instruction"], shortest["instruction"]],
            "output_1": [longest["output"], shortest["output"]],
            "output_2": ["A short answer.", "Another short answer."],
        }
    )
    cut = fit_to_context(pairs, judge, template, tok)
    assert cut["truncated_for_judge"].tolist() == [True, False]
    assert cut.loc[1, "output_1"] == shortest["output"]
    lengths = [len(judge_prompt_ids(judge, tok, render(template, r.instruction, r.output_1, r.output_2)))
               for r in cut.itertuples()]  # fmt: skip
    assert lengths[0] <= 1024 - writes  # fits, with the tokens the judge writes
    assert lengths[0] >= 1024 - writes - CONTEXT_MARGIN - 8  # and is cut no further than needed
    assert len(tok.encode(longest["output"], add_special_tokens=False)) > 1024  # it really did not fit


def _realistic_prompt_table(realistic: Path, out: Path, n: int) -> Path:
    cfg = {"source": str(realistic / "prompts.json"), "df_gamed": str(realistic / "df_gamed.csv"),
           "revision": "main", "max_instances": n}  # fmt: skip
    prepare_prompts(cfg, out / "prompts.parquet", out / "df_gamed.csv", out / "prompts_meta.json")
    return out / "prompts.parquet"


@pytest.mark.slow
def test_generate_formats_reach_the_engine_with_one_bos(tmp_path, realistic, capsys):
    """Each format's token ids reach transformers unchanged; one BOS each.

    On vLLM (which checks what it decoded from): the chat template and Alpaca
    formats in the whole-DAG test below, the Llama-3 fallback in
    test_prompt_formats.py's stop-rule test.
    """
    prompts = _realistic_prompt_table(realistic, tmp_path, 6)
    for model, fmt in (("base", "alpaca"), ("chat", "chat"), ("base", "chat")):
        generation = {"backend": "transformers", "device": "cpu", "dtype": "float32", "max_new_tokens": 2,
                      "max_model_len": 2048}  # fmt: skip
        settings = resolved_settings("m", {"path": str(realistic / "models" / model), "prompt_format": fmt},
                                     generation)  # fmt: skip
        out = tmp_path / f"{model}-{fmt}"
        run_generation(settings, prompts, out)
        assert "one BOS (128000) per prompt" in capsys.readouterr().out
        table = read_parquet(out / "generations.parquet")
        tok = tokenizer(realistic, model)
        for row in table.itertuples():
            ids = list(row.prompt_token_ids)
            assert ids == format_prompt(tok, row.instruction, fmt).token_ids
            assert ids.count(BOS) == 1 and ids[0] == BOS
            assert ids[1:3] == ([START, USER] if (model, fmt) == ("base", "chat") else ids[1:3])


@pytest.mark.slow
def test_ranking_judge_sees_two_bos_in_vllm_itself(tmp_path, realistic):
    """vLLM, called by alpaca_eval's vllm_local_completions, tokenizes the ranking text with special tokens."""
    judge = judge_cfg(realistic, "ranking", max_new_tokens=2, parse_retries=0)
    records = json.loads((realistic / "prompts.json").read_text())[:3]
    pairs = tmp_path / "pairs.json"
    pairs.write_text(json.dumps([{"instruction": r["instruction"], "output_1": r["output"], "output_2": "Sure."}
                                 for r in records]))  # fmt: skip
    result = subprocess.run(
        [sys.executable, str(REALISTIC / "judge_probe.py"), json.dumps(judge), str(pairs), str(tmp_path / "cache")],
        env=subprocess_env(), capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]
    seen = json.loads(result.stdout.strip().splitlines()[-1])
    assert len(seen) == 3
    tok = tokenizer(realistic, "judge")
    for prompt in seen:
        assert prompt["prompt_token_ids"][:3] == [BOS, BOS, START]
        assert prompt["prompt_token_ids"] == judge_prompt_ids(judge, tok, prompt["prompt"])


@pytest.mark.slow
def test_whole_dag_on_805_realistic_prompts(tmp_path, realistic):
    """No crash (sampled generation splits prefills at this size), every count right, LC computed.

    The shipped config with 4 new tokens per prompt instead of 8 (what decides the crash is the prompt
    tokens) and without judge validation (the demo workflow test runs it; it is the annotate path on 50
    pairs); `make bench-realistic` runs it as shipped.
    """
    config = realistic_config(realistic, tmp_path)
    config["generation"]["max_new_tokens"] = 4
    config["validate_judge"]["enabled"] = False
    (tmp_path / "config.yaml").write_text(yaml.safe_dump(config, sort_keys=False))
    run = run_snakemake("--configfile", "config.yaml", "--cores", "2", cwd=tmp_path, timeout=1800)
    assert run.returncode == 0, run.stderr[-3000:]
    results = tmp_path / "results"
    records = json.loads((realistic / "prompts.json").read_text())
    lengths = {}
    for model, fmt, first in (("zero_shot", "alpaca", [BOS, 39314]), ("sft", "chat", [BOS, START, SYSTEM])):
        outputs = json.loads((results / model / "model_outputs.json").read_text())
        assert [o["instruction"] for o in outputs] == [r["instruction"] for r in records]
        table = read_parquet(results / model / "generations.parquet")
        assert table["index"].tolist() == list(range(805))
        tok = tokenizer(realistic, "base" if fmt == "alpaca" else "chat")
        for ids, text in zip(table["prompt_token_ids"], table["prompt"], strict=True):
            assert list(ids[: len(first)]) == first and list(ids).count(BOS) == 1
            assert list(ids) == tok(text, add_special_tokens=fmt == "alpaca")["input_ids"]
        tp = json.loads((results / model / "throughput.json").read_text())
        if fmt == "chat":  # Meta's real template reads the clock: every prompt holds the pinned date instead
            assert table["prompt"].str.contains("Today Date: 26 Jul 2024\n\n", regex=False).all()
        assert tp["prompt_date"] == (None if fmt == "alpaca" else "26 Jul 2024")
        assert tp["n_examples"] == 805 and tp["generated_this_run"] == 805
        assert tp["finished_by_stop"] + tp["hit_max_new_tokens"] == 805
        assert tp["output_tokens"] == int(table["output_tokens"].sum()) <= 805 * 4
        assert tp["prompt_tokens"] > 4096  # more than vLLM's CPU per-step budget: prefills had to be scheduled apart
        annotations = json.loads((results / model / "annotations.json").read_text())
        assert len(annotations) == 805 and all(a["preference"] is not None for a in annotations)
        log = (results / "logs" / "annotate.log").read_text()
        assert (
            len(re.findall(r"judge prompt token ids start \[128000, 128006, 9125, 128007, 271, .*\]: 1 BOS", log)) == 2
        )
        assert log.count("Initializing a V1 LLM engine") == 1  # one judge load for both models
        lengths[model] = int(pd.Series([o["output"] for o in outputs]).str.len().mean())
    board = pd.read_csv(results / "leaderboard.csv").set_index("model")
    assert board["n_total"].tolist() == [805, 805] and board["unparsed"].tolist() == [0, 0]
    assert board["length_controlled_winrate"].notna().all() and board["lc_note"].isna().all()
    assert board["avg_length"].to_dict() == lengths
    subsets = pd.read_csv(results / "subset_win_rates.csv")
    counts = subsets[subsets["model"] == "sft"].set_index("dataset")["n"].to_dict()
    assert counts == {"helpful_base": 129, "koala": 156, "oasst": 188, "selfinstruct": 252, "vicuna": 80}
    assert pd.read_csv(results / "paired_comparison.csv")["n_paired"].tolist() == [805]
    assert not (results / "validation").exists()
    report = (results / "report.md").read_text()
    assert "805 prompts" in report and "LC win rate is n/a" not in report
    for model in ("zero_shot", "sft"):
        assert len((results / model / "error_sample.jsonl").read_text().splitlines()) == 10
    assert np.isfinite(board["win_rate"]).all()
