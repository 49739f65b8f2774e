# error_sample: seeded random losses to the reference, per model.


localrules:
    error_sample,


rule error_sample:
    input:
        annotations=f"{RESULTS}/{{model}}/annotations.json",
    output:
        jsonl=f"{RESULTS}/{{model}}/error_sample.jsonl",
        md=f"{RESULTS}/{{model}}/error_sample.md",
    log:
        f"{RESULTS}/logs/error_sample/{{model}}.log",
    benchmark:
        f"{RESULTS}/benchmarks/error_sample/{{model}}.tsv"
    conda:
        "../envs/report.yaml"
    params:
        n=config["error_sample"]["n"],
        seed=config["error_sample"]["seed"],
        discrete=DISCRETE,
    shell:
        "python -m alpacaflow error-sample --annotations {input.annotations}"
        " --model {wildcards.model} {params.discrete} --n {params.n} --seed {params.seed}"
        " --out-jsonl {output.jsonl} --out-md {output.md}"
        " > {log} 2>&1 || (tail -n 1 {log} >&2; exit 1)"
