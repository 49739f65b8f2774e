# download_mt_bench: MT-Bench's questions, reference answers and judge prompts, from FastChat's repository at the
# pinned revision (or a local copy of it). A local rule: it may use the network.


localrules:
    download_mt_bench,


rule download_mt_bench:
    input:
        local=local_copy("mt_bench"),
    output:
        prompts=f"{RESULTS}/mt_bench/prompts.parquet",
        meta=f"{RESULTS}/mt_bench/prompts_meta.json",
        protocol=f"{RESULTS}/mt_bench/protocol.json",
    log:
        f"{RESULTS}/logs/download_mt_bench.log",
    benchmark:
        f"{RESULTS}/benchmarks/download_mt_bench.tsv"
    conda:
        "../envs/data.yaml"
    params:
        source=config["mt_bench"]["source"],
        repo=config["mt_bench"]["repo"],
        revision=config["mt_bench"]["revision"],
        max_instances=config["mt_bench"]["max_instances"] or 0,
        reference_model=config["mt_bench"]["reference_model"],
    shell:
        step_command(
            "download_mt_bench",
            "params.source",
            "params.repo",
            "params.revision",
            "params.reference_model",
            "output.prompts",
            "output.meta",
            "output.protocol",
            "params.max_instances",
        )
