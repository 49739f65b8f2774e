# alpacaflow: evaluate instruction-tuned models on AlpacaEval 2.0.
# DAG: download_prompts -> generate_{model} -> annotate_{model} -> leaderboard -> error_sample -> report,
# with compare, error_taxonomy, context and plots feeding the report, and the opt-in validate_judge.
from snakemake.utils import min_version

min_version("9.0")


configfile: "config.yaml"


report: "rules/captions/workflow.rst"


# common.smk validates the config against schemas/config.schema.yaml.
include: "rules/common.smk"
include: "rules/download.smk"
include: "rules/generate.smk"
include: "rules/annotate.smk"
include: "rules/leaderboard.smk"
include: "rules/error_sample.smk"
include: "rules/analysis.smk"
include: "rules/validate_judge.smk"
include: "rules/report.smk"


rule all:
    default_target: True
    input:
        all_targets(),
