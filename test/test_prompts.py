"""download_prompts: local sources, the Hugging Face path through a local hub cache, bad input."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pandas as pd
import pytest
from alpacaflow.errors import AlpacaflowError
from alpacaflow.io import read_parquet
from alpacaflow.prompts import PROMPT_COLUMNS, prepare_prompts
from conftest import DEMO_GAMED, DEMO_PROMPTS, run_cli

ROWS = json.loads(DEMO_PROMPTS.read_text())


def local_cfg(source: Path, **extra) -> dict:
    cfg = {
        "source": str(source),
        "df_gamed": str(DEMO_GAMED),
        "repo_id": "tatsu-lab/alpaca_eval",
        "revision": "main",
        "filename": "alpaca_eval_gpt4_baseline.json",
        "expected_rows": 805,
        "max_instances": None,
    }
    cfg.update(extra)
    return cfg


def download_cli(cfg: dict, table: Path, gamed: Path, meta: Path, **env: str):
    """Run the download-prompts step as the rule does."""
    args = ["--prompts-config", json.dumps(cfg), "--out-table", str(table), "--out-gamed", str(gamed)]
    return run_cli("download-prompts", *args, "--out-meta", str(meta), **env)


def outputs(tmp_path: Path) -> tuple[Path, Path, Path]:
    return tmp_path / "out" / "prompts.parquet", tmp_path / "out" / "df_gamed.csv", tmp_path / "out" / "meta.json"


@pytest.mark.parametrize("fmt", ["json", "jsonl", "parquet"])
def test_local_sources(tmp_path, fmt):
    source = tmp_path / f"prompts.{fmt}"
    if fmt == "json":
        source.write_text(json.dumps(ROWS))
    elif fmt == "jsonl":
        source.write_text("\n".join(json.dumps(r) for r in ROWS))
    else:
        pd.DataFrame(ROWS).to_parquet(source)
    table_path, gamed_path, meta_path = outputs(tmp_path)
    table = prepare_prompts(local_cfg(source), table_path, gamed_path, meta_path)
    assert list(table.columns) == PROMPT_COLUMNS
    assert len(table) == len(ROWS)
    written = read_parquet(table_path)
    assert written["instruction"].tolist() == [r["instruction"] for r in ROWS]
    assert written["reference_output"].tolist() == [r["output"] for r in ROWS]
    assert written["index"].tolist() == list(range(len(ROWS)))
    assert gamed_path.read_bytes() == DEMO_GAMED.read_bytes()
    assert json.loads(meta_path.read_text())["rows_kept"] == len(ROWS)


def test_max_instances_keeps_first_rows_and_their_index(tmp_path):
    table_path, gamed_path, meta_path = outputs(tmp_path)
    table = prepare_prompts(local_cfg(DEMO_PROMPTS, max_instances=7), table_path, gamed_path, meta_path)
    assert table["index"].tolist() == list(range(7))
    meta = json.loads(meta_path.read_text())
    assert (meta["rows_in_source"], meta["rows_kept"]) == (len(ROWS), 7)


def _bad(tmp_path: Path, rows) -> Path:
    source = tmp_path / "bad.json"
    source.write_text(json.dumps(rows))
    return source


@pytest.mark.parametrize(
    ("rows", "pattern"),
    [
        ([], "the prompt set is empty"),
        ([{"output": "x"}], "row 0: missing 'instruction'"),
        ([{"instruction": "  ", "output": "x"}], "row 0: empty 'instruction'"),
        ([{"instruction": "a", "output": "x"}, {"instruction": "b"}], "row 1: missing 'output'"),
        ([{"instruction": "a", "output": "x"}, {"instruction": "a", "output": "y"}], "rows 0 and 1 have the same"),
        ([{"instruction": 5, "output": "x"}], "'instruction' must be a string"),
        ({"instruction": "a"}, "expected a JSON list"),
    ],
)
def test_bad_prompt_files(tmp_path, rows, pattern):
    table_path, gamed_path, meta_path = outputs(tmp_path)
    with pytest.raises(AlpacaflowError, match=pattern) as err:
        prepare_prompts(local_cfg(_bad(tmp_path, rows)), table_path, gamed_path, meta_path)
    assert "bad.json" in str(err.value)
    assert not table_path.parent.exists() or not any(table_path.parent.iterdir())


def test_cli_bad_input_is_one_line_and_leaves_nothing(tmp_path):
    source = tmp_path / "broken.json"
    source.write_text('[{"instruction": "a", "output": "b"},')
    table_path, gamed_path, meta_path = outputs(tmp_path)
    result = download_cli(local_cfg(source), table_path, gamed_path, meta_path)
    assert result.returncode == 1
    lines = result.stderr.strip().splitlines()
    assert lines[-1].startswith("error: ") and "broken.json" in lines[-1] and "malformed JSON" in lines[-1]
    assert "Traceback" not in result.stderr
    assert not table_path.exists() and not gamed_path.exists() and not meta_path.exists()


def test_local_source_needs_df_gamed(tmp_path):
    with pytest.raises(AlpacaflowError, match="prompts.df_gamed"):
        prepare_prompts(local_cfg(DEMO_PROMPTS, df_gamed=None), *outputs(tmp_path))
    with pytest.raises(AlpacaflowError, match="file not found"):
        prepare_prompts(local_cfg(DEMO_PROMPTS, df_gamed=str(tmp_path / "x.csv")), *outputs(tmp_path))


COMMIT = "0123456789abcdef0123456789abcdef01234567"


def fake_hub_cache(root: Path) -> Path:
    """A Hugging Face hub cache holding the two dataset files, as `hf_hub_download` leaves it."""
    repo = root / "datasets--tatsu-lab--alpaca_eval"
    snapshot = repo / "snapshots" / COMMIT
    snapshot.mkdir(parents=True)
    (repo / "refs").mkdir()
    (repo / "refs" / "main").write_text(COMMIT)
    shutil.copyfile(DEMO_PROMPTS, snapshot / "alpaca_eval_gpt4_baseline.json")
    shutil.copyfile(DEMO_GAMED, snapshot / "df_gamed.csv")
    return root


@pytest.mark.parametrize("revision", ["main", COMMIT])
def test_huggingface_source_through_local_cache(tmp_path, revision):
    """The real hf_hub_download path, offline, served from a local hub cache."""
    cache = fake_hub_cache(tmp_path / "hub")
    cfg = local_cfg("huggingface", df_gamed="df_gamed.csv", revision=revision, expected_rows=len(ROWS))
    cfg["source"] = "huggingface"
    table_path, gamed_path, meta_path = outputs(tmp_path)
    result = download_cli(cfg, table_path, gamed_path, meta_path, HF_HUB_CACHE=str(cache), HF_HUB_OFFLINE="1")
    assert result.returncode == 0, result.stderr
    meta = json.loads(meta_path.read_text())
    assert meta["revision_resolved"] == COMMIT
    assert meta["source"] == "tatsu-lab/alpaca_eval/alpaca_eval_gpt4_baseline.json"
    assert len(read_parquet(table_path)) == len(ROWS)
    assert gamed_path.read_bytes() == DEMO_GAMED.read_bytes()


def test_huggingface_source_checks_row_count(tmp_path):
    cache = fake_hub_cache(tmp_path / "hub")
    cfg = local_cfg("huggingface", df_gamed="df_gamed.csv")
    cfg["source"] = "huggingface"
    table_path, gamed_path, meta_path = outputs(tmp_path)
    result = download_cli(cfg, table_path, gamed_path, meta_path, HF_HUB_CACHE=str(cache), HF_HUB_OFFLINE="1")
    assert result.returncode == 1
    assert f"expected 805 prompts, found {len(ROWS)}" in result.stderr.strip().splitlines()[-1]
    assert not table_path.exists()


def test_huggingface_source_offline_and_uncached_is_one_line(tmp_path):
    cfg = local_cfg("huggingface", df_gamed="df_gamed.csv")
    cfg["source"] = "huggingface"
    table_path, gamed_path, meta_path = outputs(tmp_path)
    result = download_cli(
        cfg, table_path, gamed_path, meta_path, HF_HUB_CACHE=str(tmp_path / "empty"), HF_HUB_OFFLINE="1"
    )
    assert result.returncode == 1
    assert "not in the local Hugging Face cache" in result.stderr.strip().splitlines()[-1]
