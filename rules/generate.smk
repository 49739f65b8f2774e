# generate_{model}: one job per model and benchmark ({bench}: empty for AlpacaEval, else a slash and the
# benchmark, arena_hard-<v>), independent of each other (parallel).


rule generate:
    input:
        unpack(generate_inputs),
    output:
        outputs=f"{RESULTS}/{{model}}{{bench}}/model_outputs.json",
        generations=f"{RESULTS}/{{model}}{{bench}}/generations.parquet",
        throughput=f"{RESULTS}/{{model}}{{bench}}/throughput.json",
    log:
        f"{RESULTS}/logs/generate/{{model}}{{bench}}.log",
    benchmark:
        f"{RESULTS}/benchmarks/generate/{{model}}{{bench}}.tsv"
    conda:
        "../envs/generate.yaml"
    threads: 1
    resources:
        gpu=generate_gpus,
    params:
        settings=settings_json,
        weights=weights_fingerprint,
        template=template_fingerprint,
        manifest=manifest_path,
        out_dir=lambda wildcards, output: str(Path(output.outputs).parent),
    shell:
        step_command(
            "generate",
            "params.settings",
            "input.prompts",
            "input.meta",
            "params.manifest",
            "params.out_dir",
            "threads",
            "resources.gpu",
            offline=True,
        )
