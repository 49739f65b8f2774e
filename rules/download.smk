# download_prompts and download_model: the only rules that need the network.
# They are local rules: on a cluster they run where snakemake runs.


localrules:
    download_prompts,
    download_model,


rule download_prompts:
    input:
        prompt_source_inputs,
    output:
        table=f"{RESULTS}/prompts.parquet",
        gamed=f"{RESULTS}/df_gamed.csv",
        meta=f"{RESULTS}/prompts_meta.json",
    log:
        f"{RESULTS}/logs/download_prompts.log",
    benchmark:
        f"{RESULTS}/benchmarks/download_prompts.tsv"
    conda:
        "../envs/data.yaml"
    params:
        prompts=lambda wildcards: json.dumps(config["prompts"], sort_keys=True),
    shell:
        "python -m alpacaflow download-prompts --prompts-config {params.prompts:q}"
        " --out-table {output.table} --out-gamed {output.gamed} --out-meta {output.meta}"
        " > {log} 2>&1 || (tail -n 1 {log} >&2; exit 1)"


rule download_model:
    output:
        manifest=f"{RESULTS}/downloads/{{download}}.json",
    log:
        f"{RESULTS}/logs/download_model/{{download}}.log",
    benchmark:
        f"{RESULTS}/benchmarks/download_model/{{download}}.tsv"
    conda:
        "../envs/data.yaml"
    params:
        repo=lambda wildcards: download_of(wildcards)[0],
        revision=lambda wildcards: download_of(wildcards)[1] or "",
    shell:
        "python -m alpacaflow download-model --repo-id {params.repo} --revision={params.revision:q}"
        " --out {output.manifest} > {log} 2>&1 || (tail -n 1 {log} >&2; exit 1)"
