# history: each evaluation appends one row per (model, reference) to results/history.parquet.


localrules:
    history,


rule history:
    input:
        leaderboard=f"{RESULTS}/leaderboard.csv",
        throughputs=per_model("throughput.json"),
        outputs=per_model("model_outputs.json"),
        meta=f"{RESULTS}/prompts_meta.json",
    output:
        # The history itself is not an output: Snakemake deletes outputs before a job runs.
        appended=f"{RESULTS}/history_appended.json",
    log:
        f"{RESULTS}/logs/history.log",
    benchmark:
        f"{RESULTS}/benchmarks/history.tsv"
    conda:
        "../envs/report.yaml"
    params:
        settings=json.dumps(PAIR_SETTINGS, sort_keys=True),
        models=MODELS,
        judge=JUDGE_JSON,
        history=f"{RESULTS}/history.parquet",
    shell:
        step_command(
            "history",
            "input.leaderboard",
            "params.settings",
            "params.models",
            "input.throughputs",
            "input.outputs",
            "input.meta",
            "params.judge",
            "params.history",
            "output.appended",
        )
