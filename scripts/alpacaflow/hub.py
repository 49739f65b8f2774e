"""The Hugging Face hub: dataset files fetched into the local cache, and the commit a cached file belongs to.

Steps that use the network (download_prompts, download_model) are local
rules; every later job reads the cache with ``HF_HUB_OFFLINE=1``.
"""

from __future__ import annotations

from pathlib import Path

from .errors import AlpacaflowError


def hf_download(repo_id: str, filename: str, revision: str) -> Path:
    """Fetch one file of a Hugging Face dataset repo (honours HF_HOME / HF_HUB_OFFLINE)."""
    from huggingface_hub import hf_hub_download
    from huggingface_hub.errors import HfHubHTTPError, LocalEntryNotFoundError

    try:
        path = hf_hub_download(repo_id=repo_id, filename=filename, repo_type="dataset", revision=revision)
    except LocalEntryNotFoundError as exc:
        raise AlpacaflowError(
            f"cannot fetch {filename} from dataset {repo_id}@{revision}: not in the local "
            "Hugging Face cache and the hub is unreachable (set prompts.source to a local file "
            "on air-gapped machines)"
        ) from exc
    except HfHubHTTPError as exc:
        raise AlpacaflowError(f"cannot fetch {filename} from dataset {repo_id}@{revision}: {exc}") from exc
    return Path(path)


def resolved_commit(path: Path) -> str | None:
    """The commit a hub cache path belongs to (``.../snapshots/<commit>/file``)."""
    parts = path.parts
    if "snapshots" in parts:
        i = parts.index("snapshots")
        if i + 1 < len(parts):
            return parts[i + 1]
    return None
