# track (opt-in, tracking.wandb.project): the results logged to Weights & Biases. A local rule: online
# logging needs the network, which on a cluster the node running snakemake has.


localrules:
    track,


rule track:
    input:
        summary=f"{RESULTS}/summary.json",
        sweep_tables=sweep_outputs("table"),
        figures=alpaca_figures(),
        sweep_figures=sweep_outputs("figure"),
    output:
        record=f"{RESULTS}/tracking/wandb.json",
    log:
        f"{RESULTS}/logs/track.log",
    benchmark:
        f"{RESULTS}/benchmarks/track.tsv"
    conda:
        "../envs/tracking.yaml"
    params:
        project=WANDB["project"] or "",
        entity=WANDB["entity"] or "",
        mode=WANDB["mode"],
        run_dir=lambda wildcards, output: str(Path(output.record).parent),
        figures=lambda wildcards, input: [*input.figures, *input.sweep_figures],
    shell:
        step_command(
            "track",
            "input.summary",
            "input.sweep_tables",
            "params.figures",
            "params.project",
            "params.entity",
            "params.mode",
            "params.run_dir",
            "output.record",
        )
