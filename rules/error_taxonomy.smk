# error_taxonomy_{model}: every loss to the reference classified.


localrules:
    error_taxonomy,


rule error_taxonomy:
    input:
        annotations=f"{RESULTS}/{{model}}/annotations.json",
        generations=f"{RESULTS}/{{model}}/generations.parquet",
    output:
        taxonomy=f"{RESULTS}/{{model}}/error_taxonomy.json",
    log:
        f"{RESULTS}/logs/error_taxonomy/{{model}}.log",
    benchmark:
        f"{RESULTS}/benchmarks/error_taxonomy/{{model}}.tsv"
    conda:
        "../envs/report.yaml"
    params:
        discrete=DISCRETE,
        settings=json.dumps(config["error_taxonomy"], sort_keys=True),
    shell:
        step_command(
            "error_taxonomy",
            "input.annotations",
            "input.generations",
            "wildcards.model",
            "params.discrete",
            "params.settings",
            "output.taxonomy",
        )
