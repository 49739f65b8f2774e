"""What a run evaluates (``benchmarks:``), and each model's settings on each benchmark.

Any subset of AlpacaEval 2.0, Arena-Hard-Auto and MT-Bench runs, in any
order (the order of the report's sections). AlpacaEval's outputs,
annotations and numbers keep their paths (``results/<model>/...``). Each
Arena-Hard-Auto version is one benchmark, ``arena_hard-<v>``: its data in
``results/arena_hard-<v>/`` and each model's answers and judgments in
``results/<model>/arena_hard-<v>/``. A model's generation settings there are
its own with ``arena_hard.generation`` over them (the official answer
settings: greedy, 4,096 new tokens) and its ``arena_hard_generation`` over
those, so that the same weights, prompt format and stop rules answer every benchmark.
"""

from __future__ import annotations

import copy
import hashlib
from typing import TYPE_CHECKING, Any

from ..config import (
    ALPACA_EVAL,
    BENCHMARK_PREFIX,
    MT_BENCH,
    OFFICIAL_REFERENCE,
    VALIDATION,
    judged_pairs,
    model_settings,
)
from ..errors import AlpacaflowError

if TYPE_CHECKING:
    import pandas as pd

#: Each benchmark's name in titles (the report's), by its name in ``benchmarks``.
TITLES = {ALPACA_EVAL: "AlpacaEval 2.0", "arena_hard": "Arena-Hard-Auto", MT_BENCH: "MT-Bench"}
#: Arena-Hard-Auto's versions: alpacaflow's benchmark name -> the official repository's.
VERSIONS = {"v0.1": "arena-hard-v0.1", "v2.0": "arena-hard-v2.0"}
PREFIX = BENCHMARK_PREFIX
#: Tokens the official config lets the judge write per game (config/arena-hard-<v>.yaml at the pinned revision);
#: the load-time check of a local judge's context uses them before the config file is fetched.
JUDGE_MAX_TOKENS = {"v0.1": 4096, "v2.0": 16000}


def benchmark_name(version: str) -> str:
    """``arena_hard-v0.1``: the folder under results_dir and the leaderboard's ``benchmark``."""
    return f"{PREFIX}{version}"


def version_of(benchmark: str) -> str:
    """``v0.1`` of ``arena_hard-v0.1`` (one clear line for anything else)."""
    version = benchmark.removeprefix(PREFIX)
    if not benchmark.startswith(PREFIX) or version not in VERSIONS:
        raise AlpacaflowError(f"unknown Arena-Hard version in {benchmark!r} (known: {', '.join(VERSIONS)})")
    return version


def keep_instances(table: pd.DataFrame, n: int, key: str) -> pd.DataFrame:
    """A benchmark's `max_instances`: the `n` rows whose `key` has the lowest SHA-256, in the table's order.

    Deterministic and independent of the file's row order; a larger `n` keeps
    every row a smaller one kept (so raising it only adds work), and the rows
    keep their ``index`` in the full set. ``n`` of 0 (or at least the table's
    length) keeps every row.
    """
    if not n or n >= len(table):
        return table
    digests = table[key].map(lambda v: hashlib.sha256(str(v).encode("utf-8")).hexdigest())
    kept = sorted(digests.sort_values(kind="stable").index[:n])
    return table.loc[kept].reset_index(drop=True)


def arena_benchmarks(config: dict[str, Any]) -> list[str]:
    """The Arena-Hard versions a run evaluates, as benchmark names (none without arena_hard in `benchmarks`)."""
    if "arena_hard" not in config["benchmarks"]:
        return []
    return [benchmark_name(v) for v in config["arena_hard"]["versions"]]


def run_benchmarks(config: dict[str, Any]) -> list[str]:
    """The run's benchmarks as result folders' names, in the order of ``benchmarks`` (one per Arena-Hard version)."""
    found: list[str] = []
    for name in config["benchmarks"]:
        found += arena_benchmarks(config) if name == "arena_hard" else [name]
    return found


def answers_to(config: dict[str, Any], model: str, benchmark: str) -> bool:
    """Whether `model` has answers to `benchmark` (generated, or imported for it)."""
    if benchmark == ALPACA_EVAL:
        return ALPACA_EVAL in config["benchmarks"]
    if benchmark == MT_BENCH:
        return model in mt_bench_models(config)
    return model in arena_models(config, benchmark) if benchmark in arena_benchmarks(config) else False


def model_homes(config: dict[str, Any]) -> dict[str, str]:
    """Each model with answers -> its first benchmark's folder under results/<model> ("" for AlpacaEval's).

    The throughput.json there stands for the model (its weights, its prompt
    date) in the history and the report; a model with no answers at all is left out.
    """
    homes = {}
    for model in config["models"]:
        first = next((b for b in run_benchmarks(config) if answers_to(config, model, b)), None)
        if first is not None:
            homes[model] = "" if first == ALPACA_EVAL else f"/{first}"
    return homes


def judge_decoding(config: dict[str, Any], benchmark: str, official: dict[str, Any]) -> tuple[int, float]:
    """The judge's (max new tokens, temperature) per game: the config's, else the version's official ones."""
    arena = config["arena_hard"]
    tokens = arena["judge_max_new_tokens"] or int(official["max_tokens"])
    temperature = official["temperature"] if arena["judge_temperature"] is None else arena["judge_temperature"]
    return tokens, float(temperature)


def check_benchmarks(config: dict[str, Any]) -> None:
    """Any subset in any order; no model named as a benchmark folder; a local judge whose context fits a verdict.

    Without alpaca_eval, what only AlpacaEval's pairs feed (checkpoint sweeps, judge validation) is refused.
    """
    if ALPACA_EVAL not in config["benchmarks"]:
        if config.get("sweeps"):
            raise AlpacaflowError(
                "config error at 'sweeps': a sweep's verdict is on AlpacaEval's LC win rate per step; "
                "add alpaca_eval to benchmarks"
            )
        if config["validate_judge"]["enabled"]:
            raise AlpacaflowError(
                "config error at 'validate_judge.enabled': judge validation re-judges AlpacaEval's published "
                "pairs; add alpaca_eval to benchmarks or set it to false"
            )
    names = arena_benchmarks(config) + ([MT_BENCH] if MT_BENCH in config["benchmarks"] else [])
    clash = sorted(set(names) & set(config["models"]))
    if clash:
        raise AlpacaflowError(
            f"config error at 'models.{clash[0]}': {clash[0]} is a benchmark's folder; rename the model"
        )
    judge = config["arena_hard"]["judge"] or config["judge"]  # the judge of the Arena-Hard games
    where = "arena_hard.judge" if config["arena_hard"]["judge"] else "judge"
    check_mt_bench_judge(config)
    for name in arena_benchmarks(config) if judge["backend"] == "vllm" else []:
        version = version_of(name)
        tokens = config["arena_hard"]["judge_max_new_tokens"] or JUDGE_MAX_TOKENS[version]
        if judge["max_model_len"] <= tokens:
            raise AlpacaflowError(
                f"config error at '{where}.max_model_len': {judge['max_model_len']} leaves no room for an Arena-Hard "
                f"{version} prompt before the judge's {tokens} new tokens; raise it or lower "
                "arena_hard.judge_max_new_tokens"
            )


def check_mt_bench_judge(config: dict[str, Any]) -> None:
    """A local MT-Bench judge's context holds more than a grading's verdict (``mt_bench.judge_max_new_tokens``)."""
    if MT_BENCH not in config["benchmarks"]:
        return
    judge = config["mt_bench"]["judge"] or config["judge"]
    where = "mt_bench.judge" if config["mt_bench"]["judge"] else "judge"
    tokens = config["mt_bench"]["judge_max_new_tokens"]
    if judge["backend"] == "vllm" and judge["max_model_len"] <= tokens:
        raise AlpacaflowError(
            f"config error at '{where}.max_model_len': {judge['max_model_len']} leaves no room for an MT-Bench "
            f"grading prompt before the judge's {tokens} new tokens; raise it or lower mt_bench.judge_max_new_tokens"
        )


def benchmark_settings(config: dict[str, Any], model: str, benchmark: str) -> dict[str, Any]:
    """A model's resolved settings on `benchmark` (``alpaca_eval``: `config.model_settings` as they are)."""
    settings = model_settings(config, model)
    if benchmark == "alpaca_eval":
        return settings
    if benchmark == MT_BENCH:
        return mt_bench_settings(config, settings)
    imported = config["models"].get(model, {}).get("arena_hard_outputs", {}).get(version_of(benchmark))
    if imported:
        return {"model": model, "outputs": imported}
    if "outputs" in settings:
        return settings
    resolved = copy.deepcopy(settings)
    own = config["models"][model].get("arena_hard_generation", {})
    resolved["generation"] = {**settings["generation"], **config["arena_hard"]["generation"], **own}
    return resolved


def mt_bench_settings(config: dict[str, Any], settings: dict[str, Any]) -> dict[str, Any]:
    """A model's settings on MT-Bench: ``mt_bench.generation`` over its own, and the category temperatures.

    Every MT-Bench request is decoded at its category's temperature, so the model's own
    ``generation.temperature`` is left out: changing it neither regenerates the MT-Bench
    answers (the store key) nor reruns their job or adds a history row (the settings hash).
    (A model with only AlpacaEval ``outputs`` keeps them and has no MT-Bench answers.)
    """
    if "outputs" in settings:
        return settings
    section = config["mt_bench"]
    resolved = copy.deepcopy(settings)
    resolved["generation"] = {**settings["generation"], **section["generation"]}
    resolved["generation"].pop("temperature", None)
    resolved["mt_bench"] = {k: section[k] for k in ("temperatures", "default_temperature")}
    return resolved


def arena_models(config: dict[str, Any], benchmark: str) -> list[str]:
    """The models with answers to an Arena-Hard version: generated, or imported (``arena_hard_outputs``).

    (A model with only AlpacaEval ``outputs`` has no Arena-Hard answers.)
    """
    return [m for m, entry in config["models"].items()
            if "path" in entry or version_of(benchmark) in entry.get("arena_hard_outputs", {})]  # fmt: skip


def head_to_head(benchmark: str, reference: str) -> str:
    """A head-to-head pair's reference on a benchmark: ``arena_hard-<v>/vs_<model>`` (its folder under the model's)."""
    return f"{benchmark}/vs_{reference}"


def split_reference(reference: str) -> tuple[str, str | None]:
    """(benchmark, head-to-head reference or None) of a benchmark pair's reference (``arena_hard-v0.1/vs_sft``)."""
    benchmark, _, head = reference.partition("/vs_")
    return benchmark, head or None


def arena_pairs(config: dict[str, Any]) -> list[tuple[str, str]]:
    """Each Arena-Hard pair: every model with answers against the version's baseline, then head to head.

    Head to head (``references:`` beyond ``prompts``): every other model with
    answers to the version against that model's answers, as on AlpacaEval.
    """
    pairs = []
    for benchmark in arena_benchmarks(config):
        answered = arena_models(config, benchmark)
        pairs += [(m, benchmark) for m in answered]
        pairs += [(m, head_to_head(benchmark, r)) for r in config["references"][1:] if r in answered
                  for m in answered if m != r]  # fmt: skip
    return pairs


def mt_bench_models(config: dict[str, Any]) -> list[str]:
    """The models answering MT-Bench (with mt_bench in `benchmarks`): those generated (with a ``path``)."""
    if MT_BENCH not in config["benchmarks"]:
        return []
    return [m for m, entry in config["models"].items() if "path" in entry]


def annotated_pairs(config: dict[str, Any]) -> list[tuple[str, str]]:
    """What the annotate step judges: `config.judged_pairs`, judge validation's official pairs, the benchmarks'.

    Judge validation's official pairs when it is enabled; then `arena_pairs`; then each MT-Bench model's answers.
    """
    validation = [(VALIDATION, OFFICIAL_REFERENCE)] if config["validate_judge"]["enabled"] else []
    mt_bench = [(m, MT_BENCH) for m in mt_bench_models(config)]
    return judged_pairs(config) + validation + arena_pairs(config) + mt_bench


def _layers(config: dict[str, Any], model: str, benchmark: str) -> list[str]:
    """The config sections a model's generation settings on `benchmark` come from, the one that wins first."""
    own = [f"models.{model}.generation", "generation"]
    if benchmark == MT_BENCH:
        return ["mt_bench.generation", *own]
    if benchmark.startswith(PREFIX):
        return [f"models.{model}.arena_hard_generation", "arena_hard.generation", *own]
    return own


def _section(config: dict[str, Any], dotted: str) -> dict[str, Any]:
    node: Any = config
    for part in dotted.split("."):
        node = node.get(part, {}) if isinstance(node, dict) else {}
    return node if isinstance(node, dict) else {}


def setting_key(config: dict[str, Any], model: str, benchmark: str, name: str) -> str:
    """The config key that sets a model's generation setting `name` on `benchmark` (default: ``generation.<name>``)."""
    layer = next((s for s in _layers(config, model, benchmark) if name in _section(config, s)), "generation")
    return f"{layer}.{name}"


def context_settings(config: dict[str, Any]) -> list[tuple[str, str, str | None, int, str]]:
    """Every engine's context a run configures: (who, model path, revision, max_model_len, the key that sets it).

    Each generated model on each benchmark of the run, then each local (vLLM) judge the run uses.
    """
    benchmarks = run_benchmarks(config)
    found = []
    for model in config["models"]:
        for benchmark in benchmarks:
            settings = benchmark_settings(config, model, benchmark)
            if "path" in settings:
                key = setting_key(config, model, benchmark, "max_model_len")
                found.append((f"model '{model}'", settings["path"], settings["revision"],
                              settings["generation"]["max_model_len"], key))  # fmt: skip
    judges = [("judge", config["judge"])]
    judges += [("arena_hard.judge", config["arena_hard"]["judge"])] if arena_benchmarks(config) else []
    judges += [("mt_bench.judge", config["mt_bench"]["judge"])] if MT_BENCH in config["benchmarks"] else []
    for where, judge in judges:
        if judge and judge["backend"] == "vllm":
            found.append(("the judge", judge["model"], judge.get("revision"), judge["max_model_len"],
                          f"{where}.max_model_len"))  # fmt: skip
    return found
