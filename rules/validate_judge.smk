# validate_judge (opt-in): the configured judge's annotations of published pairs (judged by the
# annotate job, in the run's one judge load) against the official judge's. Loads no judge.


localrules:
    validate_judge,


rule validate_judge:
    input:
        annotations=f"{RESULTS}/validation/annotations.json",
        official=OFFICIAL_ANNOTATIONS,
        official_meta=f"{RESULTS}/validation/official_meta.json",
    output:
        agreement=f"{RESULTS}/validation/agreement.json",
    log:
        f"{RESULTS}/logs/validate_judge.log",
    benchmark:
        f"{RESULTS}/benchmarks/validate_judge.tsv"
    conda:
        "../envs/report.yaml"
    shell:
        step_command(
            "validate_judge",
            "input.official",
            "input.official_meta",
            "input.annotations",
            "output.agreement",
        )
