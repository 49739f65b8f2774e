"""Judge settings: the annotator name, config checks, GPU count, and the judge's identity and cache key.

Kept apart from `judge` (which loads alpaca_eval and vLLM) so that the
Snakefile and the report can use them cheaply.

A judgment is reused only from a judge that would make it again: its cache
file (`cache_file`) is named by `cache_key`, a hash of

* the settings that change a judgment (`NOT_IN_CACHE_KEY` aside: checkpoints,
  retries, the audit's size), decoding included;
* the judge's identity (`judge_identity`): a local judge folder's fingerprint
  or the hub commit download_model resolved (`weights.weights_identity`, as
  for models), or an API judge's configured model and ``base_url``;
* the SHA-256 of the prompt template alpaca_eval ships for the judge's method
  (`template_sha256`), read without importing alpaca_eval.

Rewriting a judge's weights in place therefore starts a new cache (every pair
is judged again), and going back to the old weights finds the old one.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
from pathlib import Path
from typing import Any

import yaml

from .config import looks_local
from .errors import AlpacaflowError
from .weights import weights_identity

WEIGHTED_SOURCE = "weighted_alpaca_eval_gpt4_turbo"
#: The ranking template alpaca_eval ships for ``alpaca_eval_vllm_llama3_70b_fn`` (the course judge's prompt).
RANKING_SOURCE = "alpaca_eval_vllm_llama3_70b_fn"
COURSE_RANKING_NAME = "alpaca_eval_vllm_llama3_3_70b_fn"
COURSE_JUDGE = "meta-llama/Llama-3.3-70B-Instruct"
#: Where the OpenAI client sends requests when ``judge.base_url`` is null.
OPENAI_DEFAULT_BASE = "https://api.openai.com/v1"


def judge_name(judge: dict[str, Any]) -> str:
    """The annotator name written into every annotation (and keyed on by the cache)."""
    if judge.get("name"):
        return judge["name"]
    if judge["backend"] == "openai":
        return WEIGHTED_SOURCE if judge["openai_model"] == "gpt-4-1106-preview" else f"weighted_{judge['openai_model']}"
    if judge["method"] == "ranking" and judge["model"] == COURSE_JUDGE:
        return COURSE_RANKING_NAME
    slug = Path(judge["model"].rstrip("/")).name.lower().replace("-", "_").replace(".", "_")
    return f"{'weighted_alpaca_eval' if judge['method'] == 'weighted' else 'alpaca_eval'}_vllm_{slug}"


def check_judge(judge: dict[str, Any]) -> None:
    """Combinations the schema cannot express, and a local judge folder that is missing."""
    if judge["backend"] == "vllm" and looks_local(judge["model"]) and not Path(judge["model"]).expanduser().is_dir():
        raise AlpacaflowError(f"config error at 'judge.model': model folder not found: {judge['model']}")
    if judge["backend"] == "openai" and judge["method"] != "weighted":
        raise AlpacaflowError(
            "config error at 'judge.method': the openai backend runs weighted_alpaca_eval_gpt4_turbo; "
            "use method: weighted"
        )


def judge_gpus(judge: dict[str, Any]) -> int:
    """GPUs an annotate job needs: the tensor-parallel size for a local CUDA judge, else 0."""
    if judge["backend"] == "vllm" and judge["device"] == "cuda":
        return int(judge["tensor_parallel_size"])
    return 0


#: Judge settings that never change a cached (parsed) judgment.
NOT_IN_CACHE_KEY = {"checkpoint_every", "parse_retries", "retry_temperature", "api_max_retries", "audit"}


def _kept(judge: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in judge.items() if k not in NOT_IN_CACHE_KEY}


def settings_hash(judge: dict[str, Any]) -> str:
    """Short hash of the settings that change a judgment (the judge's identity aside)."""
    return hashlib.sha256(json.dumps(_kept(judge), sort_keys=True).encode()).hexdigest()[:10]


def evaluators_dir() -> Path:
    """alpaca_eval's ``evaluators_configs`` folder, found without importing alpaca_eval (seconds)."""
    spec = importlib.util.find_spec("alpaca_eval")
    if spec is None or not spec.submodule_search_locations:
        raise AlpacaflowError("alpaca_eval is not installed")
    return Path(next(iter(spec.submodule_search_locations))) / "evaluators_configs"


def template_source(judge: dict[str, Any]) -> str:
    """The alpaca_eval annotator config whose prompt template the judge is given."""
    return RANKING_SOURCE if judge["method"] == "ranking" else WEIGHTED_SOURCE


def alpaca_eval_template(config_name: str) -> str:
    """The prompt template text that alpaca_eval ships for one of its annotator configs."""
    folder = evaluators_dir()
    config = yaml.safe_load((folder / config_name / "configs.yaml").read_text(encoding="utf-8"))
    return (folder / config[config_name]["prompt_template"]).read_text(encoding="utf-8")


def template_sha256(judge: dict[str, Any]) -> str:
    """SHA-256 of the prompt template alpaca_eval ships for the judge's method (an annotate rerun trigger)."""
    return hashlib.sha256(alpaca_eval_template(template_source(judge)).encode()).hexdigest()


def judge_identity(judge: dict[str, Any], manifest: str | Path | None = None) -> dict[str, str]:
    """What identifies the judge: a local folder's fingerprint, a hub repo and commit, or an API model and URL.

    `manifest` is download_model's record of a hub judge (its commit is what
    the judge loads); a local folder is fingerprinted now.
    """
    if judge["backend"] == "openai":
        return {"api_model": judge["openai_model"], "base_url": judge.get("base_url") or OPENAI_DEFAULT_BASE}
    return weights_identity({"path": judge["model"]}, manifest)


def identity_label(identity: dict[str, str]) -> str:
    """The identity in one short phrase, as annotations, the leaderboard and the history show it."""
    if "api_model" in identity:
        return f"{identity['api_model']} at {identity['base_url']}"
    if "commit" in identity:
        return f"{identity['repo']}@{identity['commit'][:12]}"
    return f"folder sha256:{identity['folder_sha256'][:16]}"


def cache_key(judge: dict[str, Any], identity: dict[str, str]) -> str:
    """Short hash of the settings that change a judgment, the judge's identity and its prompt template."""
    payload = {"settings": _kept(judge), "identity": identity, "template_sha256": template_sha256(judge)}
    return hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()[:12]


def cache_file(folder: str | Path, judge: dict[str, Any], identity: dict[str, str], kind: str = "") -> Path:
    """A pair's judge cache in its `folder`: ``<judge name>-<cache key>.json`` (`kind`: a prefix, e.g. ``audit``)."""
    prefix = f"{kind}-" if kind else ""
    return Path(folder) / f"{prefix}{judge_name(judge)}-{cache_key(judge, identity)}.json"
