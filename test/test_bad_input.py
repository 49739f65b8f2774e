"""The bad-input matrix: every case runs the real step (or Snakemake) in a subprocess.

A case the run cannot go on from must end in one ``error: ...`` line (or
Snakemake's one-line WorkflowError) that names the file, row or key, with a
non-zero exit, no traceback and no output written. Cases that are handled
(reordered outputs, empty outputs, outputs too long for the judge) must
finish and be counted.
"""

from __future__ import annotations

import json
import math
import shutil
from collections.abc import Callable
from pathlib import Path

import pandas as pd
import pytest
import yaml
from alpacaflow.io import read_parquet
from conftest import DEMO_GAMED, DEMO_PROMPTS, demo_prompt_table, judge_cache, run_cli, run_snakemake
from test_judge import judge_cfg

N = 4


@pytest.fixture(scope="module")
def prompts(tmp_path_factory) -> Path:
    return demo_prompt_table(tmp_path_factory.mktemp("prompts"), N)


def good_records(prompts: Path) -> list[dict]:
    table = read_parquet(prompts)
    return [{"instruction": s, "output": f"answer {i}", "generator": "m"} for i, s in enumerate(table["instruction"])]


def tiny_judge(tiny_models, **overrides) -> dict:
    return judge_cfg(method="weighted", model=str(tiny_models["chat"]), device="cpu", tensor_parallel_size=1,
                     max_model_len=1024, dtype="float32", gpu_memory_utilization=0.2, enforce_eager=True,
                     **overrides)  # fmt: skip


def annotate(judge: dict, prompts: Path, outputs: Path, folder: Path):
    return run_cli("annotate", "--judge", json.dumps(judge), "--model", "m", "--prompts", str(prompts),
                   "--outputs", str(outputs), "--cache", str(folder / "judge_cache"),
                   "--annotations", str(folder / "annotations.json"))  # fmt: skip


def assert_one_line_error(result, *fragments: str) -> str:
    """Non-zero exit, no traceback, the last stderr line is the error and names what is wrong."""
    assert result.returncode != 0, result.stdout[-2000:]
    assert "Traceback" not in result.stderr, result.stderr[-3000:]
    last = result.stderr.strip().splitlines()[-1]
    assert last.startswith("error: "), result.stderr[-3000:]
    for fragment in fragments:
        assert fragment in last, last
    return last


def _dump(records) -> bytes:
    return json.dumps(records).encode()


# (case id, contents of the model outputs file made from good records, what the error line says)
OUTPUT_FILE_CASES: list[tuple[str, Callable[[list[dict]], bytes], str]] = [
    ("malformed_json", lambda r: b'[{"instruction": "x", ', "malformed JSON at line 1 column"),
    ("not_a_list", lambda r: b'{"instruction": "x", "output": "y"}', "expected a JSON list of records, got dict"),
    ("missing_instruction", lambda r: _dump([{"output": "y"}, *r[1:]]), "row 0: needs 'instruction'"),
    ("missing_output", lambda r: _dump([*r[:2], {"instruction": r[2]["instruction"]}, *r[3:]]),
     "row 2: needs 'instruction'"),
    ("non_string_instruction", lambda r: _dump([{**r[0], "instruction": 7}, *r[1:]]),
     "row 0: 'instruction' must be a string"),
    ("non_string_output", lambda r: _dump([*r[:1], {**r[1], "output": 42}, *r[2:]]),
     "row 1: 'output' must be a string, got int"),
    ("list_output", lambda r: _dump([*r[:1], {**r[1], "output": ["a", "b"]}, *r[2:]]),
     "row 1: 'output' must be a string, got list"),
    ("duplicate_instruction", lambda r: _dump([*r, r[0]]), f"row {N}: duplicate instruction"),
    ("extra_instruction", lambda r: _dump([*r, {"instruction": "not a prompt", "output": "y"}]),
     "instructions do not match the prompt set (0 missing, 1 extra)"),
    ("missing_prompt", lambda r: _dump(r[1:]), "instructions do not match the prompt set (1 missing, 0 extra)"),
    ("invalid_utf8", lambda r: b'[{"instruction": "caf\xe9", "output": "x"}]', "not valid UTF-8 (byte 21)"),
    ("empty_file", lambda r: b"", "malformed JSON at line 1 column 1"),
]  # fmt: skip


@pytest.mark.parametrize(("contents", "message"), [c[1:] for c in OUTPUT_FILE_CASES],
                         ids=[c[0] for c in OUTPUT_FILE_CASES])  # fmt: skip
def test_bad_model_outputs_file(tmp_path, prompts, tiny_models, contents, message):
    outputs = tmp_path / "model_outputs.json"
    outputs.write_bytes(contents(good_records(prompts)))
    result = annotate(tiny_judge(tiny_models), prompts, outputs, tmp_path)
    assert_one_line_error(result, f"error: {outputs}: ", message)
    assert not (tmp_path / "annotations.json").exists() and not (tmp_path / "judge_cache").exists()


@pytest.mark.parametrize(
    ("cache", "message"),
    [
        ("[{", "corrupt annotation cache"),
        (json.dumps({"a": 1}), "annotation cache is not a JSON list"),
        (json.dumps([{"annotator": "someone_else", "preference": 1}]), "holds judgments by someone_else"),
    ],
    ids=["corrupt_cache", "cache_not_a_list", "foreign_cache"],
)
def test_bad_annotation_cache(tmp_path, prompts, tiny_models, cache, message):
    outputs = tmp_path / "model_outputs.json"
    outputs.write_bytes(_dump(good_records(prompts)))
    judge = tiny_judge(tiny_models)
    path = judge_cache(tmp_path / "judge_cache", judge)
    path.parent.mkdir()
    path.write_text(cache)
    result = annotate(judge, prompts, outputs, tmp_path)
    assert_one_line_error(result, str(path), message)
    assert not (tmp_path / "annotations.json").exists()
    assert path.read_text() == cache  # left for the user to inspect


def generate_cli(tmp_path: Path, prompts: Path, path: Path, prompt_format: str = "chat"):
    from test_generate import settings

    s = settings("m", path, prompt_format, "transformers")
    return run_cli("generate", "--settings", json.dumps(s), "--prompts", str(prompts), "--out-dir", str(tmp_path / "o"))


def test_model_path_that_does_not_exist(tmp_path, prompts):
    result = generate_cli(tmp_path, prompts, tmp_path / "no_such_model")
    assert_one_line_error(result, f"model folder not found: {tmp_path / 'no_such_model'}")
    assert not (tmp_path / "o" / "model_outputs.json").exists()


def test_model_folder_without_tokenizer(tmp_path, prompts, tiny_models):
    folder = tmp_path / "weights_only"
    folder.mkdir()
    for name in ("config.json", "model.safetensors"):
        shutil.copy(tiny_models["chat"] / name, folder / name)
    result = generate_cli(tmp_path, prompts, folder)
    assert_one_line_error(result, f"cannot load a tokenizer from '{folder}'")
    assert not (tmp_path / "o" / "model_outputs.json").exists()


def test_tokenizer_without_chat_template_where_one_is_required(tmp_path, prompts, tiny_models):
    from tokenizers import Tokenizer, models, pre_tokenizers
    from transformers import PreTrainedTokenizerFast

    folder = tmp_path / "no_template"
    shutil.copytree(tiny_models["base"], folder)
    for name in ("tokenizer.json", "tokenizer_config.json", "special_tokens_map.json", "chat_template.jinja"):
        (folder / name).unlink(missing_ok=True)
    raw = Tokenizer(models.WordLevel({"[UNK]": 0, "hi": 1, "</s>": 2}, unk_token="[UNK]"))
    raw.pre_tokenizer = pre_tokenizers.Whitespace()
    PreTrainedTokenizerFast(tokenizer_object=raw, unk_token="[UNK]", eos_token="</s>").save_pretrained(folder)
    result = generate_cli(tmp_path, prompts, folder, prompt_format="chat")
    assert_one_line_error(result, "no chat template", "prompt_format")
    assert not (tmp_path / "o" / "model_outputs.json").exists()


def test_missing_df_gamed_for_lc(tmp_path):
    rows = [
        {"prompt_index": i, "preference": 1.5, "output_1": "a", "output_2": "b", "generator_1": "ref",
         "generator_2": "m", "annotator": "j", "instruction": f"q{i}"}
        for i in range(4)
    ]  # fmt: skip
    (tmp_path / "annotations.json").write_text(json.dumps(rows))
    (tmp_path / "throughput.json").write_text("{}")
    missing = tmp_path / "df_gamed.csv"
    result = run_cli("leaderboard", "--models", "m", "--annotations", str(tmp_path / "annotations.json"),
                     "--throughputs", str(tmp_path / "throughput.json"), "--df-gamed", str(missing),
                     "--csv", str(tmp_path / "lb.csv"), "--md", str(tmp_path / "lb.md"))  # fmt: skip
    assert_one_line_error(result, f"{missing}: df_gamed file not found")
    assert not (tmp_path / "lb.csv").exists() and not (tmp_path / "lb.md").exists()


# ----------------------------------------------------------------------------- config errors (Snakemake)


def config_run(tmp_path: Path, tiny_models, edit: Callable[[dict], None], *args: str):
    config = {
        "prompts": {"source": str(DEMO_PROMPTS), "df_gamed": str(DEMO_GAMED)},
        "generation": {"device": "cpu", "max_model_len": 1024},  # the tiny models have 2,048 positions
        "judge": {"method": "weighted", "model": str(tiny_models["chat"]), "device": "cpu", "max_model_len": 1024},
        "models": {"m": {"path": str(tiny_models["chat"])}},
    }
    edit(config)
    (tmp_path / "config.yaml").write_text(yaml.safe_dump(config))
    return run_snakemake("--configfile", "config.yaml", "-n", *args, cwd=tmp_path)


CONFIG_CASES = [
    ("unknown_key", lambda c: c["generation"].update(max_tokens=5), (),
     "config error at 'generation': Additional properties are not allowed ('max_tokens' was unexpected)"),
    ("wrong_type", lambda c: c["generation"].update(max_new_tokens="many"), (),
     "config error at 'generation.max_new_tokens'"),
    ("negative_max_new_tokens", lambda c: c["models"]["m"].update(generation={"max_new_tokens": -1}), (),
     "config error at 'models.m.generation.max_new_tokens': -1 is less than the minimum of 1"),
    ("temperature_out_of_range", lambda c: c["generation"].update(temperature=3.5), (),
     "config error at 'generation.temperature': 3.5 is greater than the maximum of 2"),
    ("tp_larger_than_gpus", lambda c: c["judge"].update(device="cuda", tensor_parallel_size=4),
     ("--resources", "gpu=2"),
     "config error at 'judge.tensor_parallel_size': the judge needs 4 GPUs but only 2 are declared"),
    ("generate_tp_larger_than_gpus", lambda c: c["models"]["m"].update(
        generation={"device": "cuda", "tensor_parallel_size": 4}), ("--resources", "gpu=2"),
     "config error at 'models.m.generation.tensor_parallel_size': m needs 4 GPUs but only 2 are declared"),
    ("tp_on_cpu", lambda c: c["models"]["m"].update(generation={"tensor_parallel_size": 2}), (),
     "config error at 'models.m.generation.tensor_parallel_size': 2 GPUs need backend vllm and device cuda"),
    ("missing_model_folder", lambda c: c["models"]["m"].update(path="/no/such/model"), (),
     "model folder not found: /no/such/model"),
    # max_model_len above the model's positions (config.json): one line before any engine, naming the key that set it
    ("max_model_len_above_positions", lambda c: c["generation"].update(max_model_len=4096), (),
     "config error at 'generation.max_model_len': model 'm' ("),
    ("model_max_model_len_above_positions", lambda c: c["models"]["m"].update(generation={"max_model_len": 3000}),
     (), "config error at 'models.m.generation.max_model_len': model 'm' ("),
    ("judge_max_model_len_above_positions", lambda c: c["judge"].update(max_model_len=7000), (),
     "config error at 'judge.max_model_len': the judge ("),
]  # fmt: skip


@pytest.mark.parametrize(("edit", "args", "message"), [c[1:] for c in CONFIG_CASES], ids=[c[0] for c in CONFIG_CASES])
def test_bad_config(tmp_path, tiny_models, edit, args, message):
    result = config_run(tmp_path, tiny_models, edit, *args)
    assert result.returncode != 0
    text = result.stdout + result.stderr
    assert "Traceback" not in text
    assert any(message in line for line in text.splitlines()), text[-3000:]
    assert not (tmp_path / "results").exists()


def engine_run(tmp_path: Path, tiny_models, model: Path, **generation) -> tuple[object, str]:
    """A real (not dry) Snakemake run of model m's generate job: the result and its last stderr line of ours."""
    config = {
        "results_dir": "results",
        "prompts": {"source": str(DEMO_PROMPTS), "df_gamed": str(DEMO_GAMED), "max_instances": 2},
        "generation": {"device": "cpu", "max_new_tokens": 4, **generation},
        "judge": {"method": "weighted", "model": str(tiny_models["chat"]), "device": "cpu", "max_model_len": 1024},
        "models": {"m": {"path": str(model), "prompt_format": "chat"}},
    }
    (tmp_path / "config.yaml").write_text(yaml.safe_dump(config))
    result = run_snakemake("--configfile", "config.yaml", "--cores", "1", "results/m/model_outputs.json", cwd=tmp_path)
    ours = [line for line in result.stderr.splitlines() if line.startswith(("error: ", "config error"))]
    return result, ours[-1] if ours else result.stderr[-3000:]


def test_any_exception_ends_in_one_line_with_its_type_first_line_and_log(capsys, monkeypatch):
    """A multi-line exception (pydantic's, as vLLM raises it, ends in a URL) is said by its first line and message."""
    import pydantic
    from alpacaflow.cli import run

    class ModelConfig(pydantic.BaseModel):
        max_model_len: int

        @pydantic.field_validator("max_model_len")
        @classmethod
        def fits(cls, value: int) -> int:
            raise ValueError(f"User-specified max_model_len ({value}) is greater than the derived max_model_len")

    monkeypatch.setenv("ALPACAFLOW_LOG", "results/logs/generate/m.log")
    assert run(lambda: ModelConfig(max_model_len=4096), {}) == 1
    err = capsys.readouterr().err
    assert "Traceback (most recent call last)" in err and "errors.pydantic.dev" in err  # the whole story in the log
    assert err.strip().splitlines()[-1] == (
        "error: ValidationError: 1 validation error for ModelConfig: Value error, User-specified max_model_len "
        "(4096) is greater than the derived max_model_len; traceback in results/logs/generate/m.log"
    )
    assert run(lambda: {}["missing"], {}) == 1  # an exception whose text is only its argument
    assert capsys.readouterr().err.strip().splitlines()[-1] == (
        "error: KeyError: 'missing'; traceback in results/logs/generate/m.log"
    )


@pytest.mark.slow
def test_max_model_len_above_the_models_positions_stops_before_any_job(tmp_path, tiny_models):
    """vLLM's refusal reached the terminal as pydantic's trailing URL; now the load-time check says it."""
    result, line = engine_run(tmp_path, tiny_models, tiny_models["chat"], backend="vllm", max_model_len=4096)
    assert result.returncode != 0
    assert line == (
        f"config error at 'generation.max_model_len': model 'm' ({tiny_models['chat']}) allows 2048 positions "
        "(config.json: max_position_embeddings 2048), but max_model_len is 4096: lower generation.max_model_len to "
        "2048 or less (or set VLLM_ALLOW_LONG_MAX_MODEL_LEN=1, as vLLM allows, if you know the model extrapolates)"
    )
    assert "errors.pydantic.dev" not in result.stderr
    assert not (tmp_path / "results").exists()  # no job ran


@pytest.mark.slow
def test_an_engines_own_exception_reaches_the_user_as_its_type_first_line_and_log(tmp_path, tiny_models):
    """Weights the engine cannot read (a truncated download): the traceback stays in the log, whose last line
    is the one sentence the rule repeats on the terminal."""
    broken = tmp_path / "broken"
    shutil.copytree(tiny_models["chat"], broken)
    weights = (broken / "model.safetensors").read_bytes()
    (broken / "model.safetensors").write_bytes(weights[:8] + b"\xff" * 64)  # a header length past the file's end
    result, line = engine_run(tmp_path, tiny_models, broken, backend="transformers", max_model_len=1024)
    log = "results/logs/generate/m.log"
    assert result.returncode != 0
    assert line == (
        "error: SafetensorError: Error while deserializing header: invalid header length; traceback in " + log
    )
    text = (tmp_path / log).read_text()
    assert "Traceback (most recent call last)" in text and text.strip().splitlines()[-1] == line
    assert not (tmp_path / "results" / "m" / "model_outputs.json").exists()


# ----------------------------------------------------------------------------- handled, not fatal


def test_reordered_outputs_are_put_in_prompt_order(tmp_path, prompts):
    records = good_records(prompts)[::-1]
    source = tmp_path / "reversed.json"
    source.write_text(json.dumps(records))
    settings = {"model": "m", "outputs": str(source)}
    result = run_cli("generate", "--settings", json.dumps(settings), "--prompts", str(prompts),
                     "--out-dir", str(tmp_path / "o"))  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]
    written = json.loads((tmp_path / "o" / "model_outputs.json").read_text())
    assert [r["instruction"] for r in written] == read_parquet(prompts)["instruction"].tolist()
    assert [r["output"] for r in written] == [f"answer {i}" for i in range(N)]


@pytest.fixture(scope="module")
def odd_outputs_judged(tmp_path_factory, prompts, tiny_models) -> tuple[Path, object]:
    """One annotate run (tiny real vLLM judge) over an empty, a whitespace, a NaN and a very long output."""
    folder = tmp_path_factory.mktemp("odd")
    records = good_records(prompts)
    records[0]["output"] = ""
    records[1]["output"] = "  \n "
    records[2]["output"] = math.nan
    records[3]["output"] = "word " * 4000
    outputs = folder / "model_outputs.json"
    outputs.write_text(json.dumps(records))  # NaN is written as the JSON literal NaN
    result = annotate(tiny_judge(tiny_models), prompts, outputs, folder)
    assert result.returncode == 0, result.stderr[-3000:]
    return folder, result


def test_empty_and_nan_outputs_are_judged_and_counted(odd_outputs_judged):
    folder, result = odd_outputs_judged
    rows = json.loads((folder / "annotations.json").read_text())
    assert [r["output_2"] for r in rows[:3]] == ["", "", ""]
    assert all(r["preference"] is not None for r in rows[:3])  # judged, not dropped
    assert json.loads(result.stdout.strip().splitlines()[-1])["empty_outputs"] == 3
    board = leaderboard(folder)
    assert int(board.loc[0, "empty_outputs"]) == 3


def test_output_longer_than_the_judge_context_is_cut_and_counted(odd_outputs_judged):
    folder, result = odd_outputs_judged
    rows = json.loads((folder / "annotations.json").read_text())
    assert [r["truncated_for_judge"] for r in rows] == [False, False, False, True]
    assert rows[3]["output_2"] == "word " * 4000  # lengths (and LC) use the full output
    assert "pair(s) too long for the judge's context (max_model_len=1024) were cut to fit" in result.stderr
    assert json.loads(result.stdout.strip().splitlines()[-1])["truncated_for_judge"] == 1
    assert int(leaderboard(folder).loc[0, "truncated_for_judge"]) == 1


def leaderboard(folder: Path) -> pd.DataFrame:
    from alpacaflow.benchmarks.alpaca_eval.report import judging_lines
    from alpacaflow.findings import judging_issues

    (folder / "throughput.json").write_text("{}")
    result = run_cli("leaderboard", "--models", "m", "--annotations", str(folder / "annotations.json"),
                     "--throughputs", str(folder / "throughput.json"), "--df-gamed", str(DEMO_GAMED),
                     "--csv", str(folder / "lb.csv"), "--md", str(folder / "lb.md"))  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]
    board = pd.read_csv(folder / "lb.csv")
    assert judging_issues(board)[0]["model"] == "m"
    assert any(line.startswith("- m: ") for line in judging_lines(board))
    return board
