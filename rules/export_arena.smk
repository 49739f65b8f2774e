# export_arena: an Arena-Hard-Auto version's answers (with style metadata) and judgments in the official
# layout, results/official/data/arena-hard-<v>/ (the official show_result.py reads it from results/official).


localrules:
    export_arena,


rule export_arena:
    input:
        prompts=f"{RESULTS}/arena_hard-{{version}}/prompts.parquet",
        encoding=f"{RESULTS}/arena_hard-{{version}}/tiktoken/{ENCODING_CACHE_NAME}",
        outputs=lambda wc: arena_files(wc.version, "model_outputs.json"),
        annotations=lambda wc: arena_files(wc.version, "annotations.json"),
    output:
        folder=directory(f"{RESULTS}/official/data/arena-hard-{{version}}"),
    log:
        f"{RESULTS}/logs/export_arena/{{version}}.log",
    benchmark:
        f"{RESULTS}/benchmarks/export_arena/{{version}}.tsv"
    conda:
        "../envs/report.yaml"
    params:
        benchmark=lambda wc: f"arena_hard-{wc.version}",
        models=lambda wc: [m for m, b in ARENA_PAIRS if b == f"arena_hard-{wc.version}"],
    shell:
        step_command(
            "export_arena",
            "params.benchmark",
            "input.prompts",
            "input.encoding",
            "params.models",
            "input.outputs",
            "input.annotations",
            "output.folder",
        )
