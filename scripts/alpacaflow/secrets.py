"""Keep secrets out of everything a step prints: logs, error lines, tracebacks.

API keys come from the environment only (``OPENAI_API_KEY``, ``HF_TOKEN``);
the config schema has no place for them, so they never reach Snakemake
params or metadata. A step's stdout and stderr go to its rule log, so the
command-line entry point wraps both streams: any secret value written to them
(an API error message that echoes the key, a traceback) is replaced by
``[REDACTED]``.
"""

from __future__ import annotations

import os
import sys
from typing import Any, TextIO

#: Environment variables whose values are secrets.
SECRET_ENV = ("OPENAI_API_KEY", "HF_TOKEN", "HUGGING_FACE_HUB_TOKEN", "WANDB_API_KEY")
#: Shorter values are not treated as secrets (they would redact ordinary text).
MIN_SECRET_LENGTH = 8
REDACTED = "[REDACTED]"


def secret_values() -> list[str]:
    """The secret values set in the environment, longest first."""
    values = {os.environ.get(name, "").strip() for name in SECRET_ENV}
    return sorted((v for v in values if len(v) >= MIN_SECRET_LENGTH), key=len, reverse=True)


def redact(text: str, secrets: list[str] | None = None) -> str:
    """`text` with every secret value replaced by ``[REDACTED]``."""
    for value in secret_values() if secrets is None else secrets:
        text = text.replace(value, REDACTED)
    return text


class RedactingStream:
    """A text stream that redacts secrets from everything written to it."""

    def __init__(self, stream: TextIO, secrets: list[str]) -> None:
        self._stream = stream
        self._secrets = secrets

    def write(self, text: str) -> int:
        self._stream.write(redact(text, self._secrets))
        return len(text)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._stream, name)


def protect_std_streams() -> None:
    """Wrap sys.stdout and sys.stderr when a secret is set (call before logging is configured)."""
    secrets = secret_values()
    if secrets and not isinstance(sys.stdout, RedactingStream):
        sys.stdout = RedactingStream(sys.stdout, secrets)  # type: ignore[assignment]
        sys.stderr = RedactingStream(sys.stderr, secrets)  # type: ignore[assignment]
