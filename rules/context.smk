# context: published AlpacaEval 2.0 leaderboard rows shown beside ours (from alpaca_eval's package, no network).


localrules:
    context,


rule context:
    input:
        prompts=f"{RESULTS}/prompts.parquet",
    output:
        csv=f"{RESULTS}/context_leaderboard.csv",
    log:
        f"{RESULTS}/logs/context.log",
    benchmark:
        f"{RESULTS}/benchmarks/context.tsv"
    conda:
        "../envs/report.yaml"
    params:
        names=json.dumps(config["context"]["models"]),
        judge_name=judge_name(JUDGE),
    shell:
        step_command(
            "context",
            "params.names",
            "params.judge_name",
            "input.prompts",
            "output.csv",
        )
