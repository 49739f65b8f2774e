"""Command-line entry point of every workflow step: ``python -m alpacaflow <step> --<argument> VALUE ...``.

A step is named after its rule (``error_sample``; ``error-sample`` is
accepted too) and lives in the module of that name under ``steps/``, whose ``run`` function
is the step: its keyword-only, typed signature is the one declaration of the
step's arguments. The parser is built from it, so a rule's input, output
and params keys, the options and the parameters share their names (the
rules build their commands with ``step_command`` in ``rules/common.smk``).
argparse rather than alpaca_eval's ``fire``: fire guesses a value's type from
its text (a model named ``1e3`` becomes a float), while here the annotation
decides: ``Path``, ``int``, ``str``, ``bool`` (``True``/``False``), ``list[X]`` (or ``list[X] | None``)
(any number of values, none included), ``Path | None`` (empty or no value = none) and ``Annotated[..., JSON]``
(one JSON string, for config sections).

Bad input (`AlpacaflowError`) ends in one ``error: ...`` line on stderr and
exit status 1; outputs are written atomically, so nothing half-written
remains. Any other exception (an engine's, a library's) prints its traceback,
then one ``error: <type>: <its own first line>; traceback in <the rule's log>`` line
(`failure_line`), so that the log's last line, which the rule repeats on the
terminal, says what went wrong, never the last line of a multi-line message
(vLLM's pydantic errors end in a URL). SIGTERM (what SLURM sends at preemption or at the time limit) stops
a step after it has saved its finished work, with exit status 143. Secrets
from the environment are redacted from everything the step prints (`secrets`).
"""

from __future__ import annotations

import argparse
import importlib
import inspect
import json
import logging
import os
import signal
import sys
import traceback
import types
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any, get_args, get_origin, get_type_hints

from .errors import SIGTERM_EXIT, AlpacaflowError, Terminated
from .io import JSON
from .secrets import protect_std_streams

#: Every workflow step, in DAG order: rule name = module name = ``python -m alpacaflow`` step.
STEPS = (
    "download_prompts",
    "download_benchmark",
    "download_mt_bench",
    "download_model",
    "generate",
    "annotate",
    "export_arena",
    "export_mt_bench",
    "leaderboard",
    "overview",
    "error_sample",
    "compare",
    "error_taxonomy",
    "context",
    "plots",
    "fetch_official",
    "validate_judge",
    "sweep",
    "history",
    "report",
    "summary",
    "track",
)


def step_function(step: str) -> Callable[..., Any]:
    """The ``run`` function of a step's module, ``alpacaflow.steps.<step>`` (imported only when that step runs)."""
    return importlib.import_module(f"{__package__}.steps.{step}").run


def _json(text: str) -> Any:
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise argparse.ArgumentTypeError(f"not valid JSON ({exc.msg})") from exc


def _bool(text: str) -> bool:
    value = {"true": True, "1": True, "false": False, "0": False}.get(text.strip().lower())
    if value is None:
        raise argparse.ArgumentTypeError(f"expected True or False, got {text!r}")
    return value


def _optional_path(text: str) -> Path | None:
    return Path(text) if text else None


def _option(hint: Any) -> dict[str, Any]:
    """Argparse keywords for a parameter annotated `hint`."""
    extras: tuple[Any, ...] = ()
    if get_origin(hint) is Annotated:
        hint, *rest = get_args(hint)
        extras = tuple(rest)
    if JSON in extras:
        return {"type": _json, "metavar": "JSON"}
    if hint is bool:
        return {"type": _bool, "metavar": "True|False"}
    if get_origin(hint) is types.UnionType and type(None) in get_args(hint):
        inner = [a for a in get_args(hint) if a is not type(None)]
        if len(inner) == 1 and get_origin(inner[0]) is list:  # list[X] | None: absent is None
            return {"type": get_args(inner[0])[0], "nargs": "*"}
    if get_origin(hint) is list:
        return {"type": get_args(hint)[0], "nargs": "*"}
    # An empty value may come as nothing at all (Snakemake formats "" as no word): `--opt` alone is empty.
    if get_origin(hint) is types.UnionType and set(get_args(hint)) == {Path, type(None)}:
        return {"type": _optional_path, "nargs": "?", "const": None}
    if hint is str:
        return {"type": str, "nargs": "?", "const": ""}
    if hint in (int, float, Path):
        return {"type": hint}
    raise TypeError(f"no command-line form for a parameter annotated {hint!r}")


def step_parser(step: str, func: Callable[..., Any], parser: argparse.ArgumentParser) -> None:
    """Add one option per keyword-only parameter of `func` to `parser`."""
    hints = get_type_hints(func, include_extras=True)
    for name, param in inspect.signature(func).parameters.items():
        if param.kind is not inspect.Parameter.KEYWORD_ONLY:
            raise TypeError(f"{step}.run: parameter {name!r} must be keyword-only")
        required = param.default is inspect.Parameter.empty
        default = {} if required else {"default": param.default}
        parser.add_argument(f"--{name.replace('_', '-')}", dest=name, required=required, **default,
                            **_option(hints[name]))  # fmt: skip


def _summary(func: Callable[..., Any]) -> str:
    doc = inspect.getdoc(inspect.getmodule(func)) or ""
    return doc.splitlines()[0] if doc else ""


def build_parser(step: str | None = None) -> argparse.ArgumentParser:
    """The parser: one subcommand per step (only `step`'s arguments are built when it is given)."""
    parser = argparse.ArgumentParser(prog="python -m alpacaflow", description=__doc__.splitlines()[0])
    steps = parser.add_subparsers(dest="step", required=True, metavar="STEP")
    for name in STEPS:
        if step is not None and name != step:
            steps.add_parser(name, aliases=[name.replace("_", "-")] if "_" in name else [])
            continue
        func = step_function(name)
        sub = steps.add_parser(name, aliases=[name.replace("_", "-")] if "_" in name else [], help=_summary(func))
        step_parser(name, func, sub)
        sub.set_defaults(func=func)
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


#: The environment variable through which a rule tells its step where its log is (`step_command`).
LOG_VARIABLE = "ALPACAFLOW_LOG"


def _first_line(exc: BaseException) -> str:
    """What an exception says in one line: its first non-blank line, and a pydantic error's first message."""
    lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
    first = lines[0] if lines else ""
    errors = getattr(exc, "errors", None)
    if callable(errors) and type(exc).__name__ == "ValidationError":  # pydantic: "1 validation error for X"
        try:
            message = str(errors()[0].get("msg", ""))
        except (TypeError, IndexError, AttributeError):
            message = ""
        first = f"{first}: {message}" if message and message not in first else first
    return first


def failure_line(exc: BaseException) -> str:
    """The one line for an unexpected exception: its type, its own first line, and the rule's log."""
    said = _first_line(exc)
    line = f"{type(exc).__name__}: {said}" if said else type(exc).__name__
    log = os.environ.get(LOG_VARIABLE)
    return f"{line}; traceback in {log}" if log else f"{line} (traceback above)"


def run(func: Callable[..., Any], kwargs: dict[str, Any]) -> int:
    """Run one step; bad input, or any other exception after its traceback, becomes one line on stderr."""
    try:
        func(**kwargs)
    except AlpacaflowError as exc:
        _close_progress_bars()
        print(f"error: {exc}", file=sys.stderr)
        return exc.exit_status
    except Terminated as exc:  # a step without finished work to report
        _close_progress_bars()
        print(f"error: stopped by {exc}; rerun to start again", file=sys.stderr)
        return SIGTERM_EXIT
    except Exception as exc:  # an engine's or a library's: the traceback for the log, then the one line
        return _unexpected(exc)
    return 0


def _unexpected(exc: Exception) -> int:
    """Print an unexpected exception's traceback, then its one line (`failure_line`); exit status 1."""
    _close_progress_bars()
    traceback.print_exc()
    sys.stdout.flush()
    print(f"error: {failure_line(exc)}", file=sys.stderr, flush=True)
    return 1


def _requested_step(argv: list[str]) -> str | None:
    """The step named on the command line (hyphens read as underscores), if it is one."""
    name = next((a for a in argv if not a.startswith("-")), None)
    name = name.replace("-", "_") if name else None
    return name if name in STEPS else None


def main(argv: list[str] | None = None) -> int:
    protect_std_streams()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    argv = sys.argv[1:] if argv is None else argv
    try:  # building the parser imports the step's module (and what it imports at its top)
        parser = build_parser(_requested_step(argv))
    except Exception as exc:
        return _unexpected(exc)
    args = vars(parser.parse_args(argv))
    func = args.pop("func")
    args.pop("step")
    signal.signal(signal.SIGTERM, _raise_terminated)
    return run(func, args)
