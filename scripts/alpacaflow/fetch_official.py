"""The fetch_official step: published official annotations for judge validation, fetched once, checked, recorded.

alpaca_eval publishes, per leaderboard model, the official
``weighted_alpaca_eval_gpt4_turbo`` annotations
(``results/<model>/weighted_alpaca_eval_gpt4_turbo/annotations.json``):
instruction, reference output (``output_1``), the model's output
(``output_2``) and the official preference. `fetch_official` copies such a
file from an https URL pinned to a commit, or from a local path, checks that
it is usable and, when configured, its pinned SHA-256, and records the
SHA-256 it got. It runs as a local rule, where the network is.
"""

from __future__ import annotations

import json
import shutil
import urllib.request
from pathlib import Path
from typing import Any

import pandas as pd

from .errors import AlpacaflowError
from .io import atomic_path, outputs_by_instruction, read_records, sha256_of, write_json

DOWNLOAD_TIMEOUT_S = 120


def fetch_official(source: str, sha256: str | None, out: Path, out_meta: Path) -> dict[str, Any]:
    """Copy the official annotations from an https URL or a local path; check the pinned SHA-256."""
    with atomic_path(out) as tmp:
        if source.startswith(("https://", "http://")):
            try:
                with urllib.request.urlopen(source, timeout=DOWNLOAD_TIMEOUT_S) as response, open(tmp, "wb") as f:
                    shutil.copyfileobj(response, f)
            except OSError as exc:
                raise AlpacaflowError(f"{source}: download failed ({exc})") from exc
        else:
            path = Path(source).expanduser()
            if not path.is_file():
                raise AlpacaflowError(f"{source}: official annotations file not found")
            shutil.copyfile(path, tmp)
        digest = sha256_of(tmp)
        if sha256 and digest != sha256.lower():
            raise AlpacaflowError(f"{source}: SHA-256 {digest} does not match the pinned {sha256}")
        try:  # fail here, not on a GPU node, if it is unusable
            official_pairs(read_records(tmp), source)
        except AlpacaflowError as exc:
            raise AlpacaflowError(str(exc).replace(str(tmp), source)) from exc
    meta = {"source": source, "sha256": digest, "pinned_sha256": sha256 or None}
    write_json(out_meta, meta)
    return meta


def official_pairs(records: list[dict[str, Any]], source: str) -> pd.DataFrame:
    """The published pairs with their official preference, one per instruction."""
    needed = ("instruction", "output_1", "output_2", "preference")
    for n, r in enumerate(records):
        if not isinstance(r, dict) or any(k not in r for k in needed):
            raise AlpacaflowError(f"{source}: row {n}: an official annotation needs {list(needed)}")
    outputs_by_instruction([{"instruction": r["instruction"], "output": ""} for r in records], source)  # duplicates
    return pd.DataFrame(records)


def run(*, source: str, sha256: str, annotations: Path, meta: Path) -> None:
    """The fetch_official step: `sha256` empty means no pinned digest."""
    print(json.dumps(fetch_official(source, sha256 or None, annotations, meta)))
