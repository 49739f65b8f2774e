"""The generate step: one model's responses to the prompt set, with timings.

Writes three files into the model's folder:

* ``model_outputs.json``: AlpacaEval format (`instruction`, `output`,
  `generator` = the model's config key, `dataset`);
* ``generations.parquet``: per prompt: index, prompt tokens (count and the
  ids the engine decoded from), output tokens, finish reason (stop / length)
  and the stop rule that ended it (`stopping`), whether the output opens with
  ``<think>`` and its reasoning tokens, seconds, the formatted prompt and output;
* ``throughput.json``: model load seconds apart from generation wall
  seconds, examples/s and output tokens/s (transformers: the batch size the
  outputs were made at, its setting and the out-of-memory retries, `batching`).

A model entry with ``outputs:`` skips generation: its existing
AlpacaEval file is checked against the prompt set and written in the same
format, with no timings.
"""

from __future__ import annotations

import json
import platform
from pathlib import Path
from typing import Annotated, Any

import pandas as pd

from .. import __version__
from ..benchmarks.arena_hard.data import official_answers
from ..conversations import conversation_records, two_turns
from ..errors import AlpacaflowError
from ..formatting import PromptFormat, template_sha256
from ..generation import Decoding, answer, conversations, format_rows, generation_eos, load_tokenizer, row_namer
from ..gpus import claim_gpus
from ..io import (
    JSON,
    duplicates_dropped_line,
    load_prompt_table,
    outputs_by_instruction,
    read_records,
    write_json,
    write_parquet,
)
from ..model_context import check_downloaded
from ..stopping import stop_rules
from ..store import GenerationStore
from ..template_leaks import leak_summary, leak_warning
from ..weights import weights_identity


def _versions(backend: str) -> dict[str, str]:
    import torch
    import transformers

    versions = {"alpacaflow": __version__, "torch": torch.__version__, "transformers": transformers.__version__}
    if backend == "vllm":
        import vllm

        versions["vllm"] = vllm.__version__
    return versions


def throughput_summary(
    model: str, settings: dict[str, Any], table: pd.DataFrame, *, load_s: float | None, generated: int
) -> dict[str, Any]:
    """The numbers in throughput.json, from the per-example table.

    Rates use the generation time attributed to the examples (their batches'
    wall time), also for outputs reused from the store; `load_s` is None when
    every output came from the store and no model was loaded.
    """
    generation = settings["generation"]
    n = len(table)
    out_tokens = int(table["output_tokens"].sum())
    wall_s = float(table["seconds"].sum())
    return {
        "model": model,
        "path": settings["path"],
        "backend": generation["backend"],
        "device": generation["device"],
        "n_examples": n,
        "prompt_tokens": int(table["prompt_tokens"].sum()),
        "output_tokens": out_tokens,
        "load_seconds": load_s,
        "generate_seconds": wall_s,
        "seconds_per_example": wall_s / n,
        "examples_per_second": n / wall_s,
        "output_tokens_per_second": out_tokens / wall_s,
        "generated_this_run": generated,
        "reused_from_store": n - generated,
        "finished_by_stop": int((table["finish_reason"] == "stop").sum()),
        "hit_max_new_tokens": int((table["finish_reason"] == "length").sum()),
        "stopped_by": {str(k): int(v) for k, v in table["stop_rule"].dropna().value_counts().sort_index().items()},
        "open_with_think": int(table["opens_with_think"].sum()),
        "reasoning_tokens": int(table["reasoning_tokens"].sum()),
        "truncated_in_reasoning": int(table["truncated_in_reasoning"].sum()),
        "host": platform.node(),
        "versions": _versions(generation["backend"]),
    }


def _write_outputs(model: str, prompts: pd.DataFrame, outputs: list[str], out_dir: Path) -> None:
    print(leak_line(model, outputs), flush=True)
    records = [
        {"instruction": instr, "output": out, "generator": model, "dataset": ds}
        for instr, out, ds in zip(prompts["instruction"], outputs, prompts["dataset"], strict=True)
    ]
    for record, messages in zip(records, conversations(prompts), strict=True):
        if messages:  # a conversation row: its turns beside the judge's view of them (`instruction`)
            record["messages"] = messages
    write_json(out_dir / "model_outputs.json", records)


def leak_line(model: str, outputs: list[str]) -> str:
    """The log's chat-template check: how many outputs hold chat-format markup, and a warning above 2%."""
    summary = leak_summary(outputs)
    line = (
        f"chat-template check: {summary['leaked_template']} of {summary['n']} outputs hold chat-format markup; "
        f"{summary['think_opening']} open with <think>"
    )
    warning = leak_warning(model, summary)
    return f"{line}\nWARNING: {warning}" if warning else line


def run_generation(
    settings: dict[str, Any], prompts_path: Path, out_dir: Path, *, threads: int = 0, manifest: Path | None = None
) -> dict[str, Any]:
    """Generate one model's outputs for the prompt table and write all three files.

    `threads` > 0 sets torch's CPU thread count (Snakemake's `threads:`).
    `manifest` is download_model's record of a hub model's snapshot: its
    commit is loaded and identifies the weights (a local folder's files do).
    A table of two-turn questions (MT-Bench's, with ``turn_2``) is answered
    turn by turn (`two_turns`).
    """
    model, generation = settings["model"], settings["generation"]
    if threads > 0:
        import torch

        torch.set_num_threads(threads)
    prompts = load_prompt_table(prompts_path)
    weights = weights_identity(settings, manifest)
    print(f"weights: {json.dumps(weights)}", flush=True)
    revision = weights.get("commit", settings.get("revision"))
    check_downloaded(f"model '{model}'", settings["path"], revision, generation["max_model_len"],
                     "generation.max_model_len (or the model's or benchmark's generation section)")  # fmt: skip
    tokenizer = load_tokenizer(settings["path"], generation["trust_remote_code"], revision)
    fmt = PromptFormat.from_settings(settings)
    if settings["prompt_date"]:
        print(f"prompt date: {settings['prompt_date']} (the chat template's date_string and clock)", flush=True)
    rules = stop_rules(tokenizer, settings, generation_eos(settings["path"], revision))
    print(rules.describe(), flush=True)
    store = GenerationStore(out_dir / "generation_store.jsonl")
    decoding = Decoding(settings, weights, revision, rules, tokenizer, store)
    try:
        if "turn_2" in prompts.columns:
            table = two_turns(settings, prompts, fmt, decoding)
        else:
            table = answer(settings, prompts, format_rows(tokenizer, prompts, fmt), decoding, name=row_namer(prompts))
    finally:
        decoding.close()
    summary = {**throughput_summary(model, settings, table, load_s=decoding.load_s, generated=decoding.generated),
               **decoding.batching(), "weights": weights, "prompt_date": settings["prompt_date"]}  # fmt: skip
    if settings["template"]:
        summary["template_sha256"] = template_sha256(settings["template"])
    write_parquet(out_dir / "generations.parquet", table)
    if "turn_2" in prompts.columns:
        print(leak_line(model, table["output"].tolist()), flush=True)
        write_json(out_dir / "model_outputs.json", conversation_records(model, prompts, table))
    else:
        _write_outputs(model, prompts, table["output"].tolist(), out_dir)
    write_json(out_dir / "throughput.json", summary)
    return summary


def _match_outputs(
    records: list[Any], source: str, prompts: pd.DataFrame, subset: bool, keep_first: bool = False
) -> tuple[list[str], int]:
    """Outputs of `records` in prompt-table order, and how many records a repeated instruction dropped.

    Any order is accepted (`keep_first`: see outputs_by_instruction).
    """
    by_instruction = outputs_by_instruction(records, source, keep_first)
    wanted = set(prompts["instruction"])
    missing = [s for s in prompts["instruction"] if s not in by_instruction]
    if missing:
        raise AlpacaflowError(
            f"{source}: {len(missing)} prompt(s) of the prompt set have no output, e.g. {missing[0][:60]!r}"
        )
    extra = [s for s in by_instruction if s not in wanted]
    if extra and not subset:
        raise AlpacaflowError(
            f"{source}: {len(extra)} output(s) for instructions not in the prompt set, e.g. {extra[0][:60]!r}"
        )
    return [by_instruction[s] for s in prompts["instruction"]], len(records) - len(by_instruction)


def import_outputs(settings: dict[str, Any], prompts_path: Path, meta: dict[str, Any], out_dir: Path) -> None:
    """Check an existing outputs file against the prompts and write it in our layout.

    AlpacaEval's format (matched by instruction), or on an Arena-Hard version
    the official ``model_answer`` JSON Lines (matched by uid).
    """
    model, source = settings["model"], settings["outputs"]
    prompts = load_prompt_table(prompts_path)
    subset = meta.get("rows_kept", len(prompts)) < meta.get("rows_in_source", len(prompts))
    records = read_records(source)
    keep_first = meta.get("duplicates") == "first"
    if "uid" in prompts.columns and records and "messages" in records[0]:  # Arena-Hard's official model_answer
        outputs, dropped = official_answers(records, source, prompts, subset), 0
    else:
        outputs, dropped = _match_outputs(records, source, prompts, subset, keep_first)
    if dropped:
        print(duplicates_dropped_line(source, dropped))
    table = pd.DataFrame(
        {
            "index": prompts["index"],
            "instruction": prompts["instruction"],
            "output": outputs,
            "output_chars": [len(o) for o in outputs],
        }
    )
    write_parquet(out_dir / "generations.parquet", table)
    _write_outputs(model, prompts, outputs, out_dir)
    summary = {"model": model, "imported_from": source, "n_examples": len(prompts), "duplicates_dropped": dropped}
    write_json(out_dir / "throughput.json", summary)


def run(
    *,
    settings: Annotated[dict[str, Any], JSON],
    prompts: Path,
    meta: Path | None = None,
    manifest: Path | None = None,
    out_dir: Path,
    threads: int = 0,
    gpu: int = 0,
) -> None:
    """The generate step: a model's outputs (or its imported ones) into `out_dir`.

    `settings` are the model's resolved settings (`config.model_settings`);
    `meta` is download_prompts' prompts_meta.json; `manifest` is
    download_model's record for a hub model (none for a local folder). `gpu`
    GPUs are claimed (`gpus.claim_gpus`) before torch or vLLM sees CUDA.
    """
    out_dir.mkdir(parents=True, exist_ok=True)
    if "outputs" in settings:
        import_outputs(settings, prompts, json.loads(meta.read_text()) if meta else {}, out_dir)
        print(f"imported outputs of {settings['model']} from {settings['outputs']}")
        return
    claim_gpus(gpu)
    summary = run_generation(settings, prompts, out_dir, threads=threads, manifest=manifest)
    print(json.dumps(summary, indent=2))
