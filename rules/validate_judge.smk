# validate_judge (opt-in): the configured judge on published pairs, against the official judge.


rule validate_judge:
    input:
        unpack(validate_inputs),
    output:
        annotations=f"{RESULTS}/validation/annotations.json",
        agreement=f"{RESULTS}/validation/agreement.json",
    log:
        f"{RESULTS}/logs/validate_judge.log",
    benchmark:
        f"{RESULTS}/benchmarks/validate_judge.tsv"
    conda:
        "../envs/judge.yaml"
    threads: 1
    resources:
        gpu=judge_gpus(JUDGE),
    params:
        judge=JUDGE_JSON,
        cache=f"{RESULTS}/validation/{JUDGE_CACHE}",
    shell:
        step_command(
            "validate_judge",
            "params.judge",
            "input.official",
            "input.official_meta",
            "input.prompts",
            "params.cache",
            "output.annotations",
            "output.agreement",
            "resources.gpu",
            offline=True,
        )
