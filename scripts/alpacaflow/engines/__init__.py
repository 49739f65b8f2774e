"""The engines: what generates outputs and what judges pairs, one module each, chosen by the config's backend name.

Two roles, one small interface each (`base`):

* a **generator** (the generate step): ``generate(requests, on_done)`` then
  ``close()``; ``generation.backend`` picks it from `GENERATORS`
  (`vllm_generate`, `transformers_generate`);
* a **judge** (the annotate step): its module's ``annotator_config(judge)``
  gives alpaca_eval's annotator configuration, the prompt template and the
  decoder, an ``fn_completions`` with ``close()``; ``judge.backend`` picks the
  module from `JUDGES` (`judge_vllm`, `judge_openai`).

`vllm_engine` configures every ``vllm.LLM`` (generation and judge alike).
Adding a backend is one new module here and one line in its registry (and
its name in the schema's enum). Modules are imported only when chosen, so
that a run without vLLM never imports it.
"""

from __future__ import annotations

import importlib
from types import ModuleType
from typing import Any

from ..errors import AlpacaflowError
from ..stopping import StopRules
from .base import Generator

#: generation.backend -> "module:class" of its generator (constructed with path, revision, generation, stop rules).
GENERATORS = {
    "vllm": "vllm_generate:VLLMBackend",
    "transformers": "transformers_generate:TransformersBackend",
}
#: judge.backend -> the module that configures that judge (``annotator_config``).
JUDGES = {
    "vllm": "judge_vllm",
    "openai": "judge_openai",
}


def _module(name: str) -> ModuleType:
    return importlib.import_module(f"{__name__}.{name}")


def load_generator(
    path: str, revision: str | None, generation: dict[str, Any], stop: StopRules, *, tokenizer: Any
) -> Generator:
    """The configured generator, its model loaded."""
    name = generation["backend"]
    if name not in GENERATORS:
        raise AlpacaflowError(f"unknown generation backend '{name}' (use one of {', '.join(GENERATORS)})")
    module, cls = GENERATORS[name].split(":")
    return getattr(_module(module), cls)(path, revision, generation, stop, tokenizer=tokenizer)


def judge_engine(judge: dict[str, Any]) -> ModuleType:
    """The module of the configured judge backend."""
    if judge["backend"] not in JUDGES:
        raise AlpacaflowError(f"unknown judge backend '{judge['backend']}' (use one of {', '.join(JUDGES)})")
    return _module(JUDGES[judge["backend"]])
