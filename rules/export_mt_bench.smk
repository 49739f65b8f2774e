# export_mt_bench: MT-Bench's answers and gradings in FastChat's layout, results/official/data/mt_bench/
# (FastChat's show_result.py reads it from results/official).


localrules:
    export_mt_bench,


rule export_mt_bench:
    input:
        prompts=f"{RESULTS}/{MT_BENCH}/prompts.parquet",
        outputs=[f"{RESULTS}/{m}/{MT_BENCH}/model_outputs.json" for m, _ in MT_PAIRS],
        annotations=[f"{RESULTS}/{m}/{MT_BENCH}/annotations.json" for m, _ in MT_PAIRS],
    output:
        folder=directory(f"{RESULTS}/official/data/{MT_BENCH}"),
    log:
        f"{RESULTS}/logs/export_mt_bench.log",
    benchmark:
        f"{RESULTS}/benchmarks/export_mt_bench.tsv"
    conda:
        "../envs/report.yaml"
    params:
        models=[m for m, _ in MT_PAIRS],
    shell:
        step_command(
            "export_mt_bench",
            "input.prompts",
            "params.models",
            "input.outputs",
            "input.annotations",
            "output.folder",
        )
