# download_prompts: the only rule that needs the network (runs on the login node).


localrules:
    download_prompts,


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
