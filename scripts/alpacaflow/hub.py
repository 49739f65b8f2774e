"""Fetching: the Hugging Face hub's dataset files into its cache (and their commit), other files by URL or path.

Steps that use the network (download_prompts, download_model,
download_benchmark, fetch_official) are local rules; every later job reads
what they fetched (the hub's cache with ``HF_HUB_OFFLINE=1``).
"""

from __future__ import annotations

import urllib.request
from pathlib import Path

from .errors import AlpacaflowError

#: Seconds a download by URL may take.
DOWNLOAD_TIMEOUT_S = 120


def read_source(source: str, what: str, hint: str = "") -> bytes:
    """The bytes of `source`, an http(s) URL or a local file; one line naming `what` (and `hint`) when it fails."""
    if source.startswith(("https://", "http://")):
        try:
            with urllib.request.urlopen(source, timeout=DOWNLOAD_TIMEOUT_S) as response:
                return response.read()
        except OSError as exc:
            raise AlpacaflowError(f"{source}: download failed ({exc}){hint}") from exc
    path = Path(source).expanduser()
    if not path.is_file():
        raise AlpacaflowError(f"{path}: {what} not found{hint}")
    return path.read_bytes()


def repository_file(source: str, repo: str, revision: str, path: str, setting: str) -> tuple[bytes, str]:
    """One file of a benchmark's official repository: (its bytes, where it came from).

    `source` ``github`` reads ``raw.githubusercontent.com/<repo>/<revision>/<path>``;
    anything else is a local folder laid out as the repository (`setting`:
    the config key that names it, for the error line).
    """
    if source == "github":
        url = f"https://raw.githubusercontent.com/{repo}/{revision}/{path}"
        return read_source(url, "file"), url
    local = str(Path(source).expanduser() / path)
    return read_source(local, "file", f" ({setting} is a local copy of the repository)"), local


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
