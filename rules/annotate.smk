# annotate: the judge compares each model's outputs with the reference, in one job
# for all models (one judge load), or one job per model under --keep-going
# (see ANNOTATE_PER_MODEL in common.smk).


rule annotate:
    input:
        unpack(annotate_inputs),
    output:
        annotations=ANNOTATIONS,
    log:
        f"{RESULTS}/logs/{ANNOTATE_JOB}.log",
    benchmark:
        f"{RESULTS}/benchmarks/{ANNOTATE_JOB}.tsv"
    conda:
        "../envs/judge.yaml"
    threads: 1
    resources:
        gpu=judge_gpus(JUDGE),
    params:
        judge=JUDGE_JSON,
        model=annotated_models,
        cache=judge_caches,
    shell:
        step_command(
            "annotate",
            "params.judge",
            "params.model",
            "input.prompts",
            "input.outputs",
            "params.cache",
            "output.annotations",
            "resources.gpu",
            offline=True,
        )
