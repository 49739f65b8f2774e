"""Command-line entry point of every workflow step: ``python -m alpacaflow <step> ...``.

Rules call these subcommands with their inputs, outputs and params. Bad
input (`AlpacaflowError`) ends in one ``error: ...`` line on stderr and exit
status 1; outputs are written atomically, so nothing half-written remains.
SIGTERM (what SLURM sends at preemption or at the time limit) stops a step
after it has saved its finished work, with exit status 143. Secrets from the
environment are redacted from everything the step prints (`secrets`).
"""

from __future__ import annotations

import argparse
import json
import logging
import signal
import sys
from collections.abc import Callable
from pathlib import Path

from .errors import SIGTERM_EXIT, AlpacaflowError, Terminated
from .gpus import claim_gpus
from .secrets import protect_std_streams


def _download_prompts(args: argparse.Namespace) -> None:
    from .prompts import prepare_prompts

    table = prepare_prompts(json.loads(args.prompts_config), args.out_table, args.out_gamed, args.out_meta)
    print(f"wrote {len(table)} prompts to {args.out_table}")


def _download_model(args: argparse.Namespace) -> None:
    from .download import download_model

    data = download_model(args.repo_id, args.revision or None, args.out)
    print(f"{data['repo_id']} at {data['commit']}: {data['path']}")


def _generate(args: argparse.Namespace) -> None:
    from .generate import import_outputs, run_generation

    settings = json.loads(args.settings)
    args.out_dir.mkdir(parents=True, exist_ok=True)
    if "outputs" in settings:
        meta = json.loads(args.prompts_meta.read_text()) if args.prompts_meta else {}
        import_outputs(settings, args.prompts, meta, args.out_dir)
        print(f"imported outputs of {settings['model']} from {settings['outputs']}")
        return
    claim_gpus(args.gpus)  # before torch or vLLM sees CUDA
    summary = run_generation(settings, args.prompts, args.out_dir, args.threads, args.weights_manifest)
    print(json.dumps(summary, indent=2))


def _annotate(args: argparse.Namespace) -> None:
    from .judge import run_annotation

    claim_gpus(args.gpus)  # before vLLM sees CUDA
    run_annotation(json.loads(args.judge), args.model, args.prompts, args.outputs, args.cache, args.out)


def _leaderboard(args: argparse.Namespace) -> None:
    from .metrics import build_leaderboard, write_leaderboard

    table = build_leaderboard(args.models, args.annotations, args.throughputs, args.df_gamed)
    write_leaderboard(table, args.out_csv, args.out_md)
    print(table.to_string(index=False))


def _error_sample(args: argparse.Namespace) -> None:
    from .report import write_error_sample

    sample = write_error_sample(
        args.annotations, args.model, args.discrete, args.n, args.seed, args.out_jsonl, args.out_md
    )
    print(f"sampled {len(sample)} losses of {args.model}")


def _compare(args: argparse.Namespace) -> None:
    from .analysis import compare_models, write_comparison

    table = compare_models(args.models, args.annotations, args.df_gamed, args.resamples, args.seed)
    write_comparison(table, args.out)
    print(table.to_string(index=False))


def _taxonomy(args: argparse.Namespace) -> None:
    from .taxonomy import write_taxonomy

    taxonomy = write_taxonomy(
        args.annotations, args.generations, args.model, args.discrete, json.loads(args.settings), args.out
    )
    print(json.dumps({c: v["count"] for c, v in taxonomy["categories"].items()}))


def _context(args: argparse.Namespace) -> None:
    from .context import context_rows, write_context
    from .prompts import load_prompt_table

    reference = str(load_prompt_table(args.prompts)["reference_generator"].iloc[0])
    table = context_rows(json.loads(args.names), args.judge_name, reference)
    write_context(table, args.out)
    print(table.to_string(index=False))


def _plots(args: argparse.Namespace) -> None:
    from .plots import write_plots

    for path in write_plots(args.models, args.annotations, args.leaderboard, args.out_dir, args.out_subsets):
        print(f"wrote {path}")


def _fetch_official(args: argparse.Namespace) -> None:
    from .official import fetch_official

    meta = fetch_official(args.source, args.sha256 or None, args.out, args.out_meta)
    print(json.dumps(meta))


def _validate_judge(args: argparse.Namespace) -> None:
    from .validation import run_validation

    claim_gpus(args.gpus)  # before vLLM sees CUDA
    run_validation(json.loads(args.judge), args.official, args.official_meta, args.prompts, args.cache,
                   args.out_annotations, args.out_agreement)  # fmt: skip


def _report(args: argparse.Namespace) -> None:
    from .report import Analysis, write_report

    analysis = Analysis(args.comparison, args.taxonomies, args.context, args.subsets, args.figures, args.validation)
    write_report(
        args.models,
        args.leaderboard,
        args.throughputs,
        args.error_samples,
        args.prompts_meta,
        args.prompts,
        json.loads(args.judge),
        args.out,
        analysis,
        json.loads(args.context_models),
    )
    print(f"wrote {args.out}")


def build_parser() -> argparse.ArgumentParser:
    """The argument parser with one subcommand per workflow step."""
    parser = argparse.ArgumentParser(prog="python -m alpacaflow", description=__doc__.splitlines()[0])
    steps = parser.add_subparsers(dest="step", required=True)

    p = steps.add_parser("download-prompts", help="fetch or import the prompt set and df_gamed")
    p.add_argument("--prompts-config", required=True, help="the config's `prompts` section as JSON")
    p.add_argument("--out-table", type=Path, required=True)
    p.add_argument("--out-gamed", type=Path, required=True)
    p.add_argument("--out-meta", type=Path, required=True)
    p.set_defaults(func=_download_prompts)

    p = steps.add_parser("download-model", help="snapshot a hub model into the Hugging Face cache")
    p.add_argument("--repo-id", required=True)
    p.add_argument("--revision", default="", help="branch, tag or commit (empty = main)")
    p.add_argument("--out", type=Path, required=True, help="manifest JSON to write")
    p.set_defaults(func=_download_model)

    p = steps.add_parser("generate", help="generate one model's outputs")
    p.add_argument("--settings", required=True, help="the model's resolved settings as JSON")
    p.add_argument("--prompts", type=Path, required=True)
    p.add_argument("--prompts-meta", type=Path, default=None)
    p.add_argument("--out-dir", type=Path, required=True)
    p.add_argument("--threads", type=int, default=0, help="CPU threads for torch (0 = its default)")
    p.add_argument("--gpus", type=int, default=0, help="GPUs to claim (see alpacaflow.gpus)")
    p.add_argument("--weights-manifest", type=Path, default=None, help="download_model's manifest (hub models)")
    p.set_defaults(func=_generate)

    p = steps.add_parser("annotate", help="judge one model's outputs against the references")
    p.add_argument("--judge", required=True, help="the config's `judge` section as JSON")
    p.add_argument("--model", required=True)
    p.add_argument("--prompts", type=Path, required=True)
    p.add_argument("--outputs", type=Path, required=True)
    p.add_argument("--cache", type=Path, required=True)
    p.add_argument("--out", type=Path, required=True)
    p.add_argument("--gpus", type=int, default=0, help="GPUs to claim (see alpacaflow.gpus)")
    p.set_defaults(func=_annotate)

    p = steps.add_parser("leaderboard", help="win rate and LC win rate of every model")
    p.add_argument("--models", nargs="+", required=True)
    p.add_argument("--annotations", nargs="+", type=Path, required=True)
    p.add_argument("--throughputs", nargs="+", type=Path, required=True)
    p.add_argument("--df-gamed", type=Path, required=True)
    p.add_argument("--out-csv", type=Path, required=True)
    p.add_argument("--out-md", type=Path, required=True)
    p.set_defaults(func=_leaderboard)

    p = steps.add_parser("error-sample", help="random losses to the reference, for error analysis")
    p.add_argument("--annotations", type=Path, required=True)
    p.add_argument("--model", required=True)
    p.add_argument("--discrete", action="store_true", help="judge gives 1 or 2 (ranking) rather than a weight")
    p.add_argument("--n", type=int, default=10)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out-jsonl", type=Path, required=True)
    p.add_argument("--out-md", type=Path, required=True)
    p.set_defaults(func=_error_sample)

    p = steps.add_parser("compare", help="paired bootstrap and sign test of every model against the first")
    p.add_argument("--models", nargs="+", required=True)
    p.add_argument("--annotations", nargs="+", type=Path, required=True)
    p.add_argument("--df-gamed", type=Path, required=True)
    p.add_argument("--resamples", type=int, default=2000)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", type=Path, required=True)
    p.set_defaults(func=_compare)

    p = steps.add_parser("taxonomy", help="classify every loss of one model")
    p.add_argument("--annotations", type=Path, required=True)
    p.add_argument("--generations", type=Path, required=True)
    p.add_argument("--model", required=True)
    p.add_argument("--discrete", action="store_true", help="judge gives 1 or 2 (ranking) rather than a weight")
    p.add_argument("--settings", default="{}", help="classifier thresholds as JSON")
    p.add_argument("--out", type=Path, required=True)
    p.set_defaults(func=_taxonomy)

    p = steps.add_parser("context", help="published leaderboard rows for similar-size models")
    p.add_argument("--names", required=True, help="published model names as a JSON list")
    p.add_argument("--judge-name", required=True, help="our judge's annotator name")
    p.add_argument("--prompts", type=Path, required=True)
    p.add_argument("--out", type=Path, required=True)
    p.set_defaults(func=_context)

    p = steps.add_parser("plots", help="the report's figures")
    p.add_argument("--models", nargs="+", required=True)
    p.add_argument("--annotations", nargs="+", type=Path, required=True)
    p.add_argument("--leaderboard", type=Path, required=True)
    p.add_argument("--out-dir", type=Path, required=True)
    p.add_argument("--out-subsets", type=Path, required=True)
    p.set_defaults(func=_plots)

    p = steps.add_parser("fetch-official", help="copy published official annotations (URL or path), checked")
    p.add_argument("--source", required=True)
    p.add_argument("--sha256", default="")
    p.add_argument("--out", type=Path, required=True)
    p.add_argument("--out-meta", type=Path, required=True)
    p.set_defaults(func=_fetch_official)

    p = steps.add_parser("validate-judge", help="our judge on published pairs, agreement with the official one")
    p.add_argument("--judge", required=True, help="the config's `judge` section as JSON")
    p.add_argument("--official", type=Path, required=True)
    p.add_argument("--official-meta", type=Path, required=True)
    p.add_argument("--prompts", type=Path, required=True)
    p.add_argument("--cache", type=Path, required=True)
    p.add_argument("--out-annotations", type=Path, required=True)
    p.add_argument("--out-agreement", type=Path, required=True)
    p.add_argument("--gpus", type=int, default=0, help="GPUs to claim (see alpacaflow.gpus)")
    p.set_defaults(func=_validate_judge)

    p = steps.add_parser("report", help="write report.md")
    p.add_argument("--models", nargs="+", required=True)
    p.add_argument("--leaderboard", type=Path, required=True)
    p.add_argument("--throughputs", nargs="+", type=Path, required=True)
    p.add_argument("--error-samples", nargs="+", type=Path, required=True)
    p.add_argument("--prompts-meta", type=Path, required=True)
    p.add_argument("--prompts", type=Path, required=True)
    p.add_argument("--judge", required=True, help="the config's `judge` section as JSON")
    p.add_argument("--comparison", type=Path, required=True)
    p.add_argument("--taxonomies", nargs="+", type=Path, required=True)
    p.add_argument("--context", type=Path, required=True)
    p.add_argument("--context-models", required=True, help="the context rows asked for, as a JSON list")
    p.add_argument("--subsets", type=Path, required=True)
    p.add_argument("--figures", nargs="+", type=Path, required=True)
    p.add_argument("--validation", type=Path, default=None, help="agreement.json of validate_judge, if run")
    p.add_argument("--out", type=Path, required=True)
    p.set_defaults(func=_report)
    return parser


def _raise_terminated(signum: int, frame: object) -> None:
    raise Terminated(signal.Signals(signum).name)


def _close_progress_bars() -> None:
    """Close progress bars an exception left open, so that the error stays the log's last line."""
    tqdm = sys.modules.get("tqdm")  # only a step that showed a bar has imported it
    if tqdm is None:
        return
    for bar in list(getattr(tqdm.tqdm, "_instances", [])):
        bar.close()


def run(func: Callable[[argparse.Namespace], None], args: argparse.Namespace) -> int:
    """Run one step; bad input becomes one line on stderr and exit status 1."""
    try:
        func(args)
    except AlpacaflowError as exc:
        _close_progress_bars()
        print(f"error: {exc}", file=sys.stderr)
        return exc.exit_status
    except Terminated as exc:  # a step without finished work to report
        _close_progress_bars()
        print(f"error: stopped by {exc}; rerun to start again", file=sys.stderr)
        return SIGTERM_EXIT
    return 0


def main(argv: list[str] | None = None) -> int:
    protect_std_streams()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    args = build_parser().parse_args(argv)
    signal.signal(signal.SIGTERM, _raise_terminated)
    return run(args.func, args)
