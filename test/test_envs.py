"""envs/: every conda env file parses and lists every top-level package its rules import.

Imports are read from the code, not run: each rule's `conda:` file and
step (its `step_command`) come from rules/*.smk; the step runs the module
of its name (cli.py loads it); the alpacaflow modules it imports (at module
level or inside functions) are followed; every third-party import written
anywhere in those modules must be installable from the env file.
No conda channel is reachable here, so the envs are not built.
"""

from __future__ import annotations

import ast
import re
import sys
from pathlib import Path

import pytest
import yaml
from conftest import REPO

PACKAGE = REPO / "scripts" / "alpacaflow"
#: import name -> distribution name, where they differ
DISTRIBUTIONS = {"yaml": "pyyaml", "sklearn": "scikit-learn"}


def rules() -> dict[str, tuple[str, str]]:
    """rule name -> (env file, alpacaflow step)."""
    found = {}
    for smk in (REPO / "rules").glob("*.smk"):
        for block in re.split(r"\n(?=rule )", smk.read_text()):
            name = re.match(r"rule (\w+):", block)
            if not name:
                continue
            env = re.search(r'conda:\s*\n\s*"([^"]+)"', block)
            step = re.search(r'step_command\(\s*"(\w+)"', block)
            assert env and step, f"rule {name.group(1)} lacks conda: or its alpacaflow step"
            found[name.group(1)] = ((smk.parent / env.group(1)).resolve().name, step.group(1))
    return found


def _file(parts: list[str]) -> Path | None:
    """The source file of the alpacaflow module `parts` (a module file or a package's __init__), if there is one."""
    for path in (PACKAGE.joinpath(*parts).with_suffix(".py"), PACKAGE.joinpath(*parts, "__init__.py")):
        if parts and path.is_file():
            return path
    return None


def _imports(module: str) -> tuple[set[str], set[str]]:
    """(alpacaflow modules imported anywhere in it, every top-level third-party import name anywhere).

    Modules are dotted names inside the package (``engines.judge_vllm``).
    """
    path = _file(module.split("."))
    tree = ast.parse(path.read_text())
    package = module.split(".") if path.name == "__init__.py" else module.split(".")[:-1]
    local_top, every = set(), set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            every |= {a.name.split(".")[0] for a in node.names}
        elif isinstance(node, ast.ImportFrom) and not node.level:
            every.add((node.module or "").split(".")[0])
        elif isinstance(node, ast.ImportFrom):  # relative: alpacaflow modules, at module level or in a function
            base = package[: len(package) - (node.level - 1)] + (node.module.split(".") if node.module else [])
            for parts in [base] + [base + [a.name] for a in node.names]:
                if _file(parts):
                    local_top.add(".".join(parts))
    return local_top, every


def registered_engines(module: str) -> set[str]:
    """The engine modules `module` may run: a registry's, where it imports that registry's loader.

    Engines are imported by name when chosen, so no import statement shows them.
    """
    from alpacaflow.engines import GENERATORS, JUDGES

    text = _file(module.split(".")).read_text()
    loaders = {"load_generator": GENERATORS, "judge_engine": JUDGES}
    used = [registry for name, registry in loaders.items() if re.search(rf"from \.+engines import .*\b{name}\b", text)]
    return {f"engines.{entry.split(':')[0]}" for registry in used for entry in registry.values()}


def third_party(step: str) -> set[str]:
    """Third-party imports of `python -m alpacaflow <step>`: cli, the step's module and what they import.

    A module that imports a registry's loader may run any engine of that registry: all of them are followed.
    """
    todo, seen, needed = ["cli", f"steps.{step}"], set(), set()
    while todo:
        module = todo.pop()
        if module in seen:
            continue
        seen.add(module)
        local, every = _imports(module)
        todo += sorted(local | registered_engines(module))
        needed |= {n for n in every if n and n not in sys.stdlib_module_names and n != "alpacaflow"}
    return needed


def env_packages(name: str) -> set[str]:
    spec = yaml.safe_load((REPO / "envs" / name).read_text())
    packages = set()
    for dep in spec["dependencies"]:
        for item in dep["pip"] if isinstance(dep, dict) else [dep]:
            packages.add(re.split(r"[<>=!~ ]", item)[0].lower().replace("-", "_"))
    return packages


def test_every_rule_has_an_env_and_a_step():
    found = rules()
    expected = {"download_prompts", "download_benchmark", "download_mt_bench", "download_model", "generate", "annotate",
                "export_arena", "export_mt_bench",
                "leaderboard", "overview", "error_sample", "report", "compare", "error_taxonomy", "context", "plots",
                "fetch_official", "validate_judge", "sweep", "summary", "history", "track"}  # fmt: skip
    assert set(found) == expected


@pytest.mark.parametrize("rule", sorted(rules()))
def test_env_lists_what_the_rule_imports(rule):
    env, step = rules()[rule]
    have = env_packages(env)
    needed = {DISTRIBUTIONS.get(n, n).lower().replace("-", "_") for n in third_party(step)}
    assert needed, f"no imports found for {rule}"
    assert needed <= have, f"envs/{env} misses {sorted(needed - have)} imported by rule {rule}"
