"""One name per step, one declaration of its arguments, and the layout table (docs/layout.md).

Read from the code, not run: each rule in ``rules/<rule>.smk`` runs
``step_command("<rule>", ...)``; the module ``scripts/alpacaflow/steps/<rule>.py``
has a keyword-only ``run`` whose parameters are the arguments the rule
passes (each required one passed, none unknown); the CLI lists exactly the
rules; docs/layout.md's table has one line per step: rule → module.
"""

from __future__ import annotations

import inspect
import re
import subprocess
from pathlib import Path

import pytest
from alpacaflow.cli import STEPS, build_parser, step_function
from conftest import REPO

RULES_DIR = REPO / "rules"


def rule_blocks() -> dict[str, tuple[Path, str]]:
    """rule name -> (its .smk file, its text)."""
    found = {}
    for smk in sorted(RULES_DIR.glob("*.smk")):
        for block in re.split(r"\n(?=rule )", smk.read_text()):
            name = re.match(r"rule (\w+):", block)
            if name:
                found[name.group(1)] = (smk, block)
    return found


def step_call(block: str) -> tuple[str, list[str]]:
    """(step, argument names) of a rule's `step_command(...)`."""
    call = re.search(r"step_command\(\s*(.*?)\)\s*(?:\n\S|\Z)", block, re.S)
    assert call, "no step_command"
    words = re.findall(r'"([^"]+)"', call.group(1))
    return words[0], [w.split(".")[-1] for w in words[1:]]


def test_every_rule_is_a_step_of_its_own_name():
    blocks = rule_blocks()
    assert sorted(blocks) == sorted(STEPS)
    for rule, (smk, block) in blocks.items():
        assert smk.stem == rule, f"rule {rule} is in {smk.name}, not {rule}.smk"
        assert step_call(block)[0] == rule, f"rule {rule} runs another step"
        assert (REPO / "scripts" / "alpacaflow" / "steps" / f"{rule}.py").is_file()


@pytest.mark.parametrize("rule", sorted(STEPS))
def test_rule_arguments_are_the_steps_parameters(rule):
    params = inspect.signature(step_function(rule)).parameters
    assert all(p.kind is inspect.Parameter.KEYWORD_ONLY for p in params.values())
    _, given = step_call(rule_blocks()[rule][1])
    assert len(given) == len(set(given)), f"rule {rule} passes an argument twice"
    assert set(given) <= set(params), f"rule {rule} passes {sorted(set(given) - set(params))}, not parameters of run"
    required = {n for n, p in params.items() if p.default is inspect.Parameter.empty}
    assert required <= set(given), f"rule {rule} does not pass {sorted(required - set(given))}"


def test_the_cli_accepts_hyphens_and_builds_options_from_the_signature():
    parser = build_parser("error_sample")
    args = vars(parser.parse_args(["error-sample", "--annotations", "a.json", "--model", "m", "--discrete", "True",
                                   "--n", "3", "--seed", "1", "--jsonl", "s.jsonl", "--md", "s.md"]))  # fmt: skip
    assert args["discrete"] is True and args["n"] == 3 and args["annotations"] == Path("a.json")
    empty = vars(build_parser("fetch_official").parse_args(
        ["fetch_official", "--source", "x", "--sha256", "--annotations", "a", "--meta", "m"]))  # fmt: skip
    assert empty["sha256"] == ""  # Snakemake formats "" as no word at all


def test_a_failing_step_keeps_its_exit_status_and_its_error_line(tmp_path):
    """The rules' shell tail: the log's last line on stderr, the step's own status (143 after SIGTERM)."""
    source = (RULES_DIR / "common.smk").read_text()
    log = tmp_path / "x.log"
    tail = re.search(r"' \|\| \{\{ (.*?) \}\}'", source).group(1)
    tail = tail.replace("{log:q}", str(log)).replace("{log}", str(log))

    def run(step: str) -> subprocess.CompletedProcess:
        command = f"set -euo pipefail; {step} > {log} 2>&1 || {{ {tail} }}"
        return subprocess.run(["bash", "-c", command], capture_output=True, text=True)

    stopped = run("sh -c 'echo working; echo error: stopped by SIGTERM; exit 143'")
    assert stopped.returncode == 143
    assert stopped.stderr.strip() == "error: stopped by SIGTERM"
    bad = run("sh -c 'echo working; echo error: bad input; exit 1'")
    assert (bad.returncode, bad.stderr.strip()) == (1, "error: bad input")
    # SIGKILL (the kernel's OOM killer, a scheduler): the step writes nothing, the shell names the signal.
    killed = run("sh -c 'echo working; kill -9 $$'")
    assert killed.returncode == 137
    assert killed.stderr.strip().splitlines()[-1] == (  # after bash's own "Killed" line
        f"error: killed by signal 9 (out of memory or a time limit?); finished work is kept; log: {log}"
    )
    # SIGABRT (a native library's abort, e.g. pyarrow's thread pool at exit) is no out-of-memory kill.
    aborted = run("sh -c 'echo working; kill -6 $$'")
    assert aborted.returncode == 134
    line = aborted.stderr.strip().splitlines()[-1]
    assert line.startswith("error: aborted by signal 6 (SIGABRT: ") and line.endswith(f"; log: {log}")
    assert "out of memory" not in line
    other = run("sh -c 'echo working; kill -11 $$'")
    assert other.returncode == 139
    assert other.stderr.strip().splitlines()[-1] == (
        f"error: stopped by signal 11 (SIGSEGV); finished work is kept; log: {log}"
    )


def test_readme_layout_has_one_line_per_step():
    readme = (REPO / "docs" / "layout.md").read_text()
    lines = re.findall(r"^\| `(\w+)` → `steps/(\w+)\.py` \|", readme, re.M)
    assert [rule for rule, _ in lines] == list(STEPS)
    assert all(rule == module for rule, module in lines)
