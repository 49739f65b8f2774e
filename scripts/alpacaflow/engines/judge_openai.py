"""The OpenAI API judge: the official AlpacaEval 2.0 judge ``weighted_alpaca_eval_gpt4_turbo``.

alpaca_eval's ``openai_completions`` decodes, with the configuration
alpaca_eval ships for that judge (``judge.openai_model`` and
``judge.base_url`` swapped in). What is specific to the API lives here: the
key comes from ``OPENAI_API_KEY`` only and is checked before any work
(`require_openai_key`), a cost estimate is printed before the calls
(`estimate_openai_cost`; tiktoken's count when its encoding is available,
else characters / 4, and it says which), and API errors become one line
(`api_error`) with the key never in it. `ReportedModels` keeps, per
judgment, the model the API says answered (``gpt-4-turbo-2024-04-09`` for
``gpt-4-turbo``), which alpaca_eval's decoder drops.
"""

from __future__ import annotations

import json
import os
import threading
from typing import Any

import pandas as pd
import yaml

from ..errors import AlpacaflowError
from ..judge_prompts import render
from ..judge_settings import WEIGHTED_SOURCE, alpaca_eval_template, evaluators_dir
from ..secrets import redact

#: USD per 1M tokens (input, output) for the cost estimate of the OpenAI judge.
OPENAI_PRICES = {"gpt-4-1106-preview": (10.0, 30.0), "gpt-4-turbo": (10.0, 30.0), "gpt-4o": (2.5, 10.0),
                 "gpt-4.1": (2.0, 8.0)}  # fmt: skip


def annotator_config(judge: dict[str, Any]) -> tuple[dict[str, Any], str, Any]:
    """(alpaca_eval annotator config, its prompt template text, the decoder) of the OpenAI judge."""
    source = yaml.safe_load((evaluators_dir() / WEIGHTED_SOURCE / "configs.yaml").read_text(encoding="utf-8"))
    config = {k: v for k, v in source[WEIGHTED_SOURCE].items() if k != "fn_completions"}  # the decoder is ours
    kwargs = dict(
        config["completions_kwargs"],
        model_name=judge["openai_model"],
        client_kwargs={"max_retries": judge["api_max_retries"]},
    )
    if judge.get("base_url"):
        kwargs["openai_api_base"] = judge["base_url"]
    config["completions_kwargs"] = kwargs
    return config, alpaca_eval_template(WEIGHTED_SOURCE), ReportedModels()


class ReportedModels:
    """`fn_completions` of the OpenAI judge: alpaca_eval's ``openai_completions``, plus each response's model.

    The model an API answers with can differ from the one asked for (a
    dated snapshot behind an alias, a server that serves something else);
    alpaca_eval keeps only the choices. An httpx response hook on the
    client it builds (``client_kwargs``) reads each response's ``model`` and
    the request's messages; every completion returned gets the model that
    answered its prompt as ``reported_model`` (alpaca_eval stores it with
    the judgment as ``preference_reported_model``).
    """

    def __init__(self) -> None:
        self.seen: dict[str, str] = {}  # request messages (JSON) -> the model the response reported
        self.lock = threading.Lock()

    def _record(self, response: Any) -> None:
        if response.status_code != 200:
            return
        response.read()
        try:
            model = json.loads(response.content).get("model")
            messages = json.loads(response.request.content).get("messages")
        except (ValueError, AttributeError):
            return
        if isinstance(model, str):
            with self.lock:
                self.seen[json.dumps(messages, sort_keys=True)] = model

    def _model_of(self, prompt: str, is_strip: bool) -> str | None:
        """The reported model of one prompt: its request's messages as alpaca_eval builds them."""
        from alpaca_eval.utils import prompt_to_chatml

        messages = prompt_to_chatml(prompt.strip() if is_strip else prompt)
        found = self.seen.get(json.dumps(messages, sort_keys=True))
        if found is None and len(set(self.seen.values())) == 1:  # one model answered everything
            found = next(iter(self.seen.values()))
        return found

    def __call__(self, prompts: list[str], **kwargs: Any) -> dict[str, Any]:
        import openai
        from alpaca_eval.decoders.openai import openai_completions

        client_kwargs = dict(kwargs.pop("client_kwargs", None) or {})
        with openai.DefaultHttpxClient(event_hooks={"response": [self._record]}) as http:
            out = openai_completions(prompts=prompts, client_kwargs={**client_kwargs, "http_client": http}, **kwargs)
        if isinstance(out, dict):  # alpaca_eval answers no prompts with an empty list
            out["reported_model"] = [self._model_of(p, kwargs.get("is_strip", True)) for p in prompts]
        return out

    def close(self) -> None:
        """Nothing to stop: each call's HTTP client is closed when the call returns."""


def _input_tokens(texts: list[str], model: str) -> tuple[int, str]:
    """Tokens of `texts`: tiktoken's count when its encoding is available, else characters / 4 (and which)."""
    try:
        import tiktoken

        encoding = tiktoken.encoding_for_model(model)
        return sum(len(encoding.encode(t)) for t in texts), "tiktoken"
    except Exception:  # no encoding offline (tiktoken downloads it on first use), unknown model, or no tiktoken
        return sum(len(t) for t in texts) // 4, "characters/4 estimate (tiktoken encoding unavailable)"


def _cost_line(what: str, texts: list[str], n_out: int, judge: dict[str, Any]) -> str:
    n_in, method = _input_tokens(texts, judge["openai_model"])
    price_in, price_out = OPENAI_PRICES.get(judge["openai_model"], (10.0, 30.0))
    cost = n_in / 1e6 * price_in + n_out / 1e6 * price_out
    return (
        f"cost estimate for {what} with {judge['openai_model']}: ~{n_in} input + {n_out} output "
        f"tokens = ~${cost:.2f} (token count: {method}; prices ${price_in}/${price_out} per 1M)"
    )


def estimate_openai_cost(pairs: pd.DataFrame, judge: dict[str, Any]) -> str:
    """One line: the estimated cost of judging `pairs` with the OpenAI judge (one output token each)."""
    template = alpaca_eval_template(WEIGHTED_SOURCE)
    texts = [render(template, r.instruction, r.output_1, r.output_2) for r in pairs.itertuples()]
    return _cost_line(f"{len(texts)} judgments", texts, len(texts), judge)


def chat_cost_line(conversations: list[list[dict[str, str]]], judge: dict[str, Any], max_tokens: int) -> str:
    """One line: at most what the Arena-Hard games cost (each may write up to `max_tokens`)."""
    texts = ["\n".join(m["content"] for m in c) for c in conversations]
    return _cost_line(f"{len(texts)} Arena-Hard games (at most)", texts, len(texts) * max_tokens, judge)


def check_ready(judge: dict[str, Any]) -> None:
    """Before any work: the key is set."""
    require_openai_key()


def cost_line(pairs: pd.DataFrame, judge: dict[str, Any]) -> str:
    """The line printed before the calls: what judging `pairs` will cost."""
    return estimate_openai_cost(pairs, judge)


def failure(exc: Exception) -> str | None:
    """One line for an API error that stops judging (None for anything else, which is a bug to show)."""
    return api_error(exc) if is_api_error(exc) else None


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


def chat(decoder: Any, judge: dict[str, Any], conversations: list[list[dict[str, str]]], *, max_tokens: int,
         temperature: float) -> list[tuple[str, str | None]]:  # fmt: skip
    """Free-text answers of the API judge (Arena-Hard games): (text, the model the response reported) each.

    Messages go to the chat-completions endpoint as they are (no text
    round trip that a leaked ``<|im_end|>`` in an answer could break), from
    ``OPENAI_MAX_CONCURRENCY`` threads (default 2); the client retries rate
    limits and server errors ``judge.api_max_retries`` times.
    """
    from concurrent.futures import ThreadPoolExecutor

    import openai

    client = openai.OpenAI(base_url=judge.get("base_url") or None, max_retries=judge["api_max_retries"])

    def one(messages: list[dict[str, str]]) -> tuple[str, str | None]:
        response = client.chat.completions.create(model=judge["openai_model"], messages=messages,
                                                  temperature=temperature, max_tokens=max_tokens)  # fmt: skip
        return response.choices[0].message.content or "", response.model

    with ThreadPoolExecutor(max_workers=int(os.environ.get("OPENAI_MAX_CONCURRENCY", "2"))) as pool:
        return list(pool.map(one, conversations))
