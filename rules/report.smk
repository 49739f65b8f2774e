# report: results/report.md, readable on its own.


localrules:
    report,


rule report:
    input:
        leaderboard=f"{RESULTS}/leaderboard.csv",
        throughputs=per_model("throughput.json"),
        error_samples=per_model("error_sample.md"),
        meta=f"{RESULTS}/prompts_meta.json",
        prompts=f"{RESULTS}/prompts.parquet",
        comparison=f"{RESULTS}/paired_comparison.csv",
        taxonomies=per_model("error_taxonomy.json"),
        context=f"{RESULTS}/context_leaderboard.csv",
        subsets=f"{RESULTS}/subset_win_rates.csv",
        figures=expand(
            "{results}/figures/{name}.png",
            results=RESULTS,
            name=["win_rates", "lengths", "length_preference", "subsets"],
        ),
        validation=validation_agreement(),
    output:
        report=report(
            f"{RESULTS}/report.md", caption="captions/report.rst", category="Report"
        ),
    log:
        f"{RESULTS}/logs/report.log",
    benchmark:
        f"{RESULTS}/benchmarks/report.tsv"
    conda:
        "../envs/report.yaml"
    params:
        models=MODELS,
        judge=JUDGE_JSON,
        context_models=json.dumps(ANALYSIS["context_models"]),
        validation=lambda wildcards, input: (
            f"--validation {input.validation}" if input.validation else ""
        ),
    shell:
        "python -m alpacaflow report --models {params.models} --leaderboard {input.leaderboard}"
        " --throughputs {input.throughputs} --error-samples {input.error_samples}"
        " --prompts-meta {input.meta} --prompts {input.prompts} --judge {params.judge:q}"
        " --comparison {input.comparison} --taxonomies {input.taxonomies} --context {input.context}"
        " --context-models {params.context_models:q} --subsets {input.subsets}"
        " --figures {input.figures} {params.validation}"
        " --out {output.report} > {log} 2>&1 || (tail -n 1 {log} >&2; exit 1)"
