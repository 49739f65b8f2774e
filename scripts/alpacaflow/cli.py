"""Command-line entry point of every workflow step: ``python -m alpacaflow <step> ...``.

Rules call these subcommands with their inputs, outputs and params. Bad
input (`AlpacaflowError`) ends in one ``error: ...`` line on stderr and exit
status 1; outputs are written atomically, so nothing half-written remains.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from collections.abc import Callable
from pathlib import Path

from .errors import AlpacaflowError


def _download_prompts(args: argparse.Namespace) -> None:
    from .prompts import prepare_prompts

    table = prepare_prompts(json.loads(args.prompts_config), args.out_table, args.out_gamed, args.out_meta)
    print(f"wrote {len(table)} prompts to {args.out_table}")


def _generate(args: argparse.Namespace) -> None:
    from .generate import import_outputs, run_generation

    settings = json.loads(args.settings)
    args.out_dir.mkdir(parents=True, exist_ok=True)
    if "outputs" in settings:
        meta = json.loads(args.prompts_meta.read_text()) if args.prompts_meta else {}
        import_outputs(settings, args.prompts, meta, args.out_dir)
        print(f"imported outputs of {settings['model']} from {settings['outputs']}")
        return
    if args.threads:
        import torch

        torch.set_num_threads(args.threads)
    summary = run_generation(settings, args.prompts, args.out_dir)
    print(json.dumps(summary, indent=2))


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

    p = steps.add_parser("generate", help="generate one model's outputs")
    p.add_argument("--settings", required=True, help="the model's resolved settings as JSON")
    p.add_argument("--prompts", type=Path, required=True)
    p.add_argument("--prompts-meta", type=Path, default=None)
    p.add_argument("--out-dir", type=Path, required=True)
    p.add_argument("--threads", type=int, default=0, help="CPU threads for torch (0 = its default)")
    p.set_defaults(func=_generate)
    return parser


def run(func: Callable[[argparse.Namespace], None], args: argparse.Namespace) -> int:
    """Run one step; bad input becomes one line on stderr and exit status 1."""
    try:
        func(args)
    except AlpacaflowError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    return 0


def main(argv: list[str] | None = None) -> int:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    args = build_parser().parse_args(argv)
    return run(args.func, args)
