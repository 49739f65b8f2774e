# overview: one row per model, one headline number per benchmark of the run (results/overview.csv) and its figure.


localrules:
    overview,


rule overview:
    input:
        leaderboard=f"{RESULTS}/leaderboard.csv",
    output:
        csv=f"{RESULTS}/overview.csv",
        figure=report(
            f"{RESULTS}/figures/overview.png",
            caption="captions/overview.rst",
            category="Plots",
        ),
    log:
        f"{RESULTS}/logs/overview.log",
    benchmark:
        f"{RESULTS}/benchmarks/overview.tsv"
    conda:
        "../envs/report.yaml"
    params:
        models=list(HOMES),
        benchmarks=RUN_BENCHMARKS,
    shell:
        step_command(
            "overview",
            "input.leaderboard",
            "params.models",
            "params.benchmarks",
            "output.csv",
            "output.figure",
        )
