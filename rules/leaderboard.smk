# leaderboard: alpaca_eval's win rate and LC win rate for every (model, reference) pair (no network).


localrules:
    leaderboard,


rule leaderboard:
    input:
        annotations=PAIR_ANNOTATIONS,
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
        models=[m for m, _ in PAIRS],
        reference=[r for _, r in PAIRS],
    shell:
        step_command(
            "leaderboard",
            "params.models",
            "params.reference",
            "input.annotations",
            "input.throughputs",
            "input.df_gamed",
            "output.csv",
            "output.md",
        )
