# download_benchmark: an Arena-Hard-Auto version's questions, baseline answers and judge protocol, from
# the official repository at the pinned revision (or a local copy of it). A local rule: it may use the network.


localrules:
    download_benchmark,


rule download_benchmark:
    input:
        local=local_copy("arena_hard"),
    output:
        prompts=f"{RESULTS}/{{benchmark}}/prompts.parquet",
        meta=f"{RESULTS}/{{benchmark}}/prompts_meta.json",
        protocol=f"{RESULTS}/{{benchmark}}/protocol.json",
        encoding=f"{RESULTS}/{{benchmark}}/tiktoken/{ENCODING_CACHE_NAME}",
    log:
        f"{RESULTS}/logs/download_benchmark/{{benchmark}}.log",
    benchmark:
        f"{RESULTS}/benchmarks/download_benchmark/{{benchmark}}.tsv"
    conda:
        "../envs/data.yaml"
    params:
        source=config["arena_hard"]["source"],
        repo=config["arena_hard"]["repo"],
        revision=config["arena_hard"]["revision"],
        max_instances=config["arena_hard"]["max_instances"] or 0,
        encoding_source=config["arena_hard"]["encoding"] or "",
    shell:
        step_command(
            "download_benchmark",
            "wildcards.benchmark",
            "params.source",
            "params.repo",
            "params.revision",
            "params.encoding_source",
            "output.prompts",
            "output.meta",
            "output.protocol",
            "output.encoding",
            "params.max_instances",
        )
