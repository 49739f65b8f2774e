# error_sample_{model}: seeded random losses to the reference.


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
        discrete=DISCRETE,
        n=config["error_sample"]["n"],
        seed=config["error_sample"]["seed"],
    shell:
        step_command(
            "error_sample",
            "input.annotations",
            "wildcards.model",
            "params.discrete",
            "params.n",
            "params.seed",
            "output.jsonl",
            "output.md",
        )
