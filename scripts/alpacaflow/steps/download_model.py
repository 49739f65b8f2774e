"""The download_model step: snapshot a hub model into the Hugging Face cache, once, where the network is.

Runs as a local rule (login node). Later jobs read the snapshot with
``HF_HUB_OFFLINE=1``, so compute nodes need no network. The token comes
from ``HF_TOKEN`` in the environment, read by huggingface_hub itself; it is
never passed, logged or written. The manifest records what was fetched.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ..errors import AlpacaflowError
from ..hub import resolved_commit
from ..io import write_json
from ..model_paths import or_local_path


def download_model(repo_id: str, revision: str | None, manifest: Path) -> dict[str, Any]:
    """Snapshot `repo_id` at `revision` and write a manifest (repo, revisions, local path)."""
    from huggingface_hub import snapshot_download
    from huggingface_hub.errors import (
        GatedRepoError,
        HfHubHTTPError,
        LocalEntryNotFoundError,
        RepositoryNotFoundError,
    )

    try:
        path = Path(snapshot_download(repo_id=repo_id, revision=revision))
    except GatedRepoError as exc:
        raise AlpacaflowError(
            f"{repo_id} is gated: accept its licence on the hub and set HF_TOKEN in the environment"
        ) from exc
    except LocalEntryNotFoundError as exc:
        why = "the hub is unreachable and it is not cached"
        raise AlpacaflowError(f"cannot download {repo_id}: {why}{or_local_path(repo_id)}") from exc
    except RepositoryNotFoundError as exc:
        raise AlpacaflowError(f"cannot download {repo_id}: no such model on the hub{or_local_path(repo_id)}") from exc
    except HfHubHTTPError as exc:
        raise AlpacaflowError(f"cannot download {repo_id}: {str(exc).splitlines()[0]}") from exc
    data = {
        "repo_id": repo_id,
        "revision_requested": revision,
        "commit": resolved_commit(path),
        "path": str(path),
    }
    write_json(manifest, data)
    return data


def run(*, repo_id: str, manifest: Path, revision: str = "") -> None:
    """The download_model step: `revision` empty means the default branch."""
    data = download_model(repo_id, revision or None, manifest)
    print(f"{data['repo_id']} at {data['commit']}: {data['path']}")
