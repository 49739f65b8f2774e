"""Atomic file writes and the small readers every step shares.

Every output is written to a temporary file in the destination folder and
renamed into place, so a killed job never leaves a truncated file behind.
The readers: records in the AlpacaEval JSON interchange format (JSON, JSON
Lines, Parquet), the prompt table that ``download_prompts`` writes, a
generate job's ``throughput.json``, and a file's SHA-256.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import re
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow.parquet as pq

from .dialogues import record_instruction
from .errors import AlpacaflowError

#: Marks a step argument given on the command line as one JSON string: ``Annotated[dict[str, Any], JSON]`` (see `cli`).
JSON = "json"

#: Columns of ``prompts.parquet``: ``index`` is the prompt's position in the full source set.
PROMPT_COLUMNS = ["index", "instruction", "dataset", "reference_output", "reference_generator"]


def _current_umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


#: read once at import, before any worker thread starts (os.umask can only be read by setting it)
FILE_MODE = 0o666 & ~_current_umask()


@contextmanager
def atomic_path(dest: str | Path) -> Iterator[Path]:
    """Yield a temporary path next to `dest`; rename it onto `dest` on success.

    The file gets the mode a plain ``open()`` would give it (0666 less the
    umask), not mkstemp's owner-only 0600, so that colleagues on a shared
    cluster can read the results.
    """
    dest = Path(dest)
    dest.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{dest.name}.", suffix=".tmp", dir=dest.parent)
    os.close(fd)
    tmp_path = Path(tmp)
    try:
        yield tmp_path
        os.chmod(tmp_path, FILE_MODE)
        os.replace(tmp_path, dest)
    finally:
        tmp_path.unlink(missing_ok=True)


def write_json(dest: str | Path, data: Any) -> None:
    """Write `data` as indented UTF-8 JSON, atomically."""
    with atomic_path(dest) as tmp:
        tmp.write_text(json.dumps(data, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")


def write_text(dest: str | Path, text: str) -> None:
    """Write `text` as UTF-8, atomically."""
    with atomic_path(dest) as tmp:
        tmp.write_text(text, encoding="utf-8")


def write_bytes(dest: str | Path, data: bytes) -> None:
    """Write `data` as is, atomically."""
    with atomic_path(dest) as tmp:
        tmp.write_bytes(data)


def write_folder(folder: str | Path, files: dict[str, str]) -> None:
    """Write a folder of text files (relative name -> text) whole: staged beside it, then renamed into place."""
    folder = Path(folder)
    staging = folder.with_name(folder.name + ".partial")
    shutil.rmtree(staging, ignore_errors=True)
    for name, text in files.items():
        (staging / name).parent.mkdir(parents=True, exist_ok=True)
        write_text(staging / name, text)
    shutil.rmtree(folder, ignore_errors=True)
    staging.rename(folder)


def jsonl(lines: list[dict[str, Any]]) -> str:
    """Records as JSON Lines text (UTF-8 as is)."""
    return "".join(json.dumps(line, ensure_ascii=False) + "\n" for line in lines)


def write_parquet(dest: str | Path, frame: pd.DataFrame) -> None:
    """Write `frame` as Parquet (pyarrow), atomically."""
    with atomic_path(dest) as tmp:
        frame.to_parquet(tmp, engine="pyarrow", index=False)


def read_parquet(path: str | Path) -> pd.DataFrame:
    """Read a Parquet table by path on the calling thread: the one Parquet reader (test_parquet enforces it).

    pandas' ``read_parquet`` opens the file itself and hands pyarrow a Python
    file object, which pyarrow reads on its I/O threads; when the interpreter
    exits while one still holds that wrapper, the process aborts after its work
    is done ("terminate called without an active exception", SIGABRT, exit 134;
    apache/arrow#34314, open). Measured here in 200 fresh processes each
    (pyarrow 26.0.1, 2 cores): ``pd.read_parquet(path)`` aborted 7 times,
    ``pq.read_table(open(path, "rb"))`` 9, with ``use_threads=False`` still 2;
    ``pq.read_table(path)`` by path 0. Our tables are small, so threads are off
    too. Writes are not exposed: ``to_parquet`` gives pyarrow the path.
    """
    return pq.read_table(str(path), use_threads=False).to_pandas(use_threads=False)


def read_records(path: str | Path) -> list[dict[str, Any]]:
    """Read a list of records from JSON (a list), JSON Lines or Parquet.

    Raises `AlpacaflowError` with the file name for anything unreadable.
    """
    path = Path(path)
    if not path.is_file():
        raise AlpacaflowError(f"{path}: file not found")
    suffix = path.suffix.lower()
    if suffix == ".parquet":
        try:
            return read_parquet(path).to_dict(orient="records")
        except Exception as exc:  # pyarrow raises several types
            raise AlpacaflowError(f"{path}: not a readable Parquet file ({exc})") from exc
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise AlpacaflowError(f"{path}: not valid UTF-8 (byte {exc.start})") from exc
    if suffix == ".jsonl":
        # Lines end at "\n" only: splitlines() also splits at U+2028 and other separators that JSON strings may hold.
        return [_parse_json(path, line, n) for n, line in enumerate(text.split("\n"), 1) if line.strip()]
    data = _parse_json(path, text, None)
    if not isinstance(data, list):
        raise AlpacaflowError(f"{path}: expected a JSON list of records, got {type(data).__name__}")
    return data


def _parse_json(path: Path, text: str, line: int | None) -> Any:
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        where = f"line {line}" if line is not None else f"line {exc.lineno} column {exc.colno}"
        raise AlpacaflowError(f"{path}: malformed JSON at {where}: {exc.msg}") from exc


def outputs_by_instruction(records: list[Any], source: str, keep_first: bool = False) -> dict[str, str]:
    """Map instruction -> output of AlpacaEval model-output records (blank outputs become "").

    Each record needs a string `instruction` (or a conversation's
    `messages`, keyed by its judge view: `dialogues.record_instruction`) and
    a string (or blank) `output`; instructions must be unique, unless `keep_first` (the config's
    ``prompts.duplicates: first``): then a repeated instruction keeps its
    first output. Errors name `source` and the row.
    """
    found: dict[str, str] = {}
    for i, record in enumerate(records):
        has_prompt = isinstance(record, dict) and ("instruction" in record or "messages" in record)
        if not has_prompt or "output" not in record:
            raise AlpacaflowError(f"{source}: row {i}: needs 'instruction' (or 'messages') and 'output'")
        instruction, output = record_instruction(record, f"{source}: row {i}"), record["output"]
        if not isinstance(instruction, str):
            raise AlpacaflowError(f"{source}: row {i}: 'instruction' must be a string")
        if not isinstance(output, str) and not is_blank(output):
            raise AlpacaflowError(f"{source}: row {i}: 'output' must be a string, got {type(output).__name__}")
        if instruction in found and keep_first:
            continue
        if instruction in found:
            raise AlpacaflowError(f"{source}: row {i}: duplicate instruction {instruction[:60]!r}")
        found[instruction] = "" if is_blank(output) else output
    return found


def is_blank(value: Any) -> bool:
    """True for None, NaN and strings that are empty after stripping."""
    if value is None:
        return True
    if isinstance(value, float) and math.isnan(value):
        return True
    return isinstance(value, str) and not value.strip()


def read_jsonl(data: bytes, where: str) -> list[dict[str, Any]]:
    """JSON Lines records, with the line of a malformed one named."""
    records = []
    for n, line in enumerate(data.decode("utf-8").split("\n"), 1):  # not splitlines: JSON strings may hold U+2028
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError as exc:
            raise AlpacaflowError(f"{where}: malformed JSON at line {n}: {exc.msg}") from None
        if not isinstance(record, dict):
            raise AlpacaflowError(f"{where}: line {n} is not an object")
        records.append(record)
    return records


def load_prompt_table(path: str | Path) -> pd.DataFrame:
    """Read ``prompts.parquet`` written by ``download_prompts``."""
    table = read_parquet(path)
    missing = set(PROMPT_COLUMNS) - set(table.columns)
    if missing:
        raise AlpacaflowError(f"{path}: prompt table lacks columns {sorted(missing)}")
    if table.empty:
        raise AlpacaflowError(f"{path}: the prompt set is empty")
    return table


def reference_generators(path: str | Path) -> str:
    """Who wrote the prompt table's reference outputs: its ``reference_generator`` names, sorted, comma-joined."""
    return ", ".join(sorted(load_prompt_table(path)["reference_generator"].dropna().astype(str).unique()))


def jsonable(value: Any) -> Any:
    """`value` as plain JSON: numpy scalars as Python's, NaN as null, through dicts and lists."""
    if isinstance(value, float) and math.isnan(value):
        return None
    if isinstance(value, dict):
        return {k: jsonable(v) for k, v in value.items()}
    if isinstance(value, list):
        return [jsonable(v) for v in value]
    if hasattr(value, "item"):  # numpy scalars
        return jsonable(value.item())
    return value


def read_throughput(path: str | Path) -> dict[str, Any]:
    """A generate job's ``throughput.json``."""
    return json.loads(Path(path).read_text(encoding="utf-8"))


def sha256_of(path: str | Path) -> str:
    """SHA-256 of a file's bytes, read in 1 MiB blocks."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


#: Control characters other than tab, newline and carriage return: Markdown shows them badly or not at all,
#: and a NUL makes tools take the whole file for binary.
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


def visible(text: str) -> str:
    r"""`text` for Markdown: each control character (tab, newline and carriage return aside) as ``\xNN``."""
    return _CONTROL.sub(lambda m: f"\\x{ord(m.group()):02x}", text)


def git_commit() -> str | None:
    """The commit of the checkout alpacaflow runs from (None outside git, or without git)."""
    try:
        result = subprocess.run(
            ["git", "rev-parse", "HEAD"],
            cwd=Path(__file__).resolve().parent,
            capture_output=True,
            text=True,
            timeout=10,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    if result.returncode != 0:
        return None
    return result.stdout.strip() or None


def duplicates_dropped_line(source: str, dropped: int) -> str:
    """The log line saying how many rows `prompts.duplicates: first` dropped from `source`."""
    return f"{source}: dropped {dropped} row(s) repeating an earlier row's instruction (prompts.duplicates: first)"


def covering_outputs(records: list[Any], source: str, prompts: pd.DataFrame) -> dict[str, str]:
    """Output per instruction of `records`, which must answer exactly the prompt set's instructions."""
    by_instruction = outputs_by_instruction(records, source)
    wanted = prompts["instruction"].tolist()
    missing = [s for s in wanted if s not in by_instruction]
    extra = set(by_instruction) - set(wanted)
    if missing or extra:
        raise AlpacaflowError(
            f"{source}: instructions do not match the prompt set ({len(missing)} missing, {len(extra)} extra); "
            "regenerate the outputs"
        )
    return by_instruction


def as_cached(annotated: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Annotations as alpaca_eval's cache holds them, whether judged now or read from it.

    The cache is written with pandas' ``to_json`` (10 decimals), so a
    preference judged now (1.0903992968692406) comes back from the cache
    rounded (1.0903992969); every annotation goes through the same
    serialization, so that a pair's annotation, and the metrics over it, are
    the same bytes in every run. Keys a record lacks stay absent; keys come
    in one order (`LEADING_KEYS`, then the rest by name), since alpaca_eval
    orders a cached row's columns otherwise than a fresh one's.
    """
    if not annotated:
        return []
    frame = pd.DataFrame([jsonable(r) for r in annotated])
    rows = json.loads(frame.to_json(orient="records"))
    return [{k: row[k] for k in _key_order(original)} for row, original in zip(rows, annotated, strict=True)]


#: The first keys of every annotation, as alpaca_eval's annotations start.
LEADING_KEYS = ("instruction", "output_1", "generator_1", "output_2", "generator_2", "annotator", "preference")


def _key_order(record: dict[str, Any]) -> list[str]:
    return [k for k in LEADING_KEYS if k in record] + sorted(k for k in record if k not in LEADING_KEYS)
