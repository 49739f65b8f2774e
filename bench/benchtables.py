"""Markdown tables and target verdicts for docs/benchmarks.md, from the benchmark's summarized rows.

Pure functions of the rows `bench.py` collects (so that they are tested
without engines). Generation rows carry ``model``, ``vocab``, ``layers``,
``tokens``, ``prompts``, ``variant``, ``load_s``, ``peak_rss_mb``,
``output_tokens``, ``timed_prompts`` and ``wall_s`` (a `benchharness.spread`);
judge rows carry ``judge``, ``method``, ``variant`` (``ours``/``raw``),
``pairs``, ``parsed``, ``load_s`` and ``wall_s``.
"""

from __future__ import annotations

from typing import Any

#: Output tokens/s over the seed loop's, judged on medians.
SPEED_TARGETS = {"vllm": 20.0, "transformers": 5.0}
#: alpacaflow's backend over the raw engine, in median seconds (at most).
OVERHEAD_TARGET = 1.05
RAW = {"vllm": "vllm_raw", "transformers": "transformers_raw"}
#: Row order within a case, and of the judge rows.
VARIANT_ORDER = ["seed_loop", "transformers", "transformers_raw", "vllm", "vllm_raw"]
JUDGE_ORDER = [("weighted", "ours"), ("weighted", "raw"), ("ranking", "ours"), ("ranking", "raw")]
#: alpacaflow's judge path over raw vLLM, in pairs/s (at least).
JUDGE_TARGET = 0.8


def _rank(order: list, key: Any) -> int:
    return order.index(key) if key in order else len(order)


def tokens_per_s(row: dict[str, Any]) -> float:
    return row["output_tokens"] / row["wall_s"]["median"]


def seconds(spread: dict[str, float]) -> str:
    """``median (min–max)``."""
    return f"{spread['median']:.2f} ({spread['min']:.2f}–{spread['max']:.2f})"


def _case(row: dict[str, Any]) -> tuple:
    return (row["model"], row["tokens"], row["prompts"])


def _by_case(rows: list[dict[str, Any]]) -> dict[tuple, dict[str, dict[str, Any]]]:
    cases: dict[tuple, dict[str, dict[str, Any]]] = {}
    for row in rows:
        cases.setdefault(_case(row), {})[row["variant"]] = row
    return cases


def generation_table(rows: list[dict[str, Any]]) -> list[str]:
    """One row per model, case and variant: median seconds with min–max, rates, ratio to the seed loop."""
    lines = [
        "| model | vocab | new tokens | prompts | variant | load s | seconds, median (min–max) | examples/s "
        "| output tokens/s | x seed loop | peak RSS MB |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for variants in _by_case(rows).values():
        seed = variants.get("seed_loop")
        for row in sorted(variants.values(), key=lambda r: _rank(VARIANT_ORDER, r["variant"])):
            ratio = f"{tokens_per_s(row) / tokens_per_s(seed):.1f}x" if seed else "–"
            timed = row["timed_prompts"]
            prompts = f"{row['prompts']}" if timed == row["prompts"] else f"{timed} of {row['prompts']}"
            lines.append(
                f"| {row['model']} | {row['vocab']:,} | {row['tokens']} | {prompts} | {row['variant']} "
                f"| {row['load_s']:.1f} | {seconds(row['wall_s'])} | {timed / row['wall_s']['median']:.1f} "
                f"| {tokens_per_s(row):.0f} | {ratio} | {row['peak_rss_mb']:.0f} |"
            )
    return lines


def overhead_rows(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Per case, alpacaflow's backend over the raw engine: median seconds and the ratio."""
    out = []
    for (model, tokens, prompts), variants in _by_case(rows).items():
        for ours, raw in RAW.items():
            if ours in variants and raw in variants:
                a, b = variants[ours]["wall_s"]["median"], variants[raw]["wall_s"]["median"]
                out.append({"model": model, "tokens": tokens, "prompts": prompts, "backend": ours,
                            "ours_s": a, "raw_s": b, "ratio": a / b})  # fmt: skip
    return out


def overhead_table(rows: list[dict[str, Any]]) -> list[str]:
    lines = [
        "| model | new tokens | prompts | backend | ours s | raw engine s "
        f"| ours / raw (target <= {OVERHEAD_TARGET}) |",
        "|---|---|---|---|---|---|---|",
    ]
    for r in overhead_rows(rows):
        verdict = "met" if r["ratio"] <= OVERHEAD_TARGET else "missed"
        lines.append(
            f"| {r['model']} | {r['tokens']} | {r['prompts']} | {r['backend']} | {r['ours_s']:.2f} "
            f"| {r['raw_s']:.2f} | {r['ratio']:.2f} ({verdict}) |"
        )
    return lines


def speed_verdicts(rows: list[dict[str, Any]]) -> list[str]:
    """One line per speed target: in how many cases the median ratio to the seed loop met it."""
    cases = _by_case(rows)
    lines = []
    for variant, target in SPEED_TARGETS.items():
        got = [
            (f"{model}/{tokens}tok/{prompts}p", tokens_per_s(v[variant]) / tokens_per_s(v["seed_loop"]))
            for (model, tokens, prompts), v in cases.items()
            if variant in v and "seed_loop" in v
        ]
        met = sum(1 for _, ratio in got if ratio >= target)
        lines.append(
            f"- {variant} >= {target:.0f}x the seed loop in output tokens/s (medians): met in {met} of "
            f"{len(got)} cases ({', '.join(f'{label}: {ratio:.1f}x' for label, ratio in got)})."
        )
    over = overhead_rows(rows)
    met = sum(1 for r in over if r["ratio"] <= OVERHEAD_TARGET)
    lines.append(
        f"- alpacaflow's backends within {OVERHEAD_TARGET}x of the raw engine's time (medians): met in {met} of "
        f"{len(over)} cases."
    )
    return lines


def judge_table(rows: list[dict[str, Any]]) -> list[str]:
    lines = [
        "| judge | method | path | pairs | pairs/s | seconds, median (min–max) | engine start s | parsed |",
        "|---|---|---|---|---|---|---|---|",
    ]
    judges = list(dict.fromkeys(r["judge"] for r in rows))
    ordered = sorted(rows, key=lambda r: (judges.index(r["judge"]), _rank(JUDGE_ORDER, (r["method"], r["variant"]))))
    for r in ordered:
        parsed = f"{r['parsed']} of {r['pairs']}" if r["parsed"] is not None else "–"
        path = "alpacaflow (annotator)" if r["variant"] == "ours" else "raw vLLM"
        lines.append(
            f"| {r['judge']} | {r['method']} | {path} | {r['pairs']} | {r['pairs'] / r['wall_s']['median']:.2f} "
            f"| {seconds(r['wall_s'])} | {r['load_s']:.1f} | {parsed} |"
        )
    return lines


def judge_verdicts(rows: list[dict[str, Any]]) -> list[str]:
    """The annotate path over raw vLLM (a target) and weighted over ranking (information), per judge."""
    found: dict[tuple[str, str], dict[str, dict[str, Any]]] = {}
    for r in rows:
        found.setdefault((r["judge"], r["method"]), {})[r["variant"]] = r
    lines = []
    for (judge, method), v in found.items():
        if "ours" in v and "raw" in v:
            ratio = (v["ours"]["pairs"] / v["ours"]["wall_s"]["median"]) / (
                v["raw"]["pairs"] / v["raw"]["wall_s"]["median"]
            )
            verdict = "met" if ratio >= JUDGE_TARGET else "missed"
            lines.append(
                f"- {judge}, {method}: alpacaflow's annotate path judges {ratio:.2f}x the raw engine's pairs/s "
                f"(target >= {JUDGE_TARGET}: {verdict})."
            )
    for judge in dict.fromkeys(j for j, _ in found):
        w, r = found.get((judge, "weighted"), {}).get("ours"), found.get((judge, "ranking"), {}).get("ours")
        if w and r:
            ratio = (w["pairs"] / w["wall_s"]["median"]) / (r["pairs"] / r["wall_s"]["median"])
            lines.append(
                f"- {judge}: weighted judges {ratio:.1f}x as many pairs/s "
                "as ranking (information, not a target: both are bound by reading the long judge prompts)."
            )
    return lines
