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
    output:
        report=f"{RESULTS}/report.md",
    log:
        f"{RESULTS}/logs/report.log",
    benchmark:
        f"{RESULTS}/benchmarks/report.tsv"
    conda:
        "../envs/report.yaml"
    params:
        models=MODELS,
        judge=JUDGE_JSON,
    shell:
        "python -m alpacaflow report --models {params.models} --leaderboard {input.leaderboard}"
        " --throughputs {input.throughputs} --error-samples {input.error_samples}"
        " --prompts-meta {input.meta} --prompts {input.prompts} --judge {params.judge:q}"
        " --out {output.report} > {log} 2>&1 || (tail -n 1 {log} >&2; exit 1)"
