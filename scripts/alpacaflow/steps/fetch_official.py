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
from pathlib import Path
from typing import Any

from ..errors import AlpacaflowError
from ..hub import read_source
from ..io import atomic_path, read_records, sha256_of, write_json
from ..official import official_pairs


def fetch_official(source: str, sha256: str | None, out: Path, out_meta: Path) -> dict[str, Any]:
    """Copy the official annotations from an https URL or a local path; check the pinned SHA-256."""
    with atomic_path(out) as tmp:
        tmp.write_bytes(read_source(source, "official annotations file"))
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


def run(*, source: str, sha256: str, annotations: Path, meta: Path) -> None:
    """The fetch_official step: `sha256` empty means no pinned digest."""
    print(json.dumps(fetch_official(source, sha256 or None, annotations, meta)))
