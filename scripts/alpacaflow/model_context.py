"""How long a context a model's weights allow (its ``config.json``), checked against max_model_len before any engine.

vLLM refuses a ``max_model_len`` above the positions the model was built
for, but only once the engine is being configured, with a multi-line
pydantic error; the transformers backend does not refuse at all and decodes
past them into garbage. `check_max_model_len` says it first, in one line
naming the model, both numbers and the key to change. The positions are
derived as vLLM derives them (`positions`): the smallest of the config's
length keys, times the RoPE scaling factor for the rope types whose
``max_position_embeddings`` is not already scaled. ``VLLM_ALLOW_LONG_MAX_MODEL_LEN=1``
(vLLM's own override) turns the check off.

A local folder's ``config.json`` is read from the folder; a hub model's from
the Hugging Face cache, offline, once ``download_model`` has put it there
(before that, the check passes and runs again in the generate or annotate
job, after the download: `check_downloaded`).
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from .config import looks_local
from .errors import AlpacaflowError

#: The config keys vLLM reads a model's length from (the smallest present wins), in its order.
LENGTH_KEYS = ("max_position_embeddings", "n_positions", "max_seq_len", "seq_length", "model_max_length",
               "max_target_positions", "max_sequence_length", "max_seq_length", "seq_len")  # fmt: skip
#: RoPE types whose ``max_position_embeddings`` is already the scaled length (vLLM applies no factor to them).
PRESCALED_ROPE = ("su", "longrope", "llama3", "yarn", "deepseek_yarn", "deepseek_llama_scaling")
#: vLLM's own switch to allow a max_model_len above the model's positions.
ALLOW_LONG = "VLLM_ALLOW_LONG_MAX_MODEL_LEN"


def _rope_factor(config: dict[str, Any]) -> float:
    """The RoPE scaling factor vLLM multiplies the positions by (1 when none applies)."""
    layers = []
    for name in ("rope_parameters", "rope_scaling"):  # transformers 5's name, and 4's (which 5 merges into it)
        rope = config.get(name)
        if isinstance(rope, dict) and rope:
            layers += [p for p in rope.values() if isinstance(p, dict)] or [rope]  # per layer type, or one
    factor = 1.0
    for params in layers:
        kind = params.get("rope_type", params.get("type", "default"))
        if kind not in PRESCALED_ROPE and params.get("factor") is not None:
            factor = float(params["factor"])
    return factor


def positions(config: dict[str, Any]) -> tuple[int, str] | None:
    """The longest context `config` (a ``config.json``) allows, and where that number comes from; None if unknown."""
    text = config.get("text_config") if isinstance(config.get("text_config"), dict) else config
    found = {key: text[key] for key in LENGTH_KEYS if isinstance(text.get(key), int | float)}
    if not found:
        return None
    key = min(found, key=lambda k: found[k])
    if "model_max_length" in found:  # vLLM: Command-R's own key overrides the others
        key = "model_max_length"
    factor = 1.0 if config.get("model_type") == "gemma3" else _rope_factor(text)
    source = f"{key} {found[key]:g}" + (f" x RoPE factor {factor:g}" if factor != 1.0 else "")
    return int(found[key] * factor), source


def model_config(path: str, revision: str | None = None) -> dict[str, Any] | None:
    """A model's ``config.json``: from its folder, or a hub model's from the cache (offline); None if not at hand."""
    if looks_local(path):
        file: Path | None = Path(path).expanduser() / "config.json"
    else:
        from huggingface_hub import try_to_load_from_cache

        try:
            cached = try_to_load_from_cache(path, "config.json", revision=revision)
        except ValueError:  # not a valid repo id
            return None
        file = Path(cached) if isinstance(cached, str) else None
    if file is None or not file.is_file():
        return None
    try:
        data = json.loads(file.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError):
        return None  # the engine's loader says what is wrong with it
    return data if isinstance(data, dict) else None


def check_max_model_len(what: str, path: str, revision: str | None, max_model_len: int, key: str) -> None:
    """Stop when `max_model_len` (set at config `key`) exceeds the positions of the model at `path`.

    `what` names the model in the line ("model 'sft'", "the judge"). Passes
    when the config is not at hand yet or names no length, and when vLLM's
    ``VLLM_ALLOW_LONG_MAX_MODEL_LEN`` is set.
    """
    if os.environ.get(ALLOW_LONG, "").strip().lower() in ("1", "true"):
        return
    config = model_config(path, revision)
    found = positions(config) if config else None
    if found is None or max_model_len <= found[0]:
        return
    limit, source = found
    raise AlpacaflowError(
        f"config error at '{key}': {what} ({path}) allows {limit} positions (config.json: {source}), but "
        f"max_model_len is {max_model_len}: lower {key} to {limit} or less (or set {ALLOW_LONG}=1, as vLLM "
        "allows, if you know the model extrapolates)"
    )


def check_context_lengths(config: dict[str, Any]) -> None:
    """`check_max_model_len` for every model and judge a run starts (`benchmarks.context_settings`), at load time."""
    from .benchmarks import context_settings

    for what, path, revision, max_model_len, key in context_settings(config):
        check_max_model_len(what, path, revision, max_model_len, key)


def check_downloaded(what: str, path: str, revision: str | None, max_model_len: int, key: str) -> None:
    """`check_max_model_len` in a generate or annotate job, for a hub model (now in the cache) only.

    A local folder was checked when the workflow loaded, with the exact key that set the value.
    """
    if not looks_local(path):
        check_max_model_len(what, path, revision, max_model_len, key)
