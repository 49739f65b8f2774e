"""What the report decides, as data: warnings, what applies, how a run compares, what changed since earlier runs.

The report step only renders; every judgment it shows is made here and
tested here (`test/test_findings.py`):

* `leak_warnings`: models (and the prompt set's references) whose outputs
  leak a chat template above the threshold of `template_leaks`;
* `lc_unreliable`: too few prompts for the LC GLM (`LC_MIN_PROMPTS`);
* `judging_issues`: unparsed judgments, empty outputs, pairs cut for the judge;
* `mixed_judges`: pairs whose judgments came from more than one judge identity;
* `head_to_head`: the references beyond the prompt set, and whether LC applies there;
* `against_baseline`: each model's win-rate differences and speed ratios to the first model;
* `duplicates_dropped`: what ``prompts.duplicates: first`` dropped;
* `history_view`: each pair's earlier evaluations, a change of judge marked;
* `arena_findings`: each Arena-Hard version's rows, and whether its judge is the version's official one;
* the judge audit's verdict is `metrics.audit.assess`.
"""

from __future__ import annotations

import json
import math
import re
from pathlib import Path
from typing import Any

import pandas as pd

from .board import head_to_head_rows
from .config import MT_BENCH, PROMPT_REFERENCE
from .history_table import identity, read_history
from .io import load_prompt_table, read_records, reference_generators
from .judge_settings import OPENAI_DEFAULT_BASE
from .template_leaks import leak_summary, leak_warning

#: Below this many judged prompts the LC GLM has little data and, regularized, pulls LC towards 50%.
LC_MIN_PROMPTS = 200
#: How many of a pair's earlier evaluations the history view shows.
HISTORY_SHOWN = 3


def leak_warnings(models: list[str], outputs: list[Path], prompts: Path) -> list[str]:
    """A warning per model (and for the prompt set's references) where over 2% of the outputs leak a chat template."""
    warnings = [
        leak_warning(model, leak_summary([r.get("output") for r in read_records(path)]))
        for model, path in zip(models, outputs, strict=True)
    ]
    table = load_prompt_table(prompts)
    reference = reference_generators(prompts)
    warnings.append(
        leak_warning(f"The references ({reference})", leak_summary(table["reference_output"].dropna().tolist()))
    )
    return [w for w in warnings if w]


def lc_unreliable(board: pd.DataFrame) -> int | None:
    """The number of judged prompts when it is below `LC_MIN_PROMPTS` (LC numbers are then unreliable), else None.

    None too where no LC number was computed (n/a for every row).
    """
    n = int(board["n_total"].max())
    return n if n < LC_MIN_PROMPTS and board["length_controlled_winrate"].notna().any() else None


def judging_issues(board: pd.DataFrame) -> list[dict[str, Any]]:
    """Models whose outputs the judge saw in an unusual form: unparsed, empty, cut to fit its context (counts)."""
    kinds = ("unparsed", "empty_outputs", "truncated_for_judge")
    return [
        {"model": row["model"], **{k: int(row[k]) for k in kinds}}
        for _, row in board.iterrows()
        if any(row[k] for k in kinds)
    ]


def pair_label(model: str, reference: str) -> str:
    """A (model, reference) pair as the report names it: the model, with ``(vs reference)`` head to head."""
    return model if reference == PROMPT_REFERENCE else f"{model} (vs {reference})"


def mixed_judges(every: pd.DataFrame) -> list[str]:
    """Pairs (leaderboard.csv, all references) whose judgments came from more than one judge identity."""
    return [
        pair_label(r.model, r.reference)
        for r in every.itertuples()
        if isinstance(r.judge_identity, str) and ", " in r.judge_identity
    ]


def head_to_head(every: pd.DataFrame) -> list[dict[str, Any]]:
    """Each model reference (beyond the prompt set): its rows, and whether LC was computed for any of them."""
    found = []
    for reference in dict.fromkeys(every["reference"]):
        if reference == PROMPT_REFERENCE:
            continue
        rows = every[every["reference"] == reference].reset_index(drop=True)
        found.append({"reference": reference, "rows": rows,
                      "lc_applies": bool(rows["length_controlled_winrate"].notna().any())})  # fmt: skip
    return found


def _lc(value: Any) -> float | None:
    return None if value is None or pd.isna(value) else float(value)


def against_baseline(models: list[str], board: pd.DataFrame, tps: dict[str, dict[str, Any]]) -> list[dict[str, Any]]:
    """Every model after the first against the first: win-rate differences (points) and speed ratios.

    Speed ratios are None unless both models were generated in this run.
    """
    base = models[0]
    rows = board.set_index("model", drop=False)
    found = []
    for model in models[1:]:
        row, ref = rows.loc[model], rows.loc[base]
        lc, lc_base = _lc(row["length_controlled_winrate"]), _lc(ref["length_controlled_winrate"])
        timed = "examples_per_second" in tps[model] and "examples_per_second" in tps[base]
        found.append({
            "model": model,
            "baseline": base,
            "win_rate": float(row["win_rate"]),
            "baseline_win_rate": float(ref["win_rate"]),
            "win_rate_diff": float(row["win_rate"] - ref["win_rate"]),
            "lc": lc,
            "baseline_lc": lc_base,
            "lc_diff": None if lc is None or lc_base is None else lc - lc_base,
            "standard_error": float(row["standard_error"]),
            "baseline_standard_error": float(ref["standard_error"]),
            "examples_ratio": tps[model]["examples_per_second"] / tps[base]["examples_per_second"] if timed else None,
            "tokens_ratio": tps[model]["output_tokens_per_second"] / tps[base]["output_tokens_per_second"]
            if timed
            else None,
        })  # fmt: skip
    return found


def duplicates_dropped(meta: dict[str, Any], tps: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """Rows ``prompts.duplicates: first`` dropped: from the prompt set, and per imported outputs file."""
    imported = {
        model: {"source": tp.get("imported_from"), "dropped": tp["duplicates_dropped"]}
        for model, tp in tps.items()
        if tp.get("duplicates_dropped")
    }
    return {"prompt_set": int(meta.get("duplicates_dropped") or 0), "imported": imported}


def _identity(row: Any) -> str | None:
    """A history row's judge identity; None in rows written before it was kept."""
    ident = row.get("judge_identity")
    return ident if isinstance(ident, str) and ident else None


def judge_label(row: Any) -> str:
    """A history row's judge: its name and, where recorded, its identity."""
    return f"{row['judge']} ({_identity(row)})" if _identity(row) else str(row["judge"])


def same_judge(a: Any, b: Any) -> bool:
    """Two history rows by the same judge: the same name, and the same identity where both recorded one."""
    return a["judge"] == b["judge"] and (None in (_identity(a), _identity(b)) or _identity(a) == _identity(b))


def history_value(row: Any) -> str:
    """A history row's headline: LC win rate (or win rate), Arena-Hard's score, or MT-Bench's Average."""
    if row.get("benchmark") == MT_BENCH:
        return f"Average {row['average']:.2f}"
    if row.get("benchmark", "alpaca_eval") != "alpaca_eval":
        return f"score {row['score']:.1f}"
    lc = row["length_controlled_winrate"]
    if lc is not None and not (isinstance(lc, float) and math.isnan(lc)):
        return f"LC {lc:.1f}"
    return f"win rate {row['win_rate']:.1f}"


def same_category(column: pd.Series, category: str | None) -> pd.Series:
    """Which of a history column's categories are `category` (None: AlpacaEval's rows, which have none)."""
    return column.isna() if category is None else column == category


def history_view(appended: Path) -> dict[str, Any]:
    """Each pair's last earlier evaluations and its current one (history_appended.json and the history).

    ``pairs``: per pair with earlier rows, its ``steps`` in time order, each
    with ``value`` (``LC 12.1``), ``date`` (None for now) and
    ``judge_changed_to`` (the new judge's label where the judge, by name or
    recorded identity, differs from the step before).
    """
    record = json.loads(Path(appended).read_text(encoding="utf-8"))
    table = read_history(Path(record["history"]))
    pairs = []
    for now in record["current"]:
        pair = table[
            (table["model"] == now["model"])
            & (table["reference"] == now["reference"])
            & (table["benchmark"] == now["benchmark"])
            & same_category(table["category"], now["category"])
        ]
        current = identity(pd.Series(now))
        earlier = pair[[identity(r) != current for _, r in pair.iterrows()]].sort_values("time", kind="stable")
        if earlier.empty:
            continue
        rows = [*(r for _, r in earlier.tail(HISTORY_SHOWN).iterrows()), now]
        steps = [{"value": history_value(r), "date": str(r["time"])[:10] if r is not now else None,
                  "judge_changed_to": None if i == 0 or same_judge(rows[i - 1], r) else judge_label(r)}
                 for i, r in enumerate(rows)]  # fmt: skip
        label = pair_label(now["model"], now["reference"])
        if now["benchmark"] == MT_BENCH:
            label = f"{now['model']} on MT-Bench" + (f" ({now['category']})" if now["category"] else "")
        elif now["benchmark"] != "alpaca_eval":
            label = f"{now['model']} on {now['category'] or now['benchmark']} (vs {now['reference']})"
        pairs.append({"label": label, "steps": steps})
    return {"history": record["history"], "pairs": pairs}


def arena_findings(board: pd.DataFrame, protocols: list[Path]) -> list[dict[str, Any]]:
    """Each Arena-Hard version (leaderboard.csv's rows of every benchmark): its rows, the official judge, comparability.

    ``rows`` are the models' against the version's baselines, ``heads`` the
    head-to-head rows (against another model's answers, `references:`).

    The scores are comparable with the published leaderboard only when every
    row was judged by the version's official judge (``protocol.json``'s
    ``judge_model``, e.g. gpt-4-1106-preview for v0.1) at OpenAI's own API (a
    judge's identity names the model the API reported and the URL).
    """
    official = {}
    for path in protocols:
        protocol = json.loads(Path(path).read_text(encoding="utf-8"))
        official[protocol["benchmark"]] = protocol["judge_model"]
    found = []
    for benchmark in dict.fromkeys(board["benchmark"]):
        if benchmark in ("alpaca_eval", MT_BENCH):
            continue
        every = board[board["benchmark"] == benchmark]
        heads = head_to_head_rows(every)
        rows, against = every[~heads].reset_index(drop=True), every[heads].reset_index(drop=True)
        judges = sorted({part for cell in every["judge"] for part in str(cell).split(", ")})
        identities = sorted({part for cell in every["judge_identity"].dropna() for part in str(cell).split(", ")})
        model = official.get(benchmark) or ""
        at_source = bool(identities) and all(i.startswith(model) and i.endswith(f" at {OPENAI_DEFAULT_BASE}")
                                             for i in identities)  # fmt: skip
        found.append({"benchmark": benchmark, "rows": rows, "heads": against, "official_judge": model, "judges": judges,
                      "identities": identities, "comparable": judges == [model] and at_source})  # fmt: skip
    return found


#: The model names OpenAI's API reports for MT-Bench's official judge ``gpt-4``: the name or a dated snapshot.
GPT4_REPORTED = re.compile(r"gpt-4(-\d{4})?")


def mt_bench_findings(board: pd.DataFrame) -> dict[str, Any] | None:
    """MT-Bench's rows (none: None), its judges, and whether the scores compare with published MT-Bench numbers.

    They compare only when every grading came from the official judge,
    ``gpt-4`` (OpenAI's API reporting ``gpt-4`` or a dated ``gpt-4-MMDD``
    snapshot, not GPT-4 Turbo or GPT-4o) at OpenAI's own API.
    """
    rows = board[board["benchmark"] == MT_BENCH].reset_index(drop=True)
    if rows.empty:
        return None
    judges = sorted({part for cell in rows["judge"] for part in str(cell).split(", ")})
    identities = sorted({part for cell in rows["judge_identity"].dropna() for part in str(cell).split(", ")})
    suffix = f" at {OPENAI_DEFAULT_BASE}"
    official = bool(identities) and all(
        i.endswith(suffix) and GPT4_REPORTED.fullmatch(i.removesuffix(suffix)) for i in identities
    )
    return {"rows": rows, "judges": judges, "identities": identities, "comparable": judges == ["gpt-4"] and official}
