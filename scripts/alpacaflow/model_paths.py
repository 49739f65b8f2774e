"""A model's ``path`` read both ways: a local folder, or a hub id (``org/name``), when it is neither.

``checkpoints/step-2000`` reads as a hub id (`config.looks_local`) but may be a
mistyped or missing relative folder. `check_model_paths` stops a run when the
answer is certain without the network (the path's first folder exists here
and the hub cache has no such model); otherwise `download_model` tries the
hub and, failing, names both readings (`or_local_path`). Used where
``huggingface_hub`` is installed: the workflow's loading and download_model.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from .config import looks_local
from .errors import AlpacaflowError


def missing_local_folder(path: str) -> str | None:
    """Why `path`, which reads as a hub id, is surely a missing local folder; None when that is not certain."""
    first = path.split("/")[0]
    if looks_local(path) or "/" not in path or not Path(first).is_dir() or _in_hub_cache(path):
        return None
    return (f"no folder {path} under {Path.cwd()} ({first}/ is a folder there, and no hub model {path} "
            "is cached): is the path right?")  # fmt: skip


def _in_hub_cache(repo_id: str) -> bool:
    """Whether the hub cache holds a snapshot of model `repo_id` (its config.json), looked up on disk."""
    from huggingface_hub import try_to_load_from_cache

    try:
        return isinstance(try_to_load_from_cache(repo_id, "config.json"), str)
    except ValueError:  # not a valid repo id: not a hub model
        return False


def check_model_paths(config: dict[str, Any]) -> None:
    """Stop on a model path that is surely a missing local folder (`missing_local_folder`), naming the model."""
    for key, entry in config["models"].items():
        if "path" in entry and (why := missing_local_folder(entry["path"])):
            raise AlpacaflowError(f"config error at 'models.{key}.path': model folder not found: {why}")


def or_local_path(repo_id: str) -> str:
    """The other reading of a model path that failed as a hub id: a relative folder, which is not here either."""
    return f"; and there is no folder {repo_id} under {Path.cwd()}: is it a local path?"
