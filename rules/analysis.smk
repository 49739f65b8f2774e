# analysis: paired comparison with the baseline, error taxonomy, published context, figures.


localrules:
    compare,
    error_taxonomy,
    context,
    plots,


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
        resamples=ANALYSIS["bootstrap_resamples"],
        seed=ANALYSIS["seed"],
    shell:
        "python -m alpacaflow compare --models {params.models} --annotations {input.annotations}"
        " --df-gamed {input.df_gamed} --resamples {params.resamples} --seed {params.seed}"
        " --out {output.csv} > {log} 2>&1 || (tail -n 1 {log} >&2; exit 1)"


rule error_taxonomy:
    input:
        annotations=f"{RESULTS}/{{model}}/annotations.json",
        generations=f"{RESULTS}/{{model}}/generations.parquet",
    output:
        json=f"{RESULTS}/{{model}}/error_taxonomy.json",
    log:
        f"{RESULTS}/logs/error_taxonomy/{{model}}.log",
    benchmark:
        f"{RESULTS}/benchmarks/error_taxonomy/{{model}}.tsv"
    conda:
        "../envs/report.yaml"
    params:
        discrete=DISCRETE,
        settings=json.dumps(ANALYSIS["taxonomy"], sort_keys=True),
    shell:
        "python -m alpacaflow taxonomy --annotations {input.annotations}"
        " --generations {input.generations} --model {wildcards.model} {params.discrete}"
        " --settings {params.settings:q} --out {output.json}"
        " > {log} 2>&1 || (tail -n 1 {log} >&2; exit 1)"


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
        names=json.dumps(ANALYSIS["context_models"]),
        judge_name=judge_name(JUDGE),
    shell:
        "python -m alpacaflow context --names {params.names:q} --judge-name {params.judge_name:q}"
        " --prompts {input.prompts} --out {output.csv}"
        " > {log} 2>&1 || (tail -n 1 {log} >&2; exit 1)"


rule plots:
    input:
        annotations=per_model("annotations.json"),
        leaderboard=f"{RESULTS}/leaderboard.csv",
    output:
        win_rates=report(
            f"{RESULTS}/figures/win_rates.png",
            caption="captions/win_rates.rst",
            category="Plots",
        ),
        lengths=report(
            f"{RESULTS}/figures/lengths.png",
            caption="captions/lengths.rst",
            category="Plots",
        ),
        length_preference=report(
            f"{RESULTS}/figures/length_preference.png",
            caption="captions/length_preference.rst",
            category="Plots",
        ),
        subsets=report(
            f"{RESULTS}/figures/subsets.png",
            caption="captions/subsets.rst",
            category="Plots",
        ),
        subsets_csv=f"{RESULTS}/subset_win_rates.csv",
    log:
        f"{RESULTS}/logs/plots.log",
    benchmark:
        f"{RESULTS}/benchmarks/plots.tsv"
    conda:
        "../envs/report.yaml"
    params:
        models=MODELS,
        out_dir=lambda wildcards, output: str(Path(output.win_rates).parent),
    shell:
        "python -m alpacaflow plots --models {params.models} --annotations {input.annotations}"
        " --leaderboard {input.leaderboard} --out-dir {params.out_dir} --out-subsets {output.subsets_csv}"
        " > {log} 2>&1 || (tail -n 1 {log} >&2; exit 1)"
