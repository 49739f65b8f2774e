# alpacaflow: evaluate instruction-tuned models on AlpacaEval 2.0.
# DAG: download_prompts -> generate_{model} -> annotate_{model} -> leaderboard -> error_sample -> report
from snakemake.utils import min_version

min_version("9.0")


configfile: "config.yaml"


# common.smk validates the config against schemas/config.schema.yaml.
include: "rules/common.smk"
include: "rules/download.smk"
include: "rules/generate.smk"
include: "rules/annotate.smk"
include: "rules/leaderboard.smk"
include: "rules/error_sample.smk"
include: "rules/report.smk"


rule all:
    default_target: True
    input:
        all_targets(),
