"""Incremental work: only new prompts are generated and only new pairs judged (counts, not timings)."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from pathlib import Path

import pytest
import yaml
from alpacaflow.io import read_parquet, read_records
from alpacaflow.judge import make_annotator
from alpacaflow.steps.annotate import pair_table
from alpacaflow.steps.generate import run_generation
from alpacaflow.testing.tiny import build_tiny_model
from conftest import DEMO_GAMED, DEMO_PROMPTS, REALISTIC, demo_prompt_table, run_snakemake
from test_generate import settings
from test_judge import ScriptedRankingJudge, judge_cfg, model_outputs


def generate(out: Path, prompts: Path, s: dict):
    """The generate step in this process (transformers needs no process of its own)."""
    run_generation(s, prompts, out)
    return read_parquet(out / "generations.parquet")


@pytest.mark.slow
def test_generation_reuses_unchanged_prompts(tmp_path, tiny_models):
    s = settings("m", tiny_models["chat"], "chat", "transformers")
    s["generation"].update(temperature=0.7, top_p=0.9)  # sampled: reuse must keep the exact output
    out = tmp_path / "model"
    small = demo_prompt_table(tmp_path / "p4", 4)
    big = demo_prompt_table(tmp_path / "p8", 8)

    first = generate(out, small, s)
    assert json.loads((out / "throughput.json").read_text())["generated_this_run"] == 4

    second = generate(out, big, s)
    tp = json.loads((out / "throughput.json").read_text())
    assert (tp["generated_this_run"], tp["reused_from_store"]) == (4, 4)
    again = second.set_index("index").loc[first["index"]]  # the 4 prompts are among the 8, by their index
    assert [list(ids) for ids in again["output_token_ids"]] == [list(ids) for ids in first["output_token_ids"]]
    assert again["output"].tolist() == first["output"].tolist()

    generate(out, big, s)
    tp = json.loads((out / "throughput.json").read_text())
    assert (tp["generated_this_run"], tp["reused_from_store"], tp["load_seconds"]) == (0, 8, None)

    s["generation"]["temperature"] = 0.3
    generate(out, big, s)
    assert json.loads((out / "throughput.json").read_text())["generated_this_run"] == 8


def test_judging_reuses_unchanged_pairs(tmp_path):
    small = demo_prompt_table(tmp_path / "p4", 4)
    big = demo_prompt_table(tmp_path / "p8", 8)
    cache = tmp_path / "cache.json"

    def judge_all(prompts):
        judge = ScriptedRankingJudge()
        outputs = model_outputs(prompts, tmp_path)
        pairs = pair_table(read_parquet(prompts), read_records(outputs), str(outputs), "m")
        annotator, recorder = make_annotator(judge_cfg(), cache, tmp_path / "cfg", fn_completions=judge)
        annotated = annotator.annotate_pairs(pairs)
        return judge.calls, len(recorder.raw), annotated

    calls, sent, annotated = judge_all(small)
    assert (calls, sent, len(annotated)) == (4, 4, 4)
    calls, sent, annotated = judge_all(big)
    assert (calls, sent, len(annotated)) == (4, 4, 8)
    calls, _, _ = judge_all(big)
    assert calls == 0


def _checkpoint_config(workdir: Path, checkpoint: Path, judge: Path, **entry) -> None:
    config = {
        "results_dir": "results",
        "prompts": {"source": str(DEMO_PROMPTS), "df_gamed": str(DEMO_GAMED), "max_instances": 4},
        "generation": {
            "backend": "transformers",
            "device": "cpu",
            "max_new_tokens": 8,
            "temperature": 0.7,
            "max_model_len": 1024,
        },  # the tiny models have 2,048 positions
        "judge": {"model": str(judge), "device": "cpu", "max_model_len": 1024},
        "models": {"ckpt": {"path": str(checkpoint), "prompt_format": "chat", **entry}},
    }
    (workdir / "config.yaml").write_text(yaml.safe_dump(config, sort_keys=False))


@pytest.mark.slow
def test_weights_or_template_rewritten_in_place_regenerate_everything(tmp_path, tiny_models):
    """Retraining into the same folder, or editing the prompt template file: generate reruns, nothing is reused.

    Untouched (or only touched), nothing reruns: the template's SHA-256 is the trigger, not its modification time.
    """
    checkpoint = tmp_path / "checkpoints" / "latest"
    shutil.copytree(tiny_models["chat"], checkpoint)
    template = tmp_path / "chat.jinja"
    shutil.copyfile(REALISTIC / "llama-3-chat-no-bos.jinja", template)
    _checkpoint_config(tmp_path, checkpoint, tiny_models["chat"], prompt_format="template", template=str(template))
    target = "results/ckpt/model_outputs.json"
    results = tmp_path / "results" / "ckpt"

    def run(*args):
        result = run_snakemake("--configfile", "config.yaml", "--cores", "1", *args, target, cwd=tmp_path)
        assert result.returncode == 0, result.stderr[-3000:]
        return result.stdout + result.stderr

    run()
    first = json.loads((results / "throughput.json").read_text())
    assert first["generated_this_run"] == 4 and set(first["weights"]) == {"folder_sha256"}
    assert first["template_sha256"] == hashlib.sha256(template.read_bytes()).hexdigest()
    bos = 0  # the toy tokenizer's <|begin_of_text|>: the template writes none, the tokenizer adds one
    assert all(ids[0] == bos and list(ids).count(bos) == 1 for ids in read_parquet(results / "generations.parquet")[
        "prompt_token_ids"])  # fmt: skip
    log = (tmp_path / "results" / "logs" / "generate" / "ckpt.log").read_text()
    assert f"prompt format 'template ({template})'" in log and "added by the tokenizer (the text has none)" in log
    os.utime(template)  # touched, same content
    assert "Nothing to be done" in run("-n")

    retrained = build_tiny_model(tmp_path / "retrained", chat=True, corpus_file=DEMO_PROMPTS, seed=7)
    shutil.copyfile(retrained / "model.safetensors", checkpoint / "model.safetensors")
    assert "rule generate:" in run("-n")
    run()
    second = json.loads((results / "throughput.json").read_text())
    assert (second["generated_this_run"], second["reused_from_store"]) == (4, 0)
    assert second["weights"] != first["weights"]

    template.write_text(template.read_text().replace("message['content'] | trim", "'Q: ' + message['content']"))
    assert "rule generate:" in run("-n")
    run()
    assert all(prompt.count("Q: ") == 1 for prompt in read_parquet(results / "generations.parquet")["prompt"])
    third = json.loads((results / "throughput.json").read_text())
    assert (third["generated_this_run"], third["reused_from_store"]) == (4, 0)
    assert "Nothing to be done" in run("-n")


def test_folder_fingerprint_follows_contents_of_small_files_and_stat_of_large_ones(tmp_path):
    import os

    from alpacaflow.weights import HASHED_BYTES, folder_fingerprint

    folder = tmp_path / "model"
    folder.mkdir()
    (folder / "config.json").write_text('{"a": 1}')
    (folder / "model.safetensors").write_bytes(b"w" * (HASHED_BYTES + 1))
    first = folder_fingerprint(folder)
    assert folder_fingerprint(folder) == first
    (folder / ".cache").mkdir()
    (folder / ".cache" / "lock").write_text("x")  # huggingface_hub's bookkeeping is not the model
    os.utime(folder / "config.json", ns=(1, 1))  # a small file's mtime does not count, its content does
    assert folder_fingerprint(folder) == first
    (folder / "config.json").write_text('{"a": 2}')
    assert folder_fingerprint(folder) != first
    (folder / "config.json").write_text('{"a": 1}')
    assert folder_fingerprint(folder) == first
    stat = (folder / "model.safetensors").stat()
    os.utime(folder / "model.safetensors", ns=(stat.st_atime_ns, stat.st_mtime_ns + 1))  # a large one's does
    assert folder_fingerprint(folder) != first
