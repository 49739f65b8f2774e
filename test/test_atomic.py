"""Every file a step writes goes through a temporary name renamed into place (alpacaflow.io.atomic_path).

A static check over the package: each file-writing call must write to the
`tmp` path that `atomic_path` yields. The listed exceptions are not outputs.
"""

from __future__ import annotations

import ast
import os
import stat
from pathlib import Path

from alpacaflow.io import atomic_path, write_json

PACKAGE = Path(__file__).resolve().parents[1] / "scripts" / "alpacaflow"
#: Path methods write to their receiver; the others to their first argument.
PATH_WRITES = {"write_text", "write_bytes"}
DATA_WRITES = {"to_csv", "to_parquet", "to_json", "save_pretrained", "savefig"}
NOT_OUTPUTS = {("judge.py", "folder")}  # alpaca_eval's annotator config, inside a TemporaryDirectory


def _root(node: ast.expr) -> str:
    while isinstance(node, (ast.BinOp, ast.Attribute, ast.Call, ast.Subscript)):
        node = node.left if isinstance(node, ast.BinOp) else node.func if isinstance(node, ast.Call) else node.value
    return node.id if isinstance(node, ast.Name) else ast.unparse(node)


def test_every_write_is_atomic():
    direct = []
    for path in sorted(PACKAGE.rglob("*.py")):  # subpackages (decoders/) included
        for node in ast.walk(ast.parse(path.read_text())):
            if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)):
                continue
            if node.func.attr in PATH_WRITES:
                dest = _root(node.func.value)
            elif node.func.attr in DATA_WRITES and node.args:
                dest = _root(node.args[0])
            else:
                continue
            if dest != "tmp" and (path.name, dest) not in NOT_OUTPUTS:
                direct.append(f"{path.name}:{node.lineno}: {ast.unparse(node.func)}")
    assert not direct, direct


def test_a_failed_write_leaves_the_old_file_and_no_temporary(tmp_path):
    dest = tmp_path / "out.json"
    write_json(dest, {"a": 1})
    try:
        with atomic_path(dest) as tmp:
            tmp.write_text('{"half": ')
            raise RuntimeError("killed mid-write")
    except RuntimeError:
        pass
    assert dest.read_text() == '{\n  "a": 1\n}\n'
    assert [p.name for p in tmp_path.iterdir()] == ["out.json"]


def test_outputs_get_the_umask_mode_not_owner_only(tmp_path):
    """mkstemp makes 0600 files; results on a shared cluster must be readable as with a plain open()."""
    mask = os.umask(0)
    os.umask(mask)
    write_json(tmp_path / "out.json", {"a": 1})
    (tmp_path / "plain.json").write_text("{}")
    mode = stat.S_IMODE((tmp_path / "out.json").stat().st_mode)
    assert mode == stat.S_IMODE((tmp_path / "plain.json").stat().st_mode) == 0o666 & ~mask
