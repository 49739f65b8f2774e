"""download_prompts: local sources, the Hugging Face path through a local hub cache, bad input."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pandas as pd
import pytest
from alpacaflow.errors import AlpacaflowError
from alpacaflow.io import PROMPT_COLUMNS, read_parquet
from alpacaflow.steps.download_prompts import prepare_prompts
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
    """Run the download_prompts step as the rule does."""
    args = ["--prompts-config", json.dumps(cfg), "--table", str(table), "--gamed", str(gamed)]
    return run_cli("download_prompts", *args, "--meta", str(meta), **env)


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


class RecordingAnnotator:
    """Stands in for alpaca_eval's PairwiseAnnotator inside `alpaca_eval.evaluate`: records the pairs it is given."""

    seen: list[str] = []

    def __init__(self, **_):
        pass

    def annotate_head2head(self, outputs_1, outputs_2, **_):
        RecordingAnnotator.seen = list(outputs_2["instruction"])
        return [{"instruction": s, "output_1": "r", "output_2": "m", "preference": 2.0} for s in self.seen]


def alpaca_eval_selection(records: list[dict], n: int) -> list[str]:
    """The instructions alpaca_eval.evaluate(max_instances=n) judges, from alpaca_eval's own code."""
    from alpaca_eval import evaluate

    model = pd.DataFrame([{"instruction": r["instruction"], "output": "m", "generator": "m"} for r in records])
    reference = pd.DataFrame([{"instruction": r["instruction"], "output": r["output"]} for r in records])
    evaluate(model_outputs=model, reference_outputs=reference, Annotator=RecordingAnnotator, max_instances=n,
             output_path=None, precomputed_leaderboard=None, fn_metric="get_winrate", sort_by="win_rate",
             is_return_instead_of_print=True,
             is_cache_leaderboard=False)  # fmt: skip
    return RecordingAnnotator.seen


@pytest.mark.parametrize("n", [7, 20])
def test_max_instances_selects_what_alpaca_eval_selects(tmp_path, n):
    """Not the first N: alpaca_eval shuffles with its fixed seed; the rows keep their index and prompt order."""
    table_path, gamed_path, meta_path = outputs(tmp_path)
    table = prepare_prompts(local_cfg(DEMO_PROMPTS, max_instances=n), table_path, gamed_path, meta_path)
    expected = alpaca_eval_selection(ROWS, n)
    assert sorted(table["instruction"]) == sorted(expected)
    assert table["index"].tolist() == sorted(table["index"]) != list(range(n))
    assert [ROWS[i]["instruction"] for i in table["index"]] == table["instruction"].tolist()
    meta = json.loads(meta_path.read_text())
    assert (meta["rows_in_source"], meta["rows_kept"]) == (len(ROWS), n)


def test_max_instances_on_alpaca_eval_shape_spans_every_subset():
    """805 prompts in AlpacaEval's order: the first 129 are one subset, alpaca_eval's 100 are from all five."""
    from alpacaflow.steps.download_prompts import alpaca_eval_subset, records_to_table
    from alpacaflow.testing.synthetic import SUBSETS, synthetic_prompts

    records = synthetic_prompts()
    table = records_to_table(records, "synthetic")
    subset = alpaca_eval_subset(table, 100)
    assert set(table.head(100)["dataset"]) == {"helpful_base"}
    assert set(subset["dataset"]) == {name for name, _ in SUBSETS}
    assert sorted(subset["instruction"]) == sorted(alpaca_eval_selection(records, 100))


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


def test_a_named_df_gamed_must_exist(tmp_path):
    """(None is a prompt set without one: LC n/a; see test_dialogues.)"""
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


def _gamed_without_instructions(path: Path) -> Path:
    pd.read_csv(DEMO_GAMED).drop(columns="instruction").to_csv(path, index=False)
    return path


def test_df_gamed_copy_says_which_instruction_each_index_is(tmp_path):
    """From df_gamed's own column, from the hub prompt file beside it, or from prompts.lc_instructions; else none."""
    bare = _gamed_without_instructions(tmp_path / "bare.csv")
    instructions = [r["instruction"] for r in ROWS]

    def gamed_after(cfg, **env):
        table_path, gamed_path, meta_path = outputs(tmp_path / str(len(list(tmp_path.iterdir()))))
        result = download_cli(cfg, table_path, gamed_path, meta_path, **env)
        assert result.returncode == 0, result.stderr
        return pd.read_csv(gamed_path), json.loads(meta_path.read_text())["df_gamed_instructions"]

    gamed, origin = gamed_after(local_cfg(DEMO_PROMPTS))
    assert origin == "df_gamed's own instruction column"
    gamed, origin = gamed_after(local_cfg(DEMO_PROMPTS, df_gamed=str(bare)))
    assert origin is None and "instruction" not in gamed.columns
    gamed, origin = gamed_after(local_cfg(DEMO_PROMPTS, df_gamed=str(bare), lc_instructions=str(DEMO_PROMPTS)))
    assert origin == str(DEMO_PROMPTS)
    assert gamed["instruction"].tolist() == [instructions[i] for i in gamed["index"]]
    assert gamed.drop(columns="instruction").equals(pd.read_csv(bare))  # nothing else changed

    cache = fake_hub_cache(tmp_path / "hub")
    shutil.copyfile(bare, next((cache / "datasets--tatsu-lab--alpaca_eval" / "snapshots").iterdir()) / "df_gamed.csv")
    cfg = local_cfg("huggingface", df_gamed="df_gamed.csv", expected_rows=len(ROWS), max_instances=5)
    gamed, origin = gamed_after(cfg, HF_HUB_CACHE=str(cache), HF_HUB_OFFLINE="1")
    assert origin == "tatsu-lab/alpaca_eval/alpaca_eval_gpt4_baseline.json"
    assert gamed["instruction"].tolist() == [instructions[i] for i in gamed["index"]]  # all 30, not the 5 kept


def test_repeated_instructions_are_refused_or_the_first_kept(tmp_path):
    """prompts.duplicates: error (the default) names the rows; first keeps each instruction's first row."""
    rows = [*ROWS[:5], {**ROWS[1], "output": "a second reference"}, *ROWS[5:8], ROWS[6]]
    source = tmp_path / "prompts.json"
    source.write_text(json.dumps(rows))
    with pytest.raises(AlpacaflowError, match="rows 1 and 5 have the same instruction"):
        prepare_prompts(local_cfg(source, duplicates="error"), *outputs(tmp_path))
    table_path, gamed_path, meta_path = outputs(tmp_path)
    table = prepare_prompts(local_cfg(source, duplicates="first"), table_path, gamed_path, meta_path)
    assert table["instruction"].tolist() == [r["instruction"] for r in ROWS[:8]]
    assert table["index"].tolist() == [0, 1, 2, 3, 4, 6, 7, 8]  # kept rows keep their row numbers
    assert table["reference_output"].iloc[1] == ROWS[1]["output"]  # the first row's reference
    meta = json.loads(meta_path.read_text())
    assert (meta["duplicates"], meta["duplicates_dropped"], meta["rows_in_source"]) == ("first", 2, 8)
    result = download_cli(local_cfg(source, duplicates="first"), table_path, gamed_path, meta_path)
    assert result.returncode == 0, result.stderr
    assert f"{source}: dropped 2 row(s) repeating an earlier row's instruction" in result.stdout
