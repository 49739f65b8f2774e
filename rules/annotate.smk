# annotate: the judge compares each model's outputs with each reference, in one job
# for all (model, reference) pairs, judge validation's published pairs and the
# audit's pairs in both orders, the benchmarks' games and gradings (one judge load), or one job per pair under
# --keep-going (see ANNOTATE_PER_MODEL in runtime.smk).


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
        gpu=max(
            judge_gpus(JUDGE),
            judge_gpus(ARENA_JUDGE) if ARENA else 0,
            judge_gpus(MT_JUDGE) if MT else 0,
        ),
    params:
        judge=JUDGE_JSON,
        judge_weights=JUDGE_WEIGHTS,
        judge_template=JUDGE_TEMPLATE,
        judge_manifest=judge_manifest,
        arena_hard=ARENA_JSON,
        arena_judge_weights=ARENA_JUDGE_WEIGHTS,
        mt_bench=MT_JSON,
        mt_judge_weights=MT_JUDGE_WEIGHTS,
        benchmarks=job_benchmarks,
        model=annotate_param("model"),
        reference=annotate_param("reference"),
        cache=annotate_param("cache"),
    shell:
        step_command(
            "annotate",
            "params.judge",
            "params.model",
            "params.reference",
            "input.prompts",
            "input.outputs",
            "input.reference_models",
            "input.benchmark_references",
            "params.cache",
            "output.annotations",
            "params.judge_manifest",
            "params.benchmarks",
            "params.arena_hard",
            "params.mt_bench",
            "resources.gpu",
            offline=True,
        )
