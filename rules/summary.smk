# summary: results/summary.json, every number of the run in one file for tracking tools.


localrules:
    summary,


rule summary:
    input:
        leaderboard=f"{RESULTS}/leaderboard.csv",
        comparison=if_alpaca(f"{RESULTS}/paired_comparison.csv"),
        throughputs=per_model("throughput.json"),
        meta=if_alpaca(f"{RESULTS}/prompts_meta.json"),
        prompts=if_alpaca(f"{RESULTS}/prompts.parquet"),
        arena_protocols=[f"{RESULTS}/{b}/protocol.json" for b in ARENA],
    output:
        summary=f"{RESULTS}/summary.json",
    log:
        f"{RESULTS}/logs/summary.log",
    benchmark:
        f"{RESULTS}/benchmarks/summary.tsv"
    conda:
        "../envs/report.yaml"
    params:
        models=AE_MODELS,
        judge=JUDGE_JSON,
    shell:
        step_command(
            "summary",
            "params.models",
            "input.leaderboard",
            "input.comparison",
            "input.throughputs",
            "input.meta",
            "input.prompts",
            "params.judge",
            "output.summary",
            "input.arena_protocols",
        )
