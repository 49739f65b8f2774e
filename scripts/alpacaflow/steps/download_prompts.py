"""The download_prompts step: the prompt set from the Hugging Face dataset or a local file, validated.

`datasets` >= 4 cannot load ``tatsu-lab/alpaca_eval`` (it is a loading
script), so the raw files are fetched with ``huggingface_hub`` instead:
``alpaca_eval_gpt4_baseline.json`` (805 instructions and GPT-4 Turbo
reference outputs) and ``df_gamed.csv`` (used by the length-controlled win
rate, fetched now so that no later step needs the network).

The table written here, ``prompts.parquet``, has one row per prompt:
``index`` (position in the full source set, kept through ``max_instances``),
``instruction``, ``dataset``, ``reference_output``, ``reference_generator``;
a set with conversation rows (`dialogues`) also ``messages`` and ``turns``.

df_gamed holds each prompt's difficulty by index only. The copy written here
also says which instruction each index is (an ``instruction`` column), so
that the LC win rate can check that it is applied to the prompts it was made
for (`metrics.winrate.lc_check`): from df_gamed's own ``instruction`` column if it
has one, else from the prompt file fetched beside it (hub source), else from
``prompts.lc_instructions``; with none of them, LC is reported as n/a. A local
prompt set with ``df_gamed: null`` gets an empty df_gamed: LC n/a, said so.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Annotated, Any

import pandas as pd

from ..dialogues import check_messages, is_single, judge_view, to_json, user_turns
from ..errors import AlpacaflowError
from ..hub import hf_download, resolved_commit
from ..io import (
    JSON,
    PROMPT_COLUMNS,
    atomic_path,
    duplicates_dropped_line,
    is_blank,
    read_records,
    sha256_of,
    write_json,
    write_parquet,
    write_text,
)

HF_SOURCE = "huggingface"


def _text_field(source: str, row: int, record: dict[str, Any], key: str) -> str:
    if key not in record:
        raise AlpacaflowError(f"{source}: row {row}: missing '{key}'")
    value = record[key]
    if not isinstance(value, str) and not is_blank(value):
        raise AlpacaflowError(f"{source}: row {row}: '{key}' must be a string, got {type(value).__name__}")
    if is_blank(value):
        raise AlpacaflowError(f"{source}: row {row}: empty '{key}'")
    return value


def _reference(source: str, row: int, record: dict[str, Any], conversation: bool) -> str | None:
    """The row's reference output; a conversation row may have none (it is then judged head to head only)."""
    if conversation and record.get("output") is None:
        return None
    return _text_field(source, row, record, "output")


def _prompt(source: str, row: int, record: dict[str, Any]) -> tuple[str, list[dict[str, str]] | None]:
    """(the row's instruction as the judge reads it, its conversation or None for an instruction row)."""
    if "messages" not in record:
        return _text_field(source, row, record, "instruction"), None
    if "instruction" in record:
        raise AlpacaflowError(f"{source}: row {row}: give either 'instruction' or 'messages', not both")
    messages = check_messages(record["messages"], f"{source}: row {row}")
    return judge_view(messages), None if is_single(messages) else messages


def records_to_table(records: list[Any], source: str, duplicates: str = "error") -> pd.DataFrame:
    """Validate prompt records and turn them into the prompt table.

    Every record needs a non-empty `instruction`, or `messages` (a
    conversation, `dialogues.check_messages`), and `output` (the reference
    answer; a conversation may leave it out); instructions (a conversation's:
    its judge view) must be unique, unless `duplicates` is ``first``: then a
    row repeating an earlier row's instruction is dropped (the kept rows keep
    their row number as `index`). Row numbers in errors count from 0, as the
    `index` column does. A set with conversations gets the columns
    ``messages`` (JSON; null on instruction rows) and ``turns`` (user turns).
    """
    if not records:
        raise AlpacaflowError(f"{source}: the prompt set is empty")
    rows = []
    first_seen: dict[str, int] = {}
    for i, record in enumerate(records):
        if not isinstance(record, dict):
            raise AlpacaflowError(f"{source}: row {i}: expected an object, got {type(record).__name__}")
        instruction, messages = _prompt(source, i, record)
        reference = _reference(source, i, record, messages is not None)
        if instruction in first_seen and duplicates == "first":
            continue
        if instruction in first_seen:
            raise AlpacaflowError(
                f"{source}: rows {first_seen[instruction]} and {i} have the same instruction: {instruction[:60]!r} "
                "(prompts.duplicates: first keeps the first)"
            )
        first_seen[instruction] = i
        rows.append(
            {
                "index": i,
                "instruction": instruction,
                "dataset": str(record.get("dataset") or "custom"),
                "reference_output": reference,
                "reference_generator": None if reference is None else str(record.get("generator") or "reference"),
                "messages": to_json(messages),
                "turns": user_turns(messages) if messages else 1,
            }
        )
    table = pd.DataFrame(rows)
    if table["reference_output"].isna().all():
        raise AlpacaflowError(f"{source}: no row has a reference output ('output'); at least one needs one")
    return table if table["messages"].notna().any() else table[PROMPT_COLUMNS]


#: alpaca_eval's `evaluate(max_instances=N)` shuffles outputs and references with this seed, then keeps the first N.
ALPACA_EVAL_SUBSET_SEED = 123


def alpaca_eval_subset(table: pd.DataFrame, n: int) -> pd.DataFrame:
    """The `n` prompts that alpaca_eval's ``max_instances=n`` evaluates, in prompt order, indices kept.

    ``alpaca_eval.main.evaluate`` shuffles the model outputs and the
    references with ``sample(frac=1, random_state=123)`` and takes the first
    `n`; a plain ``head(n)`` would see only AlpacaEval's first subset
    (its first 129 prompts are all ``helpful_base``).
    """
    shuffled = table.reset_index(drop=True).sample(frac=1, random_state=ALPACA_EVAL_SUBSET_SEED)
    return shuffled.head(n).sort_values("index").reset_index(drop=True)


#: df_gamed's columns alpacaflow reads (an empty df_gamed, for a set without one, has just these).
DF_GAMED_COLUMNS = ["index", "instruction_difficulty", "preference", "instruction"]


def _read_df_gamed(path: Path) -> pd.DataFrame:
    try:
        gamed = pd.read_csv(path)
    except Exception as exc:  # pandas raises several parser errors
        raise AlpacaflowError(f"{path}: not a readable df_gamed CSV ({exc})") from exc
    missing = set(DF_GAMED_COLUMNS[:3]) - set(gamed.columns)
    if missing:
        raise AlpacaflowError(f"{path}: df_gamed file lacks columns {sorted(missing)}")
    return gamed


def _lc_instructions(cfg: dict[str, Any], table: pd.DataFrame) -> tuple[list[str] | None, str | None]:
    """The instructions df_gamed's indices stand for, in index order, and where they come from."""
    if cfg["source"] == HF_SOURCE:
        return table["instruction"].tolist(), f"{cfg['repo_id']}/{cfg['filename']}"
    if cfg.get("lc_instructions"):
        path = Path(cfg["lc_instructions"])
        records = read_records(path)
        bad = next((i for i, r in enumerate(records) if not isinstance(r, dict) or "instruction" not in r), None)
        if bad is not None:
            raise AlpacaflowError(f"{path}: row {bad}: missing 'instruction' (prompts.lc_instructions)")
        return [str(r["instruction"]) for r in records], str(path)
    return None, None


def _write_df_gamed(source: Path, out: Path, instructions: list[str] | None, origin: str | None) -> str | None:
    """Copy df_gamed to `out` with each index's instruction; returns where those come from (None: unknown)."""
    gamed = _read_df_gamed(source)
    if "instruction" in gamed.columns:
        with atomic_path(out) as tmp:
            shutil.copyfile(source, tmp)
        return "df_gamed's own instruction column"
    if instructions is not None:
        gamed["instruction"] = gamed["index"].map(dict(enumerate(instructions)))
    with atomic_path(out) as tmp:
        gamed.to_csv(tmp, index=False)
    return origin if instructions is not None else None


def prepare_prompts(cfg: dict[str, Any], out_table: Path, out_gamed: Path, out_meta: Path) -> pd.DataFrame:
    """Fetch or import the prompt set and df_gamed; validate; write all three outputs.

    `cfg` is the `prompts` section of the config, defaults filled in.
    """
    if cfg["source"] == HF_SOURCE:
        source_path = hf_download(cfg["repo_id"], cfg["filename"], cfg["revision"])
        if not cfg.get("df_gamed"):
            raise AlpacaflowError("config error at 'prompts.df_gamed': a file name is required")
        gamed_path = hf_download(cfg["repo_id"], cfg["df_gamed"], cfg["revision"])
        source_name = f"{cfg['repo_id']}/{cfg['filename']}"
    else:
        source_path = Path(cfg["source"])
        gamed_path = Path(cfg["df_gamed"]) if cfg.get("df_gamed") else None
        if gamed_path is not None and not gamed_path.is_file():
            raise AlpacaflowError(f"config error at 'prompts.df_gamed': file not found: {gamed_path}")
        source_name = str(source_path)
    records = read_records(source_path)
    duplicates = "first" if cfg.get("duplicates") == "first" else "error"  # the schema's default: error
    table = records_to_table(records, source_name, duplicates)
    dropped = len(records) - len(table)
    if dropped:
        print(duplicates_dropped_line(source_name, dropped), flush=True)
    expected = cfg.get("expected_rows")
    if cfg["source"] == HF_SOURCE and expected is not None and len(table) != expected:
        raise AlpacaflowError(f"{source_name}: expected {expected} prompts, found {len(table)}")
    instructions, instructions_source = _lc_instructions(cfg, table)
    total = len(table)
    if cfg.get("max_instances"):
        table = alpaca_eval_subset(table, cfg["max_instances"])
    meta = {
        "source": source_name,
        "revision_requested": cfg["revision"] if cfg["source"] == HF_SOURCE else None,
        "revision_resolved": resolved_commit(source_path) if cfg["source"] == HF_SOURCE else None,
        "sha256": sha256_of(source_path),
        "df_gamed_sha256": sha256_of(gamed_path) if gamed_path else None,
        "rows_in_source": total,
        "rows_kept": len(table),
        "max_instances": cfg.get("max_instances"),
        "duplicates": duplicates,
        "duplicates_dropped": dropped,
        "rows_without_reference": int(table["reference_output"].isna().sum()),
    }
    if gamed_path is None:  # a prompt set of one's own without df_gamed: LC is n/a (`metrics.winrate.lc_check`)
        write_text(out_gamed, ",".join(DF_GAMED_COLUMNS) + "\n")
        meta["df_gamed_instructions"] = None
    else:
        meta["df_gamed_instructions"] = _write_df_gamed(gamed_path, out_gamed, instructions, instructions_source)
    write_parquet(out_table, table)
    write_json(out_meta, meta)
    return table


def run(*, prompts_config: Annotated[dict[str, Any], JSON], table: Path, gamed: Path, meta: Path) -> None:
    """The download_prompts step: the config's `prompts` section in; the prompt table, df_gamed and meta out."""
    written = prepare_prompts(prompts_config, table, gamed, meta)
    print(f"wrote {len(written)} prompts to {table}")
