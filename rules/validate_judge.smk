# validate_judge (opt-in): the configured judge on published pairs, against the official judge.


localrules:
    fetch_official,


rule fetch_official:
    input:
        local=official_local_inputs,
    output:
        annotations=f"{RESULTS}/validation/official_annotations.json",
        meta=f"{RESULTS}/validation/official_meta.json",
    log:
        f"{RESULTS}/logs/fetch_official.log",
    benchmark:
        f"{RESULTS}/benchmarks/fetch_official.tsv"
    conda:
        "../envs/data.yaml"
    params:
        source=lambda wildcards, input: (
            input.local[0] if input.local else VALIDATE["source"]
        ),
        sha256=VALIDATE["sha256"] or "",
    shell:
        "python -m alpacaflow fetch-official --source {params.source:q} --sha256 '{params.sha256}'"
        " --out {output.annotations} --out-meta {output.meta}"
        " > {log} 2>&1 || (tail -n 1 {log} >&2; exit 1)"


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
        "HF_HUB_OFFLINE=1 python -m alpacaflow validate-judge --judge {params.judge:q}"
        " --official {input.official} --official-meta {input.official_meta} --prompts {input.prompts}"
        " --cache {params.cache} --out-annotations {output.annotations}"
        " --out-agreement {output.agreement} --gpus {resources.gpu}"
        " > {log} 2>&1 || (tail -n 1 {log} >&2; exit 1)"
