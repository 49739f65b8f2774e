"""The README stays one short page, and every link between it and docs/ lands.

The README is what a new user reads first: it is held to 400 lines, and the
details live in ``docs/<topic>.md``. Every relative link in the README and in
docs/ must name a file that exists and, with ``#anchor``, a heading of that
file (GitHub's anchors: lower case, punctuation dropped, spaces as hyphens,
``-1``, ``-2`` ... for repeats); every docs page is reachable from the README.
"""

from __future__ import annotations

import re
from collections import Counter
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
README = REPO / "README.md"
PAGES = [README, *sorted((REPO / "docs").glob("*.md"))]
LINK = re.compile(r"\]\(([^)\s]+)\)")


def prose(text: str) -> list[str]:
    """The lines outside fenced code blocks."""
    lines, fenced = [], False
    for line in text.splitlines():
        if line.lstrip().startswith("```"):
            fenced = not fenced
            continue
        if not fenced:
            lines.append(line)
    return lines


def anchors(path: Path) -> set[str]:
    """GitHub's anchor for every heading of a Markdown file."""
    seen: Counter[str] = Counter()
    found = set()
    for line in prose(path.read_text(encoding="utf-8")):
        heading = re.match(r"#{1,6} (.+)", line)
        if not heading:
            continue
        slug = re.sub(r"[^\w\- ]", "", heading.group(1).strip().lower()).replace(" ", "-")
        found.add(slug if not seen[slug] else f"{slug}-{seen[slug]}")
        seen[slug] += 1
    return found


def links(path: Path) -> list[str]:
    """The relative links of a Markdown file's prose."""
    targets = []
    for line in prose(path.read_text(encoding="utf-8")):
        targets += [t for t in LINK.findall(line) if not re.match(r"[a-z]+:", t)]
    return targets


def test_the_readme_is_one_short_page():
    lines = README.read_text(encoding="utf-8").count("\n")
    assert lines <= 400, f"README.md has {lines} lines; move details to docs/"


def test_every_relative_link_lands():
    broken = []
    for page in PAGES:
        for target in links(page):
            file, _, anchor = target.partition("#")
            dest = (page.parent / file).resolve() if file else page
            if not dest.exists():
                broken.append(f"{page.relative_to(REPO)}: {target} (no such file)")
            elif anchor and dest.suffix == ".md" and anchor not in anchors(dest):
                broken.append(f"{page.relative_to(REPO)}: {target} (no such heading)")
    assert not broken, "\n".join(broken)


def test_every_docs_page_is_linked_from_the_readme():
    linked = {(REPO / t.partition("#")[0]).resolve() for t in links(README)}
    unlinked = [p.name for p in PAGES[1:] if p.resolve() not in linked]
    assert not unlinked, f"the README links no {unlinked}"


def test_the_anchor_rule_reads_github_headings(tmp_path):
    page = tmp_path / "p.md"
    heading = "# Evaluate a training run: a checkpoint sweep\n"
    page.write_text(heading + "```\n# not a heading\n```\n## `max_instances`\n## Repeat\n## Repeat\n")
    assert anchors(page) == {"evaluate-a-training-run-a-checkpoint-sweep", "max_instances", "repeat", "repeat-1"}
