# error_sample_{model}: seeded random losses to the reference (and on each Arena-Hard version, to its baseline).


localrules:
    error_sample,


rule error_sample:
    input:
        annotations=f"{RESULTS}/{{model}}{{bench}}/annotations.json",
    output:
        jsonl=f"{RESULTS}/{{model}}{{bench}}/error_sample.jsonl",
        md=f"{RESULTS}/{{model}}{{bench}}/error_sample.md",
    log:
        f"{RESULTS}/logs/error_sample/{{model}}{{bench}}.log",
    benchmark:
        f"{RESULTS}/benchmarks/error_sample/{{model}}{{bench}}.tsv"
    conda:
        "../envs/report.yaml"
    params:
        model=lambda wc: wc.model + (f" on {wc.bench[1:]}" if wc.bench else ""),
        discrete=DISCRETE,
        n=config["error_sample"]["n"],
        seed=config["error_sample"]["seed"],
    shell:
        step_command(
            "error_sample",
            "input.annotations",
            "params.model",
            "params.discrete",
            "params.n",
            "params.seed",
            "output.jsonl",
            "output.md",
        )
