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
        "HF_HUB_OFFLINE=1 python -m alpacaflow annotate --judge {params.judge:q} --model {wildcards.model}"
        " --prompts {input.prompts} --outputs {input.outputs}"
        " --cache {params.cache} --out {output.annotations} --gpus {resources.gpu}"
        " > {log} 2>&1 || (tail -n 1 {log} >&2; exit 1)"
