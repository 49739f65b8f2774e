# Config validation, config lookups and input functions shared by all rules.
import json
import shlex
import sys
from pathlib import Path

SCRIPTS_DIR = str(Path(workflow.basedir) / "scripts")
sys.path.insert(0, SCRIPTS_DIR)
# Every job (local, conda or cluster) imports the alpacaflow package from this
# checkout, whatever is installed; bash strict mode as Snakemake's default.
shell.prefix(
    "set -euo pipefail; "
    "export PYTHONPATH=" + shlex.quote(SCRIPTS_DIR) + "${{PYTHONPATH:+:$PYTHONPATH}}; "
)

from alpacaflow.config import check_config, gpus_for, looks_local, model_settings
from alpacaflow.errors import AlpacaflowError
from alpacaflow.judge import check_judge, judge_gpus, judge_name, settings_hash

try:
    check_config(config)
    check_judge(config["judge"])
except AlpacaflowError as exc:
    raise WorkflowError(str(exc)) from None

RESULTS = config["results_dir"]
MODELS = list(config["models"])
JUDGE = config["judge"]
# Everything that changes a judgment; secrets are never part of the config.
JUDGE_JSON = json.dumps(JUDGE, sort_keys=True)
JUDGE_CACHE = f"judge_cache/{judge_name(JUDGE)}-{settings_hash(JUDGE)}.json"


wildcard_constraints:
    model=r"[A-Za-z0-9][A-Za-z0-9_.-]*",


def settings_of(model):
    """A model's resolved settings; unknown keys end in one clear error."""
    try:
        return model_settings(config, model)
    except AlpacaflowError as exc:
        raise WorkflowError(str(exc)) from None


def settings_json(wildcards):
    return json.dumps(settings_of(wildcards.model), sort_keys=True)


def generate_inputs(wildcards):
    """Prompt table, plus the model's config.json or imported outputs when local."""
    settings = settings_of(wildcards.model)
    inputs = {
        "prompts": f"{RESULTS}/prompts.parquet",
        "meta": f"{RESULTS}/prompts_meta.json",
    }
    if "outputs" in settings:
        inputs["outputs"] = settings["outputs"]
    elif looks_local(settings["path"]):
        inputs["model_config"] = str(Path(settings["path"]) / "config.json")
    return inputs


def generate_gpus(wildcards):
    return gpus_for(settings_of(wildcards.model))


def prompt_source_inputs(wildcards):
    """Local prompt and df_gamed files, so that editing them reruns download_prompts."""
    prompts = config["prompts"]
    if prompts["source"] == "huggingface":
        return []
    return [prompts["source"], prompts["df_gamed"]]


def per_model(name):
    """The file `name` of every configured model, in config order."""
    return [f"{RESULTS}/{model}/{name}" for model in MODELS]


def all_targets():
    return [f"{RESULTS}/report.md"]
