# fetch_official (opt-in, with validate_judge): published official annotations, checked; the third rule
# that uses the network. A local rule: on a cluster it runs where snakemake runs.


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
        step_command(
            "fetch_official",
            "params.source",
            "params.sha256",
            "output.annotations",
            "output.meta",
        )
