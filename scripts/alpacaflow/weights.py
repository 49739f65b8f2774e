"""The identity of a model's weights: what makes a stored generation stale when a checkpoint changes.

A model's path or configured revision does not say which weights it holds:
a training run that writes into the same folder (``/checkpoints/latest``), or
a hub model whose ``main`` moved, changes the weights but not the name. So
generations are keyed, and generate is rerun, by the weights' identity:

* a local folder: `folder_fingerprint`, a SHA-256 over every file in it
  (hidden ones aside): the content of small files (config, tokenizer
  settings, generation config) and the size and modification time of large
  ones (weights), which is cheap for a 16 GB checkpoint. Rewriting any file
  changes it; touching nothing keeps it;
* a hub model: the commit that ``download_model`` resolved and snapshotted
  (its manifest), which generate also loads, so that a moved ``main`` takes
  effect only when download_model runs again.

The Snakefile computes the fingerprint of local folders as a ``params`` of
generate (Snakemake's params rerun trigger); the generate step computes it
again when it runs, and keys its store by what it finds then.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Any

from .errors import AlpacaflowError

#: Files up to this size are hashed; larger ones are identified by size and modification time.
HASHED_BYTES = 1 << 20


def _files(folder: Path) -> list[Path]:
    found = []
    for root, dirs, names in os.walk(folder, followlinks=True):
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        found += [Path(root, n) for n in sorted(names) if not n.startswith(".")]
    return found


def folder_fingerprint(folder: str | Path) -> str:
    """SHA-256 over a model folder's files: content of small ones, size and mtime of large ones."""
    folder = Path(folder).expanduser()
    if not folder.is_dir():
        raise AlpacaflowError(f"model folder not found: {folder}")
    digest = hashlib.sha256()
    for path in _files(folder):
        stat = path.stat()
        if stat.st_size <= HASHED_BYTES:
            part = hashlib.sha256(path.read_bytes()).hexdigest()
        else:
            part = f"{stat.st_size}:{stat.st_mtime_ns}"
        digest.update(f"{path.relative_to(folder).as_posix()}\0{part}\n".encode())
    return digest.hexdigest()


def hub_commit(manifest: str | Path) -> str:
    """The commit that download_model resolved, from its manifest."""
    data = json.loads(Path(manifest).read_text(encoding="utf-8"))
    if not data.get("commit"):
        raise AlpacaflowError(f"{manifest}: no commit recorded; rerun download_model")
    return str(data["commit"])


def weights_identity(settings: dict[str, Any], manifest: str | Path | None) -> dict[str, str]:
    """What identifies the weights generate loads: a hub repo and commit, or a local folder's fingerprint."""
    if manifest is not None:
        return {"repo": settings["path"], "commit": hub_commit(manifest)}
    return {"folder_sha256": folder_fingerprint(settings["path"])}
