"""Parquet is read through `io.read_parquet` alone, and reading it never aborts the process at exit.

pandas' ``read_parquet`` opens the file itself and hands pyarrow a Python
file object; pyarrow reads it on its I/O threads, and when the interpreter
exits with one of them still holding the wrapper, the process aborts
("terminate called without an active exception", SIGABRT, exit 134;
apache/arrow#34314), after its work is done. Reading by path never goes
through that wrapper (measured in 200 fresh processes each, on 2 cores:
``pd.read_parquet(path)`` 7 aborts, ``pq.read_table(open(path, "rb"))`` 9,
``pq.read_table(path)`` 0). Writes are not exposed: pandas' ``to_parquet``
gives pyarrow the path back (0 of 200).
"""

from __future__ import annotations

import ast
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pandas as pd
import pytest
from conftest import REPO, subprocess_env

#: Where the project's Python lives; `scripts/alpacaflow/io.py` is the one reader.
TREES = ("scripts", "bench", "test")
READER = REPO / "scripts" / "alpacaflow" / "io.py"
#: Parquet readers of pandas and pyarrow that a module must not call itself.
PANDAS_READERS = {"read_parquet"}
PYARROW_READERS = {"read_table", "read_pandas", "ParquetFile", "ParquetDataset", "read_parquet"}


def _aliases(tree: ast.Module) -> dict[str, str]:
    """Local names bound to pandas or pyarrow.parquet (``pd``, ``pq``) or to one of their readers, -> what."""
    found = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for a in node.names:
                if a.name in ("pandas", "pyarrow.parquet"):
                    found[a.asname or a.name] = a.name
        elif isinstance(node, ast.ImportFrom) and node.module in ("pandas", "pyarrow", "pyarrow.parquet"):
            for a in node.names:
                if node.module == "pyarrow" and a.name == "parquet":
                    found[a.asname or a.name] = "pyarrow.parquet"
                elif a.name in PANDAS_READERS | PYARROW_READERS:
                    found[a.asname or a.name] = f"{node.module}.{a.name}"
    return found


def own_parquet_reads(source: str) -> list[str]:
    """Each call in `source` that reads Parquet without `io.read_parquet`, as ``line: what``."""
    tree = ast.parse(source)
    aliases = _aliases(tree)
    found = []
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call):
            continue
        func = node.func
        if isinstance(func, ast.Attribute) and func.attr == "read_parquet":  # pd.read_parquet, DataFrame.read_parquet
            base = func.value.id if isinstance(func.value, ast.Name) else ""
            if aliases.get(base) != "alpacaflow.io" and base != "io":
                found.append(f"{node.lineno}: {ast.unparse(func)}")
        elif isinstance(func, ast.Attribute) and isinstance(func.value, ast.Name):
            if aliases.get(func.value.id) == "pyarrow.parquet" and func.attr in PYARROW_READERS:
                found.append(f"{node.lineno}: {ast.unparse(func)}")
        elif isinstance(func, ast.Name) and aliases.get(func.id, "").startswith(("pandas.", "pyarrow")):
            found.append(f"{node.lineno}: {func.id} ({aliases[func.id]})")
    return found


def test_the_check_finds_every_way_of_reading_parquet_by_itself():
    source = """
import pandas as pd
import pandas
import pyarrow.parquet as pq
from pyarrow import parquet
from pandas import read_parquet as rp
from alpacaflow.io import read_parquet
pd.read_parquet("a")
pandas.read_parquet("b")
pd.DataFrame.read_parquet("c")
pq.read_table(open("d", "rb"))
parquet.ParquetFile("e")
rp("f")
read_parquet("fine: the one reader")
pd.read_csv("fine: not Parquet")
"""
    found = own_parquet_reads(source)
    assert [line.split(":")[0] for line in found] == ["8", "9", "10", "11", "12", "13"], found


def test_no_module_outside_io_reads_parquet_by_itself():
    offenders = []
    for tree in TREES:
        for path in sorted((REPO / tree).rglob("*.py")):
            if path == READER or ".venv" in path.parts or "build" in path.parts:
                continue
            offenders += [f"{path.relative_to(REPO)}:{hit}" for hit in own_parquet_reads(path.read_text())]
    assert not offenders, f"read Parquet with alpacaflow.io.read_parquet: {offenders}"


def demo_history(path: Path) -> Path:
    """A history of the demo's shape (every column, 63 rows, numbers and blanks), written by `append`."""
    from alpacaflow.history_table import HISTORY_COLUMNS, KEY_COLUMNS, METRIC_COLUMNS, append

    rows = []
    for i in range(63):
        row = {"time": f"2026-12-07T13:{i:02d}:00+00:00", **{c: f"{c}-{i % 7}" for c in KEY_COLUMNS}}
        row |= {c: (i * 7.31 + j) % 100 if i % 3 else None for j, c in enumerate(METRIC_COLUMNS)}
        rows.append(row)
    append(path, pd.DataFrame(rows, columns=HISTORY_COLUMNS))
    return path


@pytest.mark.slow
def test_fifty_fresh_processes_read_the_history_and_exit_cleanly(tmp_path):
    """What the history and report steps do, 50 times, 4 at a time: each exits 0 (before the fix 1 in 10 aborted)."""
    history = demo_history(tmp_path / "history.parquet")
    code = f"from alpacaflow.history_table import read_history; assert len(read_history({str(history)!r})) == 63"

    def one(_: int) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "-c", code], env=subprocess_env(), capture_output=True, text=True,
                              timeout=120)  # fmt: skip

    with ThreadPoolExecutor(4) as pool:
        results = list(pool.map(one, range(50)))
    failed = [(r.returncode, r.stderr.strip().splitlines()[-1:]) for r in results if r.returncode]
    assert not failed, f"{len(failed)} of 50 exited non-zero: {failed[:3]}"
