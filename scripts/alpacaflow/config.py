"""Configuration: schema validation with one-line errors, defaults, per-model settings.

Every default lives in ``schemas/config.schema.yaml`` and nowhere else: the
validator fills them in (`validate_config`), and code that needs them
without a config asks the schema (`defaults`).

The Snakefile calls `check_config` once at load time; rules then pass each
model's fully resolved settings (`model_settings`) to the step they run as
Snakemake params, so that changing one model's settings reruns only that
model's jobs.
"""

from __future__ import annotations

import copy
import datetime
import functools
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml

from .checkpoint_sweeps import expand_sweeps
from .errors import AlpacaflowError

if TYPE_CHECKING:  # jsonschema is imported where a config is validated (the GPU benchmark runs without it)
    import jsonschema

SCHEMA_PATH = Path(__file__).resolve().parents[2] / "schemas" / "config.schema.yaml"

#: A model entry's keys that shape its prompts, stopping and outputs (defaults in the schema).
PROMPT_KEYS = (
    "prompt_format",
    "template",
    "system_prompt",
    "chat_template_kwargs",
    "stop",
    "stop_token_ids",
    "reasoning",
)

#: How ``prompt_date`` is written (Meta's Llama-3.x templates write ``date_string`` so).
DATE_FORMAT = "%d %b %Y"


def load_schema(path: Path = SCHEMA_PATH) -> dict[str, Any]:
    """Read the config JSON schema (YAML syntax)."""
    return yaml.safe_load(path.read_text(encoding="utf-8"))


def _set_defaults(validator_class: type) -> type:
    """Extend a jsonschema validator so that it fills `default` values in."""
    import jsonschema

    validate_properties = validator_class.VALIDATORS["properties"]

    def set_defaults(validator, properties, instance, schema) -> Iterator[Any]:  # noqa: ANN001
        if isinstance(instance, dict):
            for name, sub in properties.items():
                if isinstance(sub, dict) and "default" in sub:
                    instance.setdefault(name, copy.deepcopy(sub["default"]))
        yield from validate_properties(validator, properties, instance, schema)

    return jsonschema.validators.extend(validator_class, {"properties": set_defaults})


def _key_path(error: jsonschema.ValidationError) -> str:
    parts = [str(p) for p in error.absolute_path]
    return ".".join(parts) if parts else "(top level)"


#: Errors on a string that a number or boolean may mend: a wrong type, or no alternative of a oneOf
#: (``batch_size``: an integer or ``auto``).
COERCED = ("type", "oneOf")


def _coerce_cli_strings(config: dict[str, Any], validator: Any) -> None:
    """Turn strings into the numbers/booleans the schema wants, where they parse as such.

    Snakemake parses nested ``--config key={a: 1}`` values with YAML's base
    loader, so every scalar inside arrives as a string ('1', 'true').
    """
    for _ in range(1000):  # bounded: each pass fixes one value
        for error in validator.iter_errors(config):
            if error.validator not in COERCED or not isinstance(error.instance, str) or not error.absolute_path:
                continue
            value = yaml.safe_load(error.instance)
            wanted = {"type": error.validator_value} if error.validator == "type" else error.schema
            if isinstance(value, str) or not validator.evolve(schema=wanted).is_valid(value):
                continue
            *parents, last = error.absolute_path
            target = config
            for part in parents:
                target = target[part]
            target[last] = value
            break
        else:
            return


#: Top-level keys of earlier versions, and where their settings are now.
MOVED_KEYS = {"analysis": "its keys moved to `compare` (bootstrap_resamples, seed), `error_taxonomy` (was "
              "analysis.taxonomy) and `context.models` (was analysis.context_models)"}  # fmt: skip


def validate_config(config: dict[str, Any], schema: dict[str, Any] | None = None) -> dict[str, Any]:
    """Validate `config` in place against the schema and fill defaults.

    Raises `AlpacaflowError` with one line naming the offending key.
    """
    if not isinstance(config, dict):
        raise AlpacaflowError("config error: the config must be a mapping")
    for key, where in MOVED_KEYS.items():
        if key in config:
            raise AlpacaflowError(f"config error at '{key}': {where}")
    import jsonschema

    schema = schema if schema is not None else load_schema()
    validator_class = jsonschema.validators.validator_for(schema)
    validator = _set_defaults(validator_class)(schema)
    _coerce_cli_strings(config, validator)
    error = jsonschema.exceptions.best_match(validator.iter_errors(config))
    if error is not None:
        raise AlpacaflowError(f"config error at '{_key_path(error)}': {error.message}")
    return config


def defaults(section: str) -> Any:
    """The schema's defaults of one top-level key (e.g. ``generation``), as a config without it gets them."""
    return validate_config({"models": {"m": {"outputs": "m"}}})[section]


@functools.lru_cache(maxsize=1)
def default_prompt_date() -> str:
    """The schema's ``prompt_date``: the date chat prompts are rendered with unless a config says otherwise."""
    return str(load_schema()["properties"]["prompt_date"]["default"])  # read, not validated: no jsonschema needed


def prompt_date(config: dict[str, Any], entry: dict[str, Any]) -> str | None:
    """The date a model's chat or template prompts are rendered with (None for the Alpaca format).

    Its ``chat_template_kwargs.date_string`` where it sets one in the same
    form (``26 Jul 2024``), else the config's ``prompt_date``.
    """
    if entry["prompt_format"] == "alpaca":
        return None
    own = entry["chat_template_kwargs"].get("date_string")
    return own if isinstance(own, str) and parse_date(own) is not None else config["prompt_date"]


def parse_date(text: str) -> datetime.datetime | None:
    """A date written as ``26 Jul 2024`` (None when it is not one)."""
    try:
        return datetime.datetime.strptime(text, DATE_FORMAT)
    except ValueError:
        return None


def check_prompt_date(config: dict[str, Any]) -> None:
    """``prompt_date`` is a real calendar date (the schema checks its shape only)."""
    if parse_date(config["prompt_date"]) is None:
        raise AlpacaflowError(
            f"config error at 'prompt_date': {config['prompt_date']!r} is not a date written as "
            f"{datetime.datetime(2024, 7, 26):{DATE_FORMAT}} (day, month abbreviation, year)"
        )


def looks_local(path: str) -> bool:
    """True when `path` names a local folder rather than a hub model id."""
    if path.startswith(("/", "./", "../", "~")) or Path(path).expanduser().exists():
        return True
    return path.count("/") > 1


#: The annotate step's pair of judge validation: its "model" (results/validation/ holds its annotations) and
#: its reference (the pair's outputs file holds the published official annotations).
VALIDATION, OFFICIAL_REFERENCE = "validation", "official"
#: The name of every benchmark beside AlpacaEval starts so (``arena_hard-v0.1``; `benchmarks`).
BENCHMARK_PREFIX = "arena_hard-"
#: AlpacaEval 2.0's benchmark name (``benchmarks:``); its pairs and files are the prompt set's (results/<model>/).
ALPACA_EVAL = "alpaca_eval"
#: MT-Bench's benchmark name: its folder under results_dir (and each model's), the leaderboard's ``benchmark``.
MT_BENCH = "mt_bench"
#: Folders of results_dir that hold something other than a model's results: no model may be named so.
RESERVED_NAMES = (
    VALIDATION,
    "logs",
    "benchmarks",
    "figures",
    "sweeps",
    "downloads",
    "tracking",
    "official",
    "leaderboards",
)


def check_models(config: dict[str, Any]) -> None:
    """Each model names exactly one of `path` / `outputs`, and local files exist."""
    for key, entry in config["models"].items():
        if key in RESERVED_NAMES:
            raise AlpacaflowError(
                f"config error at 'models.{key}': {key} is a folder of results_dir for other results "
                f"({', '.join(RESERVED_NAMES)} are reserved); name the model otherwise"
            )
        has_path, has_outputs = "path" in entry, "outputs" in entry
        if has_path == has_outputs:
            raise AlpacaflowError(
                f"config error at 'models.{key}': give exactly one of 'path' (a model) "
                "or 'outputs' (existing model_outputs.json)"
            )
        if has_outputs and not Path(entry["outputs"]).is_file():
            raise AlpacaflowError(f"config error at 'models.{key}.outputs': file not found: {entry['outputs']}")
        for version, path in entry.get("arena_hard_outputs", {}).items():
            if not Path(path).is_file():
                raise AlpacaflowError(f"config error at 'models.{key}.arena_hard_outputs.{version}': file not found: "
                                      f"{path}")  # fmt: skip
        if has_path and looks_local(entry["path"]) and not Path(entry["path"]).expanduser().is_dir():
            raise AlpacaflowError(f"config error at 'models.{key}.path': model folder not found: {entry['path']}")
        if has_path:
            check_prompt_settings(key, entry)
            check_parallel(key, model_settings(config, key)["generation"])


def check_prompt_settings(key: str, entry: dict[str, Any]) -> None:
    """`template` goes with prompt_format `template` (and its file exists); the Alpaca format has no chat options."""
    fmt, template = entry["prompt_format"], entry["template"]  # defaults filled by the schema
    if fmt == "template" and not template:
        raise AlpacaflowError(
            f"config error at 'models.{key}.template': prompt_format 'template' needs a template file"
        )
    if fmt != "template" and template:
        raise AlpacaflowError(
            f"config error at 'models.{key}.template': a template file is used only with prompt_format 'template'"
        )
    if template and not Path(template).expanduser().is_file():
        raise AlpacaflowError(f"config error at 'models.{key}.template': file not found: {template}")
    if fmt == "alpaca":
        for option in ("system_prompt", "chat_template_kwargs"):
            if entry[option]:
                raise AlpacaflowError(
                    f"config error at 'models.{key}.{option}': the alpaca format has no chat template or system "
                    "message; use prompt_format 'chat' or 'template'"
                )


def check_parallel(key: str, generation: dict[str, Any]) -> None:
    """Tensor parallelism is vLLM's, on GPUs."""
    size = generation["tensor_parallel_size"]
    if size > 1 and (generation["backend"] != "vllm" or generation["device"] != "cuda"):
        raise AlpacaflowError(
            f"config error at 'models.{key}.generation.tensor_parallel_size': {size} GPUs need backend vllm and "
            f"device cuda (this model has {generation['backend']} on {generation['device']})"
        )


#: The `references` entry for the prompt set's own reference outputs.
PROMPT_REFERENCE = "prompts"


def check_references(config: dict[str, Any]) -> None:
    """`references`: ``prompts`` first, then model keys (sweep checkpoints included)."""
    references = config["references"]
    if references[0] != PROMPT_REFERENCE:
        raise AlpacaflowError(
            f"config error at 'references': the first entry must be {PROMPT_REFERENCE} (the prompt set's own "
            f"references, which the leaderboard, comparisons and error samples use), got {references[0]!r}"
        )
    for name in references[1:]:
        if name not in config["models"]:
            raise AlpacaflowError(
                f"config error at 'references': no model named {name!r}; configured models: "
                f"{', '.join(config['models'])}"
            )


def judged_pairs(config: dict[str, Any]) -> list[tuple[str, str]]:
    """Every (model, reference) the judge compares: each model against the prompt set, then head to head.

    A model is never judged against itself; none without alpaca_eval in ``benchmarks``.
    """
    if ALPACA_EVAL not in config.get("benchmarks", [ALPACA_EVAL]):
        return []
    models = list(config["models"])
    pairs = [(model, PROMPT_REFERENCE) for model in models]
    for reference in config["references"][1:]:
        pairs += [(model, reference) for model in models if model != reference]
    return pairs


def is_benchmark(reference: str) -> bool:
    """Whether a pair's reference is a benchmark's (Arena-Hard's ``arena_hard-<v>[/vs_<model>]``, ``mt_bench``)."""
    return reference.startswith(BENCHMARK_PREFIX) or reference == MT_BENCH


def annotation_folder(results: str, model: str, reference: str) -> str:
    """Where a pair's annotations (and judge cache) live.

    results/{model} against the prompt set, results/{model}/vs_{reference}
    head to head, results/validation for judge validation's official pairs,
    results/{model}/arena_hard-<v> (or results/{model}/mt_bench) for a benchmark's.
    """
    if reference == OFFICIAL_REFERENCE:
        return f"{results}/{VALIDATION}"
    if is_benchmark(reference):
        return f"{results}/{model}/{reference}"
    return f"{results}/{model}" if reference == PROMPT_REFERENCE else f"{results}/{model}/vs_{reference}"


def check_config(config: dict[str, Any]) -> dict[str, Any]:
    """Full load-time check: schema, defaults, sweeps expanded into models, model entries, references."""
    validate_config(config)
    check_prompt_date(config)
    expand_sweeps(config)
    check_models(config)
    check_references(config)
    return config


def model_settings(config: dict[str, Any], model: str) -> dict[str, Any]:
    """Everything that determines a model's generations, fully resolved.

    For an `outputs` entry this is just the outputs path.
    """
    if model not in config["models"]:
        known = ", ".join(sorted(config["models"]))
        raise AlpacaflowError(f"unknown model '{model}'; configured models: {known}")
    entry = config["models"][model]
    if "outputs" in entry:
        return {"model": model, "outputs": entry["outputs"]}
    generation = {**config["generation"], **entry.get("generation", {})}  # defaults filled by the schema
    return {
        "model": model,
        "path": entry["path"],
        "revision": entry["revision"],
        **{key: entry[key] for key in PROMPT_KEYS},
        "prompt_date": prompt_date(config, entry),
        "generation": generation,
    }


def downloads(config: dict[str, Any]) -> dict[str, tuple[str, str | None]]:
    """Hub models to snapshot before any job runs: download name -> (repo id, revision).

    Names are model keys, and ``_judge`` for a local vLLM judge (model keys
    cannot start with an underscore).
    """
    wanted = {
        key: (entry["path"], entry.get("revision"))
        for key, entry in config["models"].items()
        if "path" in entry and not looks_local(entry["path"])
    }
    judge = config.get("judge", {})
    if judge.get("backend") == "vllm" and not looks_local(judge["model"]):
        wanted["_judge"] = (judge["model"], judge.get("revision"))
    return wanted


def gpus_for(settings: dict[str, Any]) -> int:
    """GPUs a generate job needs: its tensor-parallel size on cuda, 0 on CPU or for imported outputs."""
    generation = settings.get("generation")
    return generation["tensor_parallel_size"] if generation is not None and generation["device"] == "cuda" else 0
