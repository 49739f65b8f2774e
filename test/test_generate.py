"""generate: backend parity (vLLM vs transformers), output files, imported outputs."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
from alpacaflow.errors import AlpacaflowError
from alpacaflow.io import read_parquet
from alpacaflow.steps.generate import import_outputs, run_generation
from conftest import demo_prompt_table, resolved_settings, run_cli, run_generate_probe

N_PROMPTS = 8


@pytest.fixture(scope="module")
def prompt_table(tmp_path_factory) -> Path:
    return demo_prompt_table(tmp_path_factory.mktemp("prompts"), N_PROMPTS)


def settings(model: str, path: Path, prompt_format: str, backend: str, **entry) -> dict:
    """A model's resolved settings, as the workflow passes them (schema defaults filled)."""
    generation = {
        "backend": backend,
        "device": "cpu",
        "dtype": "float32",
        "temperature": 0.0,
        "max_new_tokens": 24,
        "max_model_len": 512,
        "gpu_memory_utilization": 0.2,
        "enforce_eager": True,
        "batch_size": 3,
    }
    return resolved_settings(model, {"path": str(path), "prompt_format": prompt_format, **entry}, generation)


def generate(out_dir: Path, prompts: Path, s: dict) -> pd.DataFrame:
    result = run_cli("generate", "--settings", json.dumps(s), "--prompts", str(prompts), "--out-dir", str(out_dir))
    assert result.returncode == 0, result.stderr[-3000:]
    return read_parquet(out_dir / "generations.parquet")


AGREE = [("chat", "chat"), ("base", "alpaca")]


@pytest.fixture(scope="module")
def vllm_runs(tmp_path_factory, tiny_models, prompt_table) -> Path:
    """Every vLLM generation of this module, in one process (one vLLM import): see the tests below."""
    root = tmp_path_factory.mktemp("vllm_runs")
    runs = [(settings("m", tiny_models[v], f, "vllm"), prompt_table, root / f"agree-{v}") for v, f in AGREE]
    sampled = settings("m", tiny_models["chat"], "chat", "vllm")
    sampled["generation"].update(temperature=0.7, top_p=0.9)
    (root / "subset").mkdir()
    read_parquet(prompt_table).iloc[[5, 2]].to_parquet(root / "subset" / "prompts.parquet")
    runs += [(sampled, prompt_table, root / "all"), (sampled, root / "subset" / "prompts.parquet", root / "some")]
    result = run_generate_probe(runs)
    assert result.returncode == 0, result.stderr[-3000:]
    return root


@pytest.mark.slow
@pytest.mark.parametrize(("variant", "prompt_format"), AGREE)
def test_vllm_and_transformers_agree_token_for_token(tmp_path, tiny_models, prompt_table, vllm_runs, variant,
                                                     prompt_format):  # fmt: skip
    """Greedy decoding from the same token ids gives the same output ids in both backends.

    This checks that prompt formatting, stop tokens and decoding settings agree.
    """
    run_generation(settings("m", tiny_models[variant], prompt_format, "transformers"), prompt_table, tmp_path / "hf")
    hf = read_parquet(tmp_path / "hf" / "generations.parquet")
    vl = read_parquet(vllm_runs / f"agree-{variant}" / "generations.parquet")
    assert len(hf) == len(vl) == N_PROMPTS
    assert hf["prompt"].tolist() == vl["prompt"].tolist()
    for i in range(N_PROMPTS):
        assert list(hf["output_token_ids"][i]) == list(vl["output_token_ids"][i]), f"prompt {i} differs"
    assert hf["finish_reason"].tolist() == vl["finish_reason"].tolist()
    assert hf["output_tokens"].tolist() == vl["output_tokens"].tolist()
    assert hf["output"].tolist() == vl["output"].tolist()
    assert set(hf["finish_reason"]) <= {"stop", "length"}

    for out_dir, backend in ((tmp_path / "hf", "transformers"), (vllm_runs / f"agree-{variant}", "vllm")):
        records = json.loads((out_dir / "model_outputs.json").read_text())
        assert [sorted(r) for r in records] == [["dataset", "generator", "instruction", "output"]] * N_PROMPTS
        assert {r["generator"] for r in records} == {"m"}
        throughput = json.loads((out_dir / "throughput.json").read_text())
        assert throughput["backend"] == backend
        assert throughput["n_examples"] == N_PROMPTS
        assert throughput["output_tokens"] == int(vl["output_tokens"].sum())
        assert throughput["load_seconds"] > 0 and throughput["generate_seconds"] > 0
        expected_rate = throughput["output_tokens"] / throughput["generate_seconds"]
        assert throughput["output_tokens_per_second"] == pytest.approx(expected_rate, rel=1e-6)


def test_missing_model_folder_is_one_line(tmp_path, prompt_table):
    s = settings("m", tmp_path / "nowhere", "chat", "transformers")
    result = run_cli(
        "generate", "--settings", json.dumps(s), "--prompts", str(prompt_table), "--out-dir", str(tmp_path)
    )
    assert result.returncode == 1
    assert result.stderr.strip().splitlines()[-1].startswith("error: model folder not found")
    assert "Traceback" not in result.stderr
    assert not (tmp_path / "model_outputs.json").exists()


def _outputs_file(tmp_path: Path, records: list[dict]) -> Path:
    path = tmp_path / "model_outputs.json"
    path.write_text(json.dumps(records))
    return path


def test_imported_outputs_any_order(tmp_path, prompt_table):
    prompts = read_parquet(prompt_table)
    records = [{"instruction": s, "output": f"answer {i}"} for i, s in enumerate(prompts["instruction"])][::-1]
    source = _outputs_file(tmp_path, records)
    out = tmp_path / "out"
    import_outputs({"model": "mine", "outputs": str(source)}, prompt_table, {}, out)
    written = json.loads((out / "model_outputs.json").read_text())
    assert [r["instruction"] for r in written] == prompts["instruction"].tolist()
    assert [r["output"] for r in written] == [f"answer {i}" for i in range(N_PROMPTS)]
    assert {r["generator"] for r in written} == {"mine"}


@pytest.mark.parametrize(
    ("edit", "meta", "pattern"),
    [
        (lambda rs: rs[1:], {}, "1 prompt\\(s\\) of the prompt set have no output"),
        (lambda rs: [*rs, {"instruction": "extra", "output": "x"}], {}, "1 output\\(s\\) for instructions not in"),
        (lambda rs: [*rs, rs[0]], {}, "duplicate instruction"),
        (lambda rs: [{"instruction": rs[0]["instruction"]}, *rs[1:]], {}, "row 0: needs 'instruction'"),
        (lambda rs: [{**rs[0], "output": 3}, *rs[1:]], {}, "'output' must be a string"),
    ],
)
def test_imported_outputs_must_match_prompts(tmp_path, prompt_table, edit, meta, pattern):
    prompts = read_parquet(prompt_table)
    records = [{"instruction": s, "output": "x"} for s in prompts["instruction"]]
    source = _outputs_file(tmp_path, edit(records))
    with pytest.raises(AlpacaflowError, match=pattern):
        import_outputs({"model": "mine", "outputs": str(source)}, prompt_table, meta, tmp_path / "out")
    assert not (tmp_path / "out" / "model_outputs.json").exists()


def test_imported_outputs_may_cover_more_than_a_subset(tmp_path, prompt_table):
    prompts = read_parquet(prompt_table)
    records = [{"instruction": s, "output": "x"} for s in prompts["instruction"]]
    records.append({"instruction": "from the full set", "output": "y"})
    source = _outputs_file(tmp_path, records)
    meta = {"rows_kept": N_PROMPTS, "rows_in_source": 30}
    import_outputs({"model": "mine", "outputs": str(source)}, prompt_table, meta, tmp_path / "out")
    assert len(json.loads((tmp_path / "out" / "model_outputs.json").read_text())) == N_PROMPTS


@pytest.mark.slow
def test_vllm_sampling_does_not_depend_on_batch_composition(vllm_runs):
    """Per-request seeds: a prompt's sampled output is the same alone in a small set or in a larger one."""
    big = read_parquet(vllm_runs / "all" / "generations.parquet")
    small = read_parquet(vllm_runs / "some" / "generations.parquet")
    picked = read_parquet(vllm_runs / "subset" / "prompts.parquet")
    assert small["index"].tolist() == picked["index"].tolist()
    for _, row in small.iterrows():
        assert list(row["output_token_ids"]) == list(big.loc[big["index"] == row["index"], "output_token_ids"].iloc[0])
    assert len({tuple(ids) for ids in big["output_token_ids"]}) > 1


def test_imported_outputs_keep_the_first_of_a_repeated_instruction(tmp_path, prompt_table):
    """With prompts.duplicates: first (in prompts_meta.json) an imported file's repeats keep their first output."""
    prompts = read_parquet(prompt_table)
    records = [{"instruction": s, "output": f"answer {i}"} for i, s in enumerate(prompts["instruction"])]
    source = _outputs_file(tmp_path, [*records, {**records[2], "output": "a later answer"}])
    out = tmp_path / "out"
    import_outputs({"model": "mine", "outputs": str(source)}, prompt_table, {"duplicates": "first"}, out)
    written = json.loads((out / "model_outputs.json").read_text())
    assert [r["output"] for r in written] == [f"answer {i}" for i in range(N_PROMPTS)]
    assert json.loads((out / "throughput.json").read_text())["duplicates_dropped"] == 1
    from alpacaflow.benchmarks.alpaca_eval.report import notes_lines
    from alpacaflow.findings import duplicates_dropped

    tps = {"mine": json.loads((out / "throughput.json").read_text())}
    assert duplicates_dropped({"duplicates_dropped": 2}, tps) == {
        "prompt_set": 2, "imported": {"mine": {"source": str(source), "dropped": 1}}}  # fmt: skip
    notes = notes_lines({"duplicates_dropped": 2}, tps)
    assert notes[0].startswith("2 row(s) of the prompt set repeated an earlier row's instruction and were dropped")
    kept = "the first output of each was kept."
    assert notes[1] == f"mine's imported outputs ({source}) repeated 1 instruction(s); {kept}"
