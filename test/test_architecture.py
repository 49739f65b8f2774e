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


#: A benchmark named outside ``benchmarks/``: a string naming one (docstrings aside), or a constant for one.
BENCHMARK_WORD = r"\b(alpaca_eval|arena_hard|mt_bench|arena-hard|mt-bench)\b"
BENCHMARK_CONSTANTS = {"ALPACA_EVAL", "MT_BENCH", "ARENA", "ARENA_HARD"}
#: Where the library, the steps and the rules still name a benchmark (issue 39's goal: nowhere outside
#: ``benchmarks/``, configuration defaults and docs aside). The debt, exactly: a module that names one more time
#: fails, and one that names one less fails until its number here is lowered (or its line removed).
NAMED_BENCHMARKS = {
    "board.py": 8, "config.py": 8, "conversations.py": 3, "engines/judge_openai.py": 1, "engines/judge_vllm.py": 1,
    "findings.py": 10, "headlines.py": 13, "history_table.py": 1, "judge_settings.py": 3, "markdown.py": 3,
    "metrics/winrate.py": 1, "steps/annotate.py": 9, "steps/context.py": 1, "steps/download_benchmark.py": 1,
    "steps/download_mt_bench.py": 4, "steps/export_mt_bench.py": 1, "steps/history.py": 3, "steps/leaderboard.py": 8,
    "steps/plots.py": 3, "steps/report.py": 10, "steps/summary.py": 7, "steps/sweep.py": 6,
    "rules/annotate.smk": 6, "rules/common.smk": 44, "rules/download_benchmark.smk": 6,
    "rules/download_mt_bench.smk": 14, "rules/export_arena.smk": 12, "rules/export_mt_bench.smk": 9,
    "rules/history.smk": 7, "rules/leaderboard.smk": 20, "rules/plots.smk": 3, "rules/report.smk": 7,
    "rules/summary.smk": 2, "Snakefile": 3,
}  # fmt: skip


def benchmark_mentions(tree: ast.Module) -> int:
    """Strings naming a benchmark (docstrings aside) and uses of a benchmark's constant, in one module."""
    import re

    docstrings = {
        id(node.body[0].value)
        for node in ast.walk(tree)
        if isinstance(node, (ast.Module, ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef))
        and node.body and isinstance(node.body[0], ast.Expr) and isinstance(node.body[0].value, ast.Constant)
    }  # fmt: skip
    count = 0
    for node in ast.walk(tree):
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in docstrings:
            count += bool(re.search(BENCHMARK_WORD, node.value, re.I))
        elif isinstance(node, ast.Name) and node.id in BENCHMARK_CONSTANTS:
            count += 1
        elif isinstance(node, ast.alias) and node.name in BENCHMARK_CONSTANTS:
            count += 1
    return count


def rule_mentions(path) -> int:
    """Lines of a rule file (comments aside) naming a benchmark or using a benchmark's constant."""
    import re

    pattern = re.compile(BENCHMARK_WORD + "|ALPACA_EVAL|MT_BENCH|ARENA", re.I)
    lines = [line for line in path.read_text().splitlines() if not line.lstrip().startswith("#")]
    return sum(bool(pattern.search(line)) for line in lines)


def test_benchmarks_are_named_only_where_the_known_debt_says():
    found = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        rel = path.relative_to(PACKAGE).as_posix()
        if rel.split("/")[0] in ("benchmarks", "testing"):
            continue  # a benchmark's own package; the fixtures
        if count := benchmark_mentions(ast.parse(path.read_text(encoding="utf-8"))):
            found[rel] = count
    for path in [*sorted((REPO / "rules").glob("*.smk")), REPO / "Snakefile"]:
        if count := rule_mentions(path):
            found[path.relative_to(REPO).as_posix()] = count
    grown = {k: v for k, v in found.items() if v > NAMED_BENCHMARKS.get(k, 0)}
    assert not grown, f"these name a benchmark outside benchmarks/ more than before (move it into its package): {grown}"
    shrunk = {k: found.get(k, 0) for k, v in NAMED_BENCHMARKS.items() if found.get(k, 0) < v}
    assert not shrunk, f"less debt than NAMED_BENCHMARKS says: lower these to {shrunk}"


def test_no_module_outside_benchmarks_is_named_after_a_benchmark():
    import re

    for path in PACKAGE.rglob("*.py"):
        rel = path.relative_to(PACKAGE)
        if rel.parts[0] != "benchmarks" and rel.parts[0] != "metrics":  # metrics/ is the library they call
            assert not re.fullmatch(r"(alpaca_eval|arena\w*|mt_\w+)", path.stem), f"{rel}: move it into benchmarks/"
