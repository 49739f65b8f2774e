# compare: paired bootstrap and sign test of every model against the first (the baseline).


localrules:
    compare,


rule compare:
    input:
        annotations=per_model("annotations.json"),
        df_gamed=f"{RESULTS}/df_gamed.csv",
    output:
        csv=f"{RESULTS}/paired_comparison.csv",
    log:
        f"{RESULTS}/logs/compare.log",
    benchmark:
        f"{RESULTS}/benchmarks/compare.tsv"
    conda:
        "../envs/report.yaml"
    params:
        models=MODELS,
        resamples=config["compare"]["bootstrap_resamples"],
        seed=config["compare"]["seed"],
        ties=config["ties"],
    shell:
        step_command(
            "compare",
            "params.models",
            "input.annotations",
            "input.df_gamed",
            "params.resamples",
            "params.seed",
            "output.csv",
            "params.ties",
        )
