"""max_model_len against the model's positions: derived as vLLM derives them, checked before any engine starts."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from alpacaflow.benchmarks import context_settings, setting_key
from alpacaflow.errors import AlpacaflowError
from alpacaflow.model_context import check_downloaded, check_max_model_len, model_config, positions
from conftest import REPO

LLAMA3_ROPE = {"rope_type": "llama3", "factor": 32.0, "low_freq_factor": 1.0, "high_freq_factor": 4.0,
               "original_max_position_embeddings": 8192}  # fmt: skip
#: (name, config.json changes over a tiny model's, the positions vLLM derives)
VARIANTS = [
    ("plain", {}, 2048),
    ("linear_rope", {"rope_scaling": {"rope_type": "linear", "factor": 2.0}}, 4096),
    ("dynamic_rope_old_key", {"rope_scaling": {"type": "dynamic", "factor": 4.0}}, 8192),
    ("llama3_prescaled", {"max_position_embeddings": 131072, "rope_scaling": LLAMA3_ROPE}, 131072),
    ("yarn_prescaled", {"max_position_embeddings": 32768,
                        "rope_scaling": {"rope_type": "yarn", "factor": 4.0, "original_max_position_embeddings": 8192}},
     32768),
]  # fmt: skip


def variant(tiny_models, root: Path, changes: dict) -> Path:
    """The tiny chat model's folder (weights aside) with `changes` in its config.json."""
    folder = root / "model"
    shutil.copytree(tiny_models["chat"], folder, ignore=shutil.ignore_patterns("*.safetensors"))
    config = json.loads((folder / "config.json").read_text())
    (folder / "config.json").write_text(json.dumps({**config, **changes}))
    return folder


@pytest.mark.parametrize(("changes", "expected"), [v[1:] for v in VARIANTS], ids=[v[0] for v in VARIANTS])
def test_positions_follow_the_config_and_its_rope_scaling(tiny_models, tmp_path, changes, expected):
    assert positions(model_config(str(variant(tiny_models, tmp_path, changes))))[0] == expected


@pytest.mark.slow
@pytest.mark.parametrize(("changes", "expected"), [v[1:] for v in VARIANTS], ids=[v[0] for v in VARIANTS])
def test_positions_agree_with_vllms_own_derivation(tiny_models, tmp_path, changes, expected):
    """vLLM's ModelConfig (no engine) derives the same max_model_len from the same folder."""
    from vllm.config import ModelConfig

    folder = variant(tiny_models, tmp_path, changes)
    assert ModelConfig(model=str(folder), tokenizer=str(folder)).max_model_len == expected
    with pytest.raises(ValueError, match="max_model_len"):  # vLLM's own refusal one above (pydantic's error)
        ModelConfig(model=str(folder), tokenizer=str(folder), max_model_len=expected + 1)


def test_positions_of_nested_unknown_and_smallest_keys():
    assert positions({"text_config": {"max_position_embeddings": 8192}, "vision_config": {}}) == (
        8192, "max_position_embeddings 8192")  # fmt: skip
    assert positions({"n_positions": 1024, "max_position_embeddings": 4096})[0] == 1024
    assert positions({"hidden_size": 8}) is None


def test_the_line_names_the_model_both_numbers_and_the_key(tiny_models, monkeypatch):
    path = str(tiny_models["chat"])
    check_max_model_len("model 'm'", path, None, 2048, "generation.max_model_len")  # at the limit: fine
    with pytest.raises(AlpacaflowError) as caught:
        check_max_model_len("model 'm'", path, None, 4096, "models.m.generation.max_model_len")
    assert str(caught.value) == (
        f"config error at 'models.m.generation.max_model_len': model 'm' ({path}) allows 2048 positions "
        "(config.json: max_position_embeddings 2048), but max_model_len is 4096: lower "
        "models.m.generation.max_model_len to 2048 or less (or set VLLM_ALLOW_LONG_MAX_MODEL_LEN=1, as vLLM "
        "allows, if you know the model extrapolates)"
    )
    monkeypatch.setenv("VLLM_ALLOW_LONG_MAX_MODEL_LEN", "1")  # vLLM's own override lifts ours too
    check_max_model_len("model 'm'", path, None, 4096, "generation.max_model_len")


def test_a_hub_model_is_checked_once_its_config_is_in_the_cache(tmp_path, monkeypatch):
    """Before download_model ran there is nothing to check; afterwards the cached config.json is read, offline."""
    import huggingface_hub.constants

    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_CACHE", str(tmp_path))
    check_max_model_len("model 'hub'", "org/model", None, 1 << 20, "generation.max_model_len")  # not cached: passes
    repo, commit = tmp_path / "models--org--model", "0" * 40
    (repo / "refs").mkdir(parents=True)
    (repo / "refs" / "main").write_text(commit)
    (repo / "snapshots" / commit).mkdir(parents=True)
    (repo / "snapshots" / commit / "config.json").write_text(json.dumps({"max_position_embeddings": 40960}))
    with pytest.raises(AlpacaflowError, match=r"model 'hub' \(org/model\) allows 40960 positions .* is 131072"):
        check_max_model_len("model 'hub'", "org/model", None, 131072, "generation.max_model_len")
    with pytest.raises(AlpacaflowError, match="allows 40960 positions"):  # by the commit download_model resolved
        check_max_model_len("model 'hub'", "org/model", commit, 131072, "generation.max_model_len")
    with pytest.raises(AlpacaflowError, match="allows 40960 positions"):  # what a generate or annotate job checks
        check_downloaded("model 'hub'", "org/model", commit, 131072, "generation.max_model_len")


def test_a_job_leaves_a_local_folder_to_the_load_time_check(tiny_models):
    check_downloaded("model 'm'", str(tiny_models["chat"]), None, 4096, "generation.max_model_len")


def test_each_benchmark_names_the_key_that_set_its_context():
    config = {
        "benchmarks": ["alpaca_eval", "arena_hard", "mt_bench"],
        "generation": {"max_model_len": 4096},
        "arena_hard": {"versions": ["v0.1"], "generation": {"max_model_len": 8192}, "judge": None},
        "mt_bench": {"generation": {"max_new_tokens": 64}, "judge": None, "temperatures": {},
                     "default_temperature": 0.7},
        "models": {"a": {"generation": {"max_model_len": 2048}}, "b": {"arena_hard_generation": {"max_model_len": 1}}},
    }  # fmt: skip
    assert setting_key(config, "a", "alpaca_eval", "max_model_len") == "models.a.generation.max_model_len"
    assert setting_key(config, "b", "alpaca_eval", "max_model_len") == "generation.max_model_len"
    assert setting_key(config, "a", "arena_hard-v0.1", "max_model_len") == "arena_hard.generation.max_model_len"
    own = "models.b.arena_hard_generation.max_model_len"
    assert setting_key(config, "b", "arena_hard-v0.1", "max_model_len") == own
    assert setting_key(config, "a", "mt_bench", "max_model_len") == "models.a.generation.max_model_len"


def test_the_demo_checks_every_model_on_every_benchmark_and_its_local_judge(tiny_models):
    import yaml
    from alpacaflow.config import check_config

    demo = yaml.safe_load((REPO / "test" / "demo" / "config.yaml").read_text())
    demo.pop("sweeps")  # the demo's models are built by `make models`: the tiny models stand in for them
    demo["models"]["zero_shot"]["path"], demo["models"]["sft"]["path"] = (
        str(tiny_models["base"]),
        str(tiny_models["chat"]),
    )
    demo["judge"]["model"] = str(tiny_models["chat"])
    config = check_config(demo)
    checked = {(who, key) for who, _, _, _, key in context_settings(config)}
    assert ("model 'sft'", "generation.max_model_len") in checked
    assert ("model 'sft'", "arena_hard.generation.max_model_len") in checked
    assert ("the judge", "judge.max_model_len") in checked  # the Arena-Hard and MT-Bench judges are API judges
    assert not any(key.startswith(("arena_hard.judge", "mt_bench.judge")) for _, key in checked)
