"""Steps over a library: the package's layers, read from the code (ast), not run.

``scripts/alpacaflow/steps/`` holds exactly the workflow steps (one module per
rule, ``cli.STEPS``); everything else is library: shared code (``board``,
``findings``, ``markdown``, ``judge``, ...), ``metrics/`` (every number the
steps print), ``engines/`` (generation backends and judge decoders, chosen
from registries) and ``testing/`` (the test and demo fixtures). A step never
imports another step, the library never imports a step, no runtime module
imports a fixture, the modules import each other without cycles, and none
is over 400 lines.
"""

from __future__ import annotations

import ast
import importlib

import pytest
from alpacaflow.cli import STEPS
from conftest import REPO

PACKAGE = REPO / "scripts" / "alpacaflow"
MAX_LINES = 400


def modules() -> dict[str, ast.Module]:
    """Every module of the package by dotted name inside it (a package by its own name), parsed."""
    found = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        parts = list(path.relative_to(PACKAGE).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts = parts[:-1]
        found[".".join(parts)] = ast.parse(path.read_text(encoding="utf-8"))
    return found


def is_package(name: str) -> bool:
    return (PACKAGE.joinpath(*name.split(".")) / "__init__.py").is_file() if name else True


def imported(name: str, tree: ast.Module, known: set[str]) -> set[str]:
    """The package's modules that `name` imports anywhere (module level or inside a function)."""
    here = name.split(".") if is_package(name) else name.split(".")[:-1]
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            bases = [a.name.split(".")[1:] for a in node.names if a.name.split(".")[0] == "alpacaflow"]
            found |= {".".join(b) for b in bases}
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = here[: len(here) - (node.level - 1)] + (node.module.split(".") if node.module else [])
            elif (node.module or "").split(".")[0] == "alpacaflow":
                base = node.module.split(".")[1:]
            else:
                continue
            for alias in node.names:  # `from .pkg import module` imports the module; a name imports its module
                dotted = ".".join([*base, alias.name])
                found.add(dotted if dotted in known else ".".join(base))
    return {m for m in found if m in known and m != name}


def layer(name: str) -> str:
    return name.split(".")[0] if name.split(".")[0] in ("steps", "testing") else "library"


@pytest.fixture(scope="module")
def graph() -> dict[str, set[str]]:
    trees = modules()
    return {name: imported(name, tree, set(trees)) for name, tree in trees.items()}


def test_the_steps_folder_holds_exactly_the_steps():
    assert sorted(p.stem for p in (PACKAGE / "steps").glob("*.py") if p.stem != "__init__") == sorted(STEPS)


def test_a_step_never_imports_a_step_and_the_library_never_imports_one(graph):
    up = {(a, b) for a, targets in graph.items() for b in targets if layer(b) == "steps"}
    assert not up, f"imports of a step module (steps sit on top of the library): {sorted(up)}"


def test_no_runtime_module_imports_a_fixture(graph):
    found = {(a, b) for a, targets in graph.items() for b in targets if layer(b) == "testing" and layer(a) != "testing"}
    assert not found, f"steps and library import the test fixtures: {sorted(found)}"


def test_modules_import_each_other_without_cycles(graph):
    state: dict[str, int] = {}

    def visit(name: str, path: list[str]) -> None:
        state[name] = 1
        for other in sorted(graph[name]):
            if state.get(other) == 1:
                pytest.fail(f"import cycle: {' -> '.join([*path[path.index(other) :], other])}")
            if other not in state:
                visit(other, [*path, other])
        state[name] = 2

    for name in sorted(graph):
        if name not in state:
            visit(name, [name])


def test_no_module_is_over_400_lines():
    long = {str(p.relative_to(PACKAGE)): n for p in PACKAGE.rglob("*.py")
            if (n := len(p.read_text(encoding="utf-8").splitlines())) > MAX_LINES}  # fmt: skip
    assert not long, f"modules over {MAX_LINES} lines: {long}"


def test_every_registered_engine_exists():
    from alpacaflow.engines import GENERATORS, JUDGES

    for entry in GENERATORS.values():
        module, cls = entry.split(":")
        engine = getattr(importlib.import_module(f"alpacaflow.engines.{module}"), cls)
        assert callable(engine.generate) and callable(engine.close)
    for module in JUDGES.values():
        judge = importlib.import_module(f"alpacaflow.engines.{module}")
        for hook in ("annotator_config", "check_ready", "cost_line", "failure", "chat", "chat_cost_line"):
            assert callable(getattr(judge, hook)), f"engines.{module} lacks {hook}"


def test_the_readmes_map_names_every_module():
    """The one-screen map in docs/layout.md: every folder and module of the package, and nothing that is not there."""
    import re

    readme = (REPO / "docs" / "layout.md").read_text(encoding="utf-8")
    block = readme.split("**The package, on one screen.**")[1].split("```")[1]
    files = [p for p in PACKAGE.rglob("*.py") if p.stem not in ("__init__", "__main__")]
    for path in files:
        rel = path.relative_to(PACKAGE)
        name = rel.name if len(rel.parts) == 1 else rel.stem
        if rel.parts[0] == "steps":
            continue  # the steps are the layout table's, one line each
        assert re.search(rf"\b{re.escape(name)}\b", block), f"the README's map does not name {rel}"
    for folder in ("steps/", "metrics/", "engines/", "testing/", "benchmarks/"):
        assert folder in block
    named = set(re.findall(r"\b(\w+)\.py\b", block))
    assert named <= {p.stem for p in files}, (
        f"the map names modules that do not exist: {named - {p.stem for p in files}}"
    )
