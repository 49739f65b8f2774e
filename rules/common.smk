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

try:
    check_config(config)
except AlpacaflowError as exc:
    raise WorkflowError(str(exc)) from None

RESULTS = config["results_dir"]
MODELS = list(config["models"])


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


def all_targets():
    return expand(
        f"{RESULTS}/{{model}}/{{name}}",
        model=MODELS,
        name=["model_outputs.json", "throughput.json"],
    )
