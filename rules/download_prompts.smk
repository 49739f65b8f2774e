# download_prompts: the prompt set, df_gamed and their provenance; one of the three rules that use the network
# (with download_model and the opt-in fetch_official). A local rule: on a cluster it runs where snakemake runs.


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
        prompts_config=lambda wildcards: json.dumps(config["prompts"], sort_keys=True),
    shell:
        step_command(
            "download_prompts",
            "params.prompts_config",
            "output.table",
            "output.gamed",
            "output.meta",
        )
