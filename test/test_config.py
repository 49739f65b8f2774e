"""The config schema: bad configs fail with one line naming the key; defaults are filled."""

from __future__ import annotations

import copy
import re
from pathlib import Path

import pytest
import yaml
from alpacaflow.config import check_config, defaults, gpus_for, model_settings, validate_config
from alpacaflow.errors import AlpacaflowError
from alpacaflow.formatting import ALPACA_TEMPLATE

REPO = Path(__file__).resolve().parents[1]


def real_config() -> dict:
    return yaml.safe_load((REPO / "config.yaml").read_text())


def test_shipped_configs_are_valid():
    check_config(real_config())
    demo = yaml.safe_load((REPO / "test" / "demo" / "config.yaml").read_text())
    validate_config(demo)
    # The demo's zero-shot base model is cut at the Alpaca template's next header.
    assert model_settings(demo, "zero_shot")["stop"] == ["### Instruction:", "### Input:", "### Response:"]
    assert model_settings(demo, "sft")["stop"] == []


def test_defaults_are_filled():
    config = validate_config({"models": {"m": {"path": "org/model"}}})
    assert config["results_dir"] == "results"
    assert config["prompts"]["source"] == "huggingface"
    assert config["prompts"]["expected_rows"] == 805
    assert config["models"]["m"]["prompt_format"] == "chat"


@pytest.mark.parametrize(
    ("mutate", "key", "words"),
    [
        (lambda c: c.update(typo_key=1), "(top level)", "typo_key"),
        (lambda c: c["generation"].update(temperature=3), "generation.temperature", "maximum"),
        (lambda c: c["generation"].update(max_new_tokens=-5), "generation.max_new_tokens", "minimum"),
        (lambda c: c["generation"].update(max_new_tokens="many"), "generation.max_new_tokens", "integer"),
        (lambda c: c["generation"].update(backend="llamacpp"), "generation.backend", "llamacpp"),
        (lambda c: c["models"]["sft"].update(generation={"top_p": 0}), "models.sft.generation.top_p", "0"),
        (lambda c: c["models"]["sft"].update(prompt_format="vicuna"), "models.sft.prompt_format", "vicuna"),
        (lambda c: c["models"]["sft"].update(pth="x"), "models.sft", "pth"),
        (lambda c: c["prompts"].update(max_instances=0), "prompts.max_instances", "minimum"),
        (lambda c: c.update(models={}), "models", "non-empty"),
        (lambda c: c.update(prompt_date="2024-07-26"), "prompt_date", "does not match"),
    ],
)
def test_schema_errors_name_the_key(mutate, key, words):
    config = copy.deepcopy(real_config())
    mutate(config)
    with pytest.raises(AlpacaflowError) as err:
        validate_config(config)
    message = str(err.value)
    assert "\n" not in message
    assert f"'{key}'" in message
    assert words in message


def test_prompt_date_must_be_a_calendar_date():
    models = {"m": {"outputs": __file__}}
    message = r"config error at 'prompt_date': '31 Feb 2024' is not a date written as 26 Jul 2024"
    with pytest.raises(AlpacaflowError, match=message):
        check_config({"models": models, "prompt_date": "31 Feb 2024"})
    assert check_config({"models": models, "prompt_date": "1 Mar 2025"})["prompt_date"] == "1 Mar 2025"


def test_bad_model_key_is_rejected():
    with pytest.raises(AlpacaflowError, match="models"):
        validate_config({"models": {"bad/key": {"path": "x"}}})


def test_model_needs_exactly_one_of_path_or_outputs(tmp_path):
    with pytest.raises(AlpacaflowError, match="models.m.*exactly one"):
        check_config({"models": {"m": {}}})
    outputs = tmp_path / "o.json"
    outputs.write_text("[]")
    with pytest.raises(AlpacaflowError, match="exactly one"):
        check_config({"models": {"m": {"path": "org/x", "outputs": str(outputs)}}})


def test_missing_local_model_folder_is_named(tmp_path):
    missing = tmp_path / "no_such_model"
    with pytest.raises(AlpacaflowError, match=r"models\.m\.path.*no_such_model"):
        check_config({"models": {"m": {"path": str(missing)}}})


def test_missing_outputs_file_is_named(tmp_path):
    with pytest.raises(AlpacaflowError, match=r"models\.m\.outputs.*nope\.json"):
        check_config({"models": {"m": {"outputs": str(tmp_path / "nope.json")}}})


def test_model_settings_merge_defaults_and_overrides():
    config = validate_config(
        {
            "generation": {"temperature": 0.5, "device": "cpu"},
            "models": {"a": {"path": "org/a"}, "b": {"path": "org/b", "generation": {"temperature": 0.0}}},
        }
    )
    a, b = model_settings(config, "a"), model_settings(config, "b")
    assert a["generation"]["temperature"] == 0.5
    assert b["generation"]["temperature"] == 0.0
    assert a["generation"]["max_new_tokens"] == defaults("generation")["max_new_tokens"]
    assert gpus_for(a) == 0


def test_real_config_defaults_match_the_issue():
    settings = model_settings(check_config(real_config()), "sft")
    gen = settings["generation"]
    assert (gen["backend"], gen["temperature"], gen["top_p"], gen["max_new_tokens"]) == ("vllm", 0.7, 0.9, 512)
    assert gpus_for(settings) == 1
    zero_shot = model_settings(check_config(real_config()), "zero_shot")
    assert zero_shot["path"] == "meta-llama/Llama-3.2-1B"
    assert zero_shot["prompt_format"] == "alpaca"
    assert zero_shot["stop"] == ["### Instruction:", "### Input:", "### Response:"]  # the base model is cut
    assert (settings["stop"], settings["stop_token_ids"], settings["reasoning"]) == ([], [], "keep")
    assert (settings["template"], settings["system_prompt"], settings["chat_template_kwargs"]) == (None, None, {})


def test_alpaca_stops_are_the_templates_headers_and_can_be_turned_off():
    """The schema's default stop strings for the Alpaca format: its own headers, and "### Input:" of its variant."""
    headers = {line for line in ALPACA_TEMPLATE.splitlines() if line.startswith("###")}
    config = validate_config({"models": {"a": {"path": "x", "prompt_format": "alpaca"},
                                         "b": {"path": "x", "prompt_format": "alpaca", "stop": []},
                                         "c": {"path": "x", "stop": ["\nUser:"]}}})  # fmt: skip
    stops = {key: model_settings(config, key)["stop"] for key in "abc"}
    assert headers == {"### Instruction:", "### Response:"} <= set(stops["a"]) == {*headers, "### Input:"}
    assert stops["b"] == [] and stops["c"] == ["\nUser:"]


@pytest.mark.parametrize(
    ("entry", "key", "words"),
    [
        ({"prompt_format": "template"}, "template", "needs a template file"),
        ({"prompt_format": "template", "template": "nowhere.jinja"}, "template", "file not found: nowhere.jinja"),
        ({"template": "t.jinja"}, "template", "only with prompt_format 'template'"),
        ({"prompt_format": "alpaca", "system_prompt": "Be brief."}, "system_prompt", "alpaca format has no"),
        ({"prompt_format": "alpaca", "chat_template_kwargs": {"x": 1}}, "chat_template_kwargs", "no chat template"),
        ({"reasoning": "drop"}, "reasoning", "'drop' is not one of"),
        ({"stop": "###"}, "stop", "is not of type 'array'"),
        ({"stop_token_ids": [-1]}, "stop_token_ids.0", "less than the minimum"),
    ],
)
def test_prompt_settings_errors_name_the_key(tmp_path, entry, key, words):
    (tmp_path / "t.jinja").write_text("{{ messages[0]['content'] }}")
    config = {"models": {"m": {"path": str(tmp_path), **entry}}}
    if "template" in entry and entry["template"] == "t.jinja":
        entry["template"] = str(tmp_path / "t.jinja")
    with pytest.raises(AlpacaflowError, match=f"config error at 'models.m.{key}'.*{re.escape(words)}"):
        check_config(config)


def test_unknown_model_names_the_known_ones():
    with pytest.raises(AlpacaflowError, match="unknown model 'nope'; configured models: sft, zero_shot"):
        model_settings(real_config(), "nope")


def test_strings_from_snakemake_cli_are_coerced():
    """`--config 'generation={temperature: 0.5}'` arrives as strings; they become numbers."""
    config = {"generation": {"temperature": "0.5", "max_new_tokens": "64", "enforce_eager": "true"}}
    config["models"] = {"m": {"path": "org/m", "generation": {"seed": "7"}}}
    validate_config(config)
    coerced = {k: config["generation"][k] for k in ("temperature", "max_new_tokens", "enforce_eager")}
    assert coerced == {"temperature": 0.5, "max_new_tokens": 64, "enforce_eager": True}
    assert config["models"]["m"]["generation"]["seed"] == 7
    with pytest.raises(AlpacaflowError, match="'generation.temperature'.*maximum"):
        validate_config({"generation": {"temperature": "5"}, "models": {"m": {"path": "org/m"}}})
    with pytest.raises(AlpacaflowError, match="'generation.max_new_tokens'.*'many' is not of type 'integer'"):
        validate_config({"generation": {"max_new_tokens": "many"}, "models": {"m": {"path": "org/m"}}})
    # batch_size is an integer or auto (a oneOf): '128' becomes 128, 'auto' stays, anything else is refused
    for given, kept in (("128", 128), ("auto", "auto")):
        config = validate_config({"generation": {"batch_size": given}, "models": {"m": {"path": "org/m"}}})
        assert config["generation"]["batch_size"] == kept
    with pytest.raises(AlpacaflowError, match="'generation.batch_size'"):
        validate_config({"generation": {"batch_size": "big"}, "models": {"m": {"path": "org/m"}}})
    with pytest.raises(AlpacaflowError, match="'generation.batch_size'"):
        validate_config({"generation": {"batch_size": "0"}, "models": {"m": {"path": "org/m"}}})


def test_trust_remote_code_is_off_unless_a_model_entry_turns_it_on():
    from alpacaflow.engines.judge_vllm import vllm_engine_kwargs

    config = validate_config(
        {"models": {"a": {"path": "org/a"}, "b": {"path": "org/b", "generation": {"trust_remote_code": True}}}}
    )
    assert model_settings(config, "a")["generation"]["trust_remote_code"] is False
    assert model_settings(config, "b")["generation"]["trust_remote_code"] is True
    assert model_settings(check_config(real_config()), "sft")["generation"]["trust_remote_code"] is False
    # The judge never runs remote code: the option does not exist for it, and vLLM's default is off.
    assert "trust_remote_code" not in vllm_engine_kwargs(config["judge"])
    with pytest.raises(AlpacaflowError, match="'trust_remote_code' was unexpected"):
        validate_config({"judge": {"trust_remote_code": True}, "models": {"m": {"path": "org/m"}}})


def test_secrets_have_no_place_in_the_config():
    for key in ("api_key", "openai_api_key", "hf_token"):
        with pytest.raises(AlpacaflowError, match=f"'{key}' was unexpected"):
            validate_config({"judge": {key: "sk-x"}, "models": {"m": {"path": "org/m"}}})


def schema_keys() -> dict[str, object]:
    """Every config key the schema knows, dotted (a model's as ``models.<key>.x``) -> its default (or ... if none)."""
    from alpacaflow.config import load_schema

    schema = load_schema()
    found: dict[str, object] = {}

    def walk(prefix: str, node: dict) -> None:
        for name, sub in node.get("properties", {}).items():
            key = f"{prefix}{name}"
            found[key] = sub.get("default", ...)
            if sub.get("$ref") == "#/$defs/judge":  # the judge section, defined once in $defs
                sub = schema["$defs"][sub["$ref"].split("/")[-1]]
            if key != "generation" and "properties" in sub:  # the top-level generation lists only defaults
                walk(f"{key}.", sub)

    walk("", schema)
    for name in schema["$defs"]["generation"]["properties"]:
        found.setdefault(f"generation.{name}", ...)
    entry = schema["$defs"]["model"]
    walk("models.<key>.", entry)
    walk("sweeps.<name>.", schema["properties"]["sweeps"]["additionalProperties"])
    found["models.<key>.stop"] = entry["allOf"][0]["else"]["properties"]["stop"]["default"]  # per prompt_format
    for name in list(found):
        if name.startswith("generation."):
            found[name] = (
                schema["properties"]["generation"]["properties"].get(name.split(".")[1], {}).get("default", ...)
            )
    sections = {"prompts", "judge", "error_sample", "compare", "error_taxonomy", "context", "validate_judge", "models",
                "generation", "sweeps", "tracking", "tracking.wandb", "judge.audit", "arena_hard",
                "mt_bench"}  # fmt: skip
    return {k: v for k, v in found.items() if k not in sections}


def test_readme_key_table_matches_the_schema():
    """One row per key; a default written as one literal is the schema's; every defaulted key is in the table."""
    readme = (REPO / "docs" / "configuration.md").read_text()
    table = readme.split("## Configuration")[1].split("\n## ")[0]
    rows = re.findall(r"^\| `([\w.<>]+)` \|([^|]*)\|.*\|$", table, re.M)
    keys = schema_keys()
    assert len(rows) == len({k for k, _ in rows}), "a key has two rows"
    for key, default in rows:
        assert key in keys, f"README documents {key}, which the schema does not have"
        literal = re.fullmatch(r"`([^`]*)`", default.strip())
        if literal:
            assert yaml.safe_load(literal.group(1)) == keys[key], f"README's default of {key} is not the schema's"
        elif default.strip():
            assert keys[key] is not ..., f"README gives {key} a default the schema does not have"
    documented = {k for k, _ in rows}
    missing = sorted(k for k, v in keys.items() if v is not ... and k not in documented)
    assert not missing, f"README's key table lacks {missing}"


def test_config_yaml_writes_out_the_schema_defaults():
    """Every value config.yaml sets outside `models` is the schema's default for that key."""
    keys = schema_keys()

    def leaves(prefix: str, node: dict):
        for name, value in node.items():
            if isinstance(value, dict) and f"{prefix}{name}" not in keys:
                yield from leaves(f"{prefix}{name}.", value)
            else:
                yield f"{prefix}{name}", value

    config = real_config()
    config.pop("models")
    for key, value in leaves("", config):
        assert key in keys, f"config.yaml sets {key}, which the schema does not have"
        assert value == keys[key], f"config.yaml sets {key}: {value!r}, the schema's default is {keys[key]!r}"


def test_an_old_analysis_section_says_where_its_keys_went():
    with pytest.raises(AlpacaflowError, match="config error at 'analysis': its keys moved to `compare`"):
        validate_config({"analysis": {"seed": 1}, "models": {"m": {"path": "org/m"}}})


def test_every_benchmark_section_reads_the_same_through_shared_defs():
    """A benchmark's subset, source, judge override and generation override are one $def each, shared."""
    schema = yaml.safe_load((REPO / "schemas" / "config.schema.yaml").read_text())
    shared = {"max_instances": "max_instances", "source": "benchmark_source", "judge": "judge_override",
              "generation": "generation"}  # fmt: skip
    for section in ("arena_hard", "mt_bench"):
        props = schema["properties"][section]["properties"]
        for key, definition in shared.items():
            assert props[key]["$ref"] == f"#/$defs/{definition}", f"{section}.{key}"
    assert schema["properties"]["prompts"]["properties"]["max_instances"]["$ref"] == "#/$defs/max_instances"
    config = check_config({"models": {"m": {"path": str(REPO)}}, "arena_hard": {"max_instances": 3},
                           "mt_bench": {"judge": {"backend": "openai", "method": "weighted"}}})  # fmt: skip
    assert config["arena_hard"]["max_instances"] == 3 and config["mt_bench"]["max_instances"] is None
    assert config["arena_hard"]["judge"] is None and config["mt_bench"]["judge"]["backend"] == "openai"
    bad_sections = [("mt_bench", {"max_instances": 0}, "mt_bench.max_instances"),
                    ("arena_hard", {"judge": {"backend": "nope"}}, "arena_hard.judge.backend")]  # fmt: skip
    for section, bad, where in bad_sections:
        with pytest.raises(AlpacaflowError, match=f"config error at '{re.escape(where)}'"):
            check_config({"models": {"m": {"path": str(REPO)}}, section: bad})
