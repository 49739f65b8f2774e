"""A config's checkpoint sweeps: each sweep's checkpoints (folders by glob, or a repo's revisions) as models.

A sweep under ``sweeps:`` names its checkpoints by a glob of folders or by a
hub repo's revisions; each becomes a model ``<sweep>_step<N>`` (its training
step, the last number in its name) sharing the sweep's ``model`` settings.
`expand_sweeps` adds them to ``models`` when the config is checked; `sweeps`
gives the sweep step (``steps/sweep.py``) and the rules each sweep's steps,
models and baseline.
"""

from __future__ import annotations

import copy
import glob
import re
from pathlib import Path
from typing import Any

from .errors import AlpacaflowError


def _step_of(name: str) -> int | None:
    """The training step in a checkpoint's folder or revision name: its last number."""
    numbers = re.findall(r"\d+", name)
    return int(numbers[-1]) if numbers else None


def sweep_checkpoints(key: str, sweep: dict[str, Any]) -> list[tuple[int, dict[str, Any]]]:
    """(step, model entry) of every checkpoint of one sweep, in step order."""
    where = f"config error at 'sweeps.{key}"
    shared = {k: v for k, v in sweep["model"].items() if k not in ("path", "outputs", "revision")}
    if ("checkpoints" in sweep) == ("repo" in sweep) or ("repo" in sweep) != ("revisions" in sweep):
        raise AlpacaflowError(f"{where}': give either 'checkpoints' (a glob of folders) or 'repo' and 'revisions'")
    if set(sweep["model"]) & {"path", "outputs"} or sweep["model"].get("revision"):  # revision: null by default
        raise AlpacaflowError(f"{where}.model': the checkpoints give path and revision; leave them out here")
    found: dict[int, dict[str, Any]] = {}
    if "checkpoints" in sweep:
        folders = sorted(p for p in glob.glob(str(Path(sweep["checkpoints"]).expanduser())) if Path(p).is_dir())
        if not folders:
            raise AlpacaflowError(f"{where}.checkpoints': no folder matches {sweep['checkpoints']}")
        named = [(_step_of(Path(f).name), {"path": f, "revision": None}, f) for f in folders]
    elif isinstance(sweep["revisions"], dict):
        named = [(int(step), {"path": sweep["repo"], "revision": rev}, rev) for step, rev in sweep["revisions"].items()]
    else:
        named = [(_step_of(rev), {"path": sweep["repo"], "revision": rev}, rev) for rev in sweep["revisions"]]
    for step, entry, name in named:
        if step is None:
            raise AlpacaflowError(f"{where}': checkpoint {name} has no step number in its name")
        if step in found:
            raise AlpacaflowError(f"{where}': two checkpoints have step {step} ({name})")
        found[step] = {**copy.deepcopy(shared), **entry}
    return sorted(found.items())


def sweep_model(key: str, step: int) -> str:
    """The model name of a sweep's checkpoint: ``<sweep>_step<N>``."""
    return f"{key}_step{step}"


def sweeps(config: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Every sweep's checkpoints: sweep -> {steps, models, baseline, last_steps} (the config expanded first)."""
    first = next(iter(config["models"]))
    found = {}
    for key, sweep in config.get("sweeps", {}).items():
        steps = [step for step, _ in sweep_checkpoints(key, sweep)]
        found[key] = {"steps": steps, "models": [sweep_model(key, step) for step in steps],
                      "baseline": sweep["baseline"] or first, "last_steps": sweep["last_steps"]}  # fmt: skip
    return found


def expand_sweeps(config: dict[str, Any]) -> None:
    """Add every sweep's checkpoints to ``models`` (after the configured ones, in step order)."""
    for key, sweep in config.get("sweeps", {}).items():
        baseline = sweep["baseline"]
        if baseline is not None and baseline not in config["models"]:
            raise AlpacaflowError(f"config error at 'sweeps.{key}.baseline': no model named {baseline}")
        for step, entry in sweep_checkpoints(key, sweep):
            name = sweep_model(key, step)
            if name in config["models"] and config["models"][name] != entry:
                raise AlpacaflowError(f"config error at 'sweeps.{key}': model {name} is also configured under models")
            config["models"][name] = entry
