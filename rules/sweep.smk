# sweep_{sweep}: one training run's checkpoints against the step, the best step, the trend.


localrules:
    sweep,


rule sweep:
    input:
        annotations=sweep_annotations,
        baseline_annotations=lambda wildcards: (
            f"{RESULTS}/{SWEEPS[wildcards.sweep]['baseline']}/annotations.json"
        ),
        leaderboard=f"{RESULTS}/leaderboard.csv",
        df_gamed=f"{RESULTS}/df_gamed.csv",
    output:
        table=f"{RESULTS}/sweeps/{{sweep}}.csv",
        verdict_json=f"{RESULTS}/sweeps/{{sweep}}.json",
        figure=report(
            f"{RESULTS}/figures/sweep_{{sweep}}.png",
            caption="captions/sweep.rst",
            category="Plots",
        ),
    log:
        f"{RESULTS}/logs/sweep/{{sweep}}.log",
    benchmark:
        f"{RESULTS}/benchmarks/sweep/{{sweep}}.tsv"
    conda:
        "../envs/report.yaml"
    params:
        steps=lambda wildcards: SWEEPS[wildcards.sweep]["steps"],
        models=lambda wildcards: SWEEPS[wildcards.sweep]["models"],
        baseline=lambda wildcards: SWEEPS[wildcards.sweep]["baseline"],
        last_steps=lambda wildcards: SWEEPS[wildcards.sweep]["last_steps"],
        resamples=config["compare"]["bootstrap_resamples"],
        seed=config["compare"]["seed"],
        ties=config["ties"],
    shell:
        step_command(
            "sweep",
            "wildcards.sweep",
            "params.steps",
            "params.models",
            "params.baseline",
            "input.annotations",
            "input.baseline_annotations",
            "input.leaderboard",
            "input.df_gamed",
            "params.last_steps",
            "params.resamples",
            "params.seed",
            "output.table",
            "output.verdict_json",
            "output.figure",
            "params.ties",
        )
