# download_model: a hub model's snapshot into the Hugging Face cache (network), for generate and annotate
# to read offline. A local rule: on a cluster it runs where snakemake runs. Scheduled first (priority), so
# that a path that is neither a hub model nor a folder (a mistyped checkpoints/step-2000) stops the run
# before any model is generated.


localrules:
    download_model,


rule download_model:
    output:
        manifest=f"{RESULTS}/downloads/{{download}}.json",
    log:
        f"{RESULTS}/logs/download_model/{{download}}.log",
    benchmark:
        f"{RESULTS}/benchmarks/download_model/{{download}}.tsv"
    priority: 100
    conda:
        "../envs/data.yaml"
    params:
        repo_id=lambda wildcards: download_of(wildcards)[0],
        revision=lambda wildcards: download_of(wildcards)[1] or "",
    shell:
        step_command(
            "download_model", "params.repo_id", "params.revision", "output.manifest"
        )
