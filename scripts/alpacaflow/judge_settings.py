"""Judge settings: the annotator name, config checks and GPU count.

Kept apart from `judge` (which loads alpaca_eval and vLLM) so that the
Snakefile and the report can use them cheaply.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

from .config import looks_local
from .errors import AlpacaflowError

WEIGHTED_SOURCE = "weighted_alpaca_eval_gpt4_turbo"
COURSE_RANKING_NAME = "alpaca_eval_vllm_llama3_3_70b_fn"
COURSE_JUDGE = "meta-llama/Llama-3.3-70B-Instruct"


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
NOT_IN_CACHE_KEY = {"checkpoint_every", "parse_retries", "retry_temperature", "api_max_retries"}


def settings_hash(judge: dict[str, Any]) -> str:
    """Short hash of everything that changes a judgment (for the cache file name)."""
    kept = {k: v for k, v in judge.items() if k not in NOT_IN_CACHE_KEY}
    return hashlib.sha256(json.dumps(kept, sort_keys=True).encode()).hexdigest()[:10]
