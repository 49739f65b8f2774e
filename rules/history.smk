# history: each evaluation appends one row per leaderboard row (every benchmark's) to results/history.parquet.


localrules:
    history,


rule history:
    input:
        leaderboard=f"{RESULTS}/leaderboard.csv",
        throughputs=home_files("throughput.json"),
        outputs=per_model("model_outputs.json"),
        meta=if_alpaca(f"{RESULTS}/prompts_meta.json"),
        arena_outputs=[
            f"{annotation_folder(RESULTS, m, b)}/model_outputs.json"
            for m, b in ARENA_PAIRS + MT_PAIRS
        ],
        benchmark_metas=[
            f"{RESULTS}/{b}/prompts_meta.json"
            for b in ARENA + ([MT_BENCH] if MT_PAIRS else [])
        ],
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
        models=list(HOMES),
        alpaca_models=AE_MODELS,
        judge=JUDGE_JSON,
        history=f"{RESULTS}/history.parquet",
        arena_pairs=[f"{m}@{b}" for m, b in ARENA_PAIRS + MT_PAIRS],
        benchmarks=ARENA + ([MT_BENCH] if MT_PAIRS else []),
    shell:
        step_command(
            "history",
            "input.leaderboard",
            "params.settings",
            "params.models",
            "params.alpaca_models",
            "input.throughputs",
            "input.outputs",
            "input.meta",
            "params.judge",
            "params.history",
            "output.appended",
            "params.arena_pairs",
            "input.arena_outputs",
            "params.benchmarks",
            "input.benchmark_metas",
        )
