"""The OpenAI API judge: the official AlpacaEval 2.0 judge ``weighted_alpaca_eval_gpt4_turbo``.

alpaca_eval's ``openai_completions`` decodes, with the configuration
alpaca_eval ships for that judge (``judge.openai_model`` and
``judge.base_url`` swapped in). What is specific to the API lives here: the
key comes from ``OPENAI_API_KEY`` only and is checked before any work
(`require_openai_key`), a cost estimate is printed before the calls
(`estimate_openai_cost`; tiktoken's count when its encoding is available,
else characters / 4, and it says which), and API errors become one line
(`api_error`) with the key never in it.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pandas as pd
import yaml

from ..errors import AlpacaflowError
from ..judge_prompts import alpaca_eval_template, render
from ..judge_settings import WEIGHTED_SOURCE
from ..secrets import redact

#: USD per 1M tokens (input, output) for the cost estimate of the OpenAI judge.
OPENAI_PRICES = {"gpt-4-1106-preview": (10.0, 30.0), "gpt-4-turbo": (10.0, 30.0), "gpt-4o": (2.5, 10.0)}


def annotator_config(judge: dict[str, Any]) -> tuple[dict[str, Any], str, dict[str, Any]]:
    """(alpaca_eval annotator config, its prompt template text, extra SingleAnnotator kwargs) of the OpenAI judge."""
    from alpaca_eval import constants

    source = yaml.safe_load((Path(constants.EVALUATORS_CONFIG_DIR) / WEIGHTED_SOURCE / "configs.yaml").read_text())
    config = dict(source[WEIGHTED_SOURCE])
    kwargs = dict(
        config["completions_kwargs"],
        model_name=judge["openai_model"],
        client_kwargs={"max_retries": judge["api_max_retries"]},
    )
    if judge.get("base_url"):
        kwargs["openai_api_base"] = judge["base_url"]
    config["completions_kwargs"] = kwargs
    return config, alpaca_eval_template(WEIGHTED_SOURCE), {}


def estimate_openai_cost(pairs: pd.DataFrame, judge: dict[str, Any]) -> str:
    """One line: the estimated cost of judging `pairs` with the OpenAI judge.

    Tokens are counted with tiktoken when its encoding is available, else
    estimated as characters / 4 (tiktoken downloads its encodings on first use).
    """
    template = alpaca_eval_template(WEIGHTED_SOURCE)
    texts = [render(template, r.instruction, r.output_1, r.output_2) for r in pairs.itertuples()]
    method = "tiktoken"
    try:
        import tiktoken

        encoding = tiktoken.encoding_for_model(judge["openai_model"])
        n_in = sum(len(encoding.encode(t)) for t in texts)
    except Exception:  # no encoding offline, unknown model, or no tiktoken
        method = "characters/4 estimate (tiktoken encoding unavailable)"
        n_in = sum(len(t) for t in texts) // 4
    n_out = len(texts)
    price_in, price_out = OPENAI_PRICES.get(judge["openai_model"], (10.0, 30.0))
    cost = n_in / 1e6 * price_in + n_out / 1e6 * price_out
    return (
        f"cost estimate for {len(texts)} judgments with {judge['openai_model']}: ~{n_in} input + {n_out} output "
        f"tokens = ~${cost:.2f} (token count: {method}; prices ${price_in}/${price_out} per 1M)"
    )


def require_openai_key() -> None:
    """Fail before any work when the OpenAI judge has no key (the key itself is never printed)."""
    if not os.environ.get("OPENAI_API_KEY", "").strip():
        raise AlpacaflowError("judge.backend is openai but OPENAI_API_KEY is not set in the environment")


def api_error(exc: Exception) -> str:
    """One line for an OpenAI API error (the key is never in it: see `secrets`)."""
    status = getattr(exc, "status_code", None)
    body = getattr(exc, "body", None)
    code = body.get("code") if isinstance(body, dict) else None
    if code == "insufficient_quota":
        return "OpenAI API quota exhausted (insufficient_quota): add credit or use another key"
    message = (body.get("message") if isinstance(body, dict) else None) or str(exc)
    first = redact(str(message).strip().splitlines()[0] if str(message).strip() else type(exc).__name__)
    return f"OpenAI API error{f' {status}' if status else ''} ({type(exc).__name__}): {first[:200]}"


def is_api_error(exc: Exception) -> bool:
    """An exception raised by the ``openai`` client library."""
    return type(exc).__module__.split(".")[0] == "openai"
