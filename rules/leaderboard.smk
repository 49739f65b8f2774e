# leaderboard: alpaca_eval's win rate and LC win rate for every model (no network).


localrules:
    leaderboard,


rule leaderboard:
    input:
        annotations=per_model("annotations.json"),
        throughputs=per_model("throughput.json"),
        df_gamed=f"{RESULTS}/df_gamed.csv",
    output:
        csv=f"{RESULTS}/leaderboard.csv",
        md=f"{RESULTS}/leaderboard.md",
    log:
        f"{RESULTS}/logs/leaderboard.log",
    benchmark:
        f"{RESULTS}/benchmarks/leaderboard.tsv"
    conda:
        "../envs/report.yaml"
    params:
        models=MODELS,
    shell:
        step_command(
            "leaderboard",
            "params.models",
            "input.annotations",
            "input.throughputs",
            "input.df_gamed",
            "output.csv",
            "output.md",
        )
