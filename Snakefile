# alpacaflow: evaluate instruction-tuned models on AlpacaEval 2.0 (and Arena-Hard-Auto, MT-Bench).
# DAG, in reading order: download_prompts (download_benchmark for Arena-Hard, download_mt_bench for MT-Bench, download_model
# for hub models) -> generate_{model}
# -> annotate (one job for all models: one judge load) -> export_arena, export_mt_bench (the official layouts), leaderboard, error_sample_{model}, compare, error_taxonomy_{model}, context, plots
# and the opt-in fetch_official -> validate_judge -> history (appends to history.parquet) -> report; summary (summary.json) beside it. One rules/<step>.smk per step, running the
# module scripts/alpacaflow/<step>.py as `python -m alpacaflow <step>`.
from snakemake.utils import min_version

min_version("9.0")


configfile: "config.yaml"


report: "rules/captions/workflow.rst"


# runtime.smk sets the jobs' environment and reads --keep-going; common.smk validates the config
# against schemas/config.schema.yaml.
include: "rules/runtime.smk"
include: "rules/common.smk"
include: "rules/download_prompts.smk"
include: "rules/download_benchmark.smk"
include: "rules/download_mt_bench.smk"
include: "rules/download_model.smk"
include: "rules/generate.smk"
include: "rules/annotate.smk"
include: "rules/export_arena.smk"
include: "rules/export_mt_bench.smk"
include: "rules/leaderboard.smk"
include: "rules/overview.smk"
include: "rules/error_sample.smk"
include: "rules/compare.smk"
include: "rules/error_taxonomy.smk"
include: "rules/context.smk"
include: "rules/plots.smk"
include: "rules/fetch_official.smk"
include: "rules/validate_judge.smk"
include: "rules/sweep.smk"
include: "rules/summary.smk"
include: "rules/history.smk"
include: "rules/track.smk"
include: "rules/report.smk"


rule all:
    default_target: True
    input:
        all_targets(),
