"""envs/: every conda env file parses and lists every top-level package its rules import.

Imports are read from the code, not run: each rule's `conda:` file and
`python -m alpacaflow <step>` command come from rules/*.smk; the step's
handler in cli.py names the module it loads; the modules it pulls in at
module level are followed; every import written anywhere in those modules
(module level or inside functions) must be installable from the env file.
No conda channel is reachable here, so the envs are not built.
"""

from __future__ import annotations

import ast
import re
import sys

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
            step = re.search(r"python -m alpacaflow ([\w-]+)", block)
            assert env and step, f"rule {name.group(1)} lacks conda: or its alpacaflow step"
            found[name.group(1)] = ((smk.parent / env.group(1)).resolve().name, step.group(1))
    return found


def _imports(module: str) -> tuple[set[str], set[str]]:
    """(alpacaflow modules imported at module level, every top-level import name anywhere)."""
    tree = ast.parse((PACKAGE / f"{module}.py").read_text())
    local_top, every = set(), set()
    for node in ast.walk(tree):
        names = []
        if isinstance(node, ast.Import):
            names = [(a.name, 0) for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            names = [((node.module or ""), node.level)]
        for name, level in names:
            if level:  # relative: an alpacaflow module
                if node in tree.body:
                    local_top.add(name.split(".")[0] or "__init__")
            else:
                every.add(name.split(".")[0])
    return local_top, every


def step_module(step: str) -> str:
    """The module cli.py's handler for `step` imports."""
    source = (PACKAGE / "cli.py").read_text()
    handler = "_" + step.replace("-", "_")
    body = re.search(rf"def {handler}\(.*?\n(.*?)(?=\ndef )", source, re.S).group(1)
    return re.search(r"from \.(\w+) import", body).group(1)


def third_party(step: str) -> set[str]:
    todo, seen, needed = ["cli", step_module(step)], set(), set()
    while todo:
        module = todo.pop()
        if module in seen:
            continue
        seen.add(module)
        local, every = _imports(module)
        todo += [m for m in local if (PACKAGE / f"{m}.py").exists()]
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
    expected = {"download_prompts", "download_model", "generate", "annotate", "leaderboard", "error_sample", "report",
                "compare", "error_taxonomy", "context", "plots", "fetch_official", "validate_judge"}  # fmt: skip
    assert set(found) == expected


@pytest.mark.parametrize("rule", sorted(rules()))
def test_env_lists_what_the_rule_imports(rule):
    env, step = rules()[rule]
    have = env_packages(env)
    needed = {DISTRIBUTIONS.get(n, n).lower().replace("-", "_") for n in third_party(step)}
    assert needed, f"no imports found for {rule}"
    assert needed <= have, f"envs/{env} misses {sorted(needed - have)} imported by rule {rule}"
