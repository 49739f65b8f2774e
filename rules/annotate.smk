# annotate_{model}: the judge compares each output with the reference.


rule annotate:
    input:
        unpack(annotate_inputs),
    output:
        annotations=f"{RESULTS}/{{model}}/annotations.json",
    log:
        f"{RESULTS}/logs/annotate/{{model}}.log",
    benchmark:
        f"{RESULTS}/benchmarks/annotate/{{model}}.tsv"
    conda:
        "../envs/judge.yaml"
    threads: 1
    resources:
        gpu=judge_gpus(JUDGE),
    params:
        judge=JUDGE_JSON,
        cache=lambda wildcards: f"{RESULTS}/{wildcards.model}/{JUDGE_CACHE}",
    shell:
        step_command(
            "annotate",
            "params.judge",
            "wildcards.model",
            "input.prompts",
            "input.outputs",
            "params.cache",
            "output.annotations",
            "resources.gpu",
            offline=True,
        )
