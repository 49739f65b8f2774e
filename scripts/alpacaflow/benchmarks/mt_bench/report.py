"""MT-Bench's part of the report: its scores per turn, whether they compare with published ones, its losses."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ...board import mt_bench_markdown
from ...markdown import figure


def sections(found: dict[str, Any] | None, samples: list[Path], out: Path, figure_path: Path | None) -> list[str]:
    """The report's MT-Bench section (`findings.mt_bench_findings`; none without MT-Bench rows).

    `samples` are the error_sample step's Markdown of each model, ``<model>/mt_bench/error_sample.md``;
    `figure_path` the Average per category (plots step), or None.
    """
    if found is None:
        return []
    judges = ", ".join(found["judges"])
    comparable = (
        "The judge is MT-Bench's official one (gpt-4 at OpenAI's API): the scores compare with published MT-Bench "
        "numbers."
        if found["comparable"]
        else f"**Not comparable with published MT-Bench numbers:** graded by {judges} "
        f"({'; '.join(found['identities']) or 'identity not recorded'}), while MT-Bench's official judge is gpt-4 "
        "at OpenAI's API."
    )
    lines = [
        "## MT-Bench",
        "",
        "Every model answered each question in two turns, the second after its own first answer. The judge rated "
        "each turn from 1 to 10 with FastChat's single-answer prompts (math, reasoning and coding against a "
        "reference answer; turn 2 with the whole conversation shown). Turn 1 and turn 2 are the mean ratings of "
        "each turn; the Average pools every rating of both turns (FastChat's `show_result.py`), with a 95% bootstrap "
        "interval over questions. Ratings the judge did not give in the `[[rating]]` form are counted and left out. "
        "The answers and gradings are also in FastChat's layout under `official/data/mt_bench/`.",
        "",
        mt_bench_markdown(found["rows"]),
        comparable,
        "",
    ]
    if figure_path is not None:
        lines += [figure(out, figure_path, "MT-Bench Average per category"), ""]
    if samples:
        lines += ["The lowest-rated answers, for error analysis:", ""]
        lines += [Path(p).read_text(encoding="utf-8") for p in samples]
    return lines
