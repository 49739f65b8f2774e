# plots: the report's figures and the per-subset win rates (AlpacaEval's with alpaca_eval, MT-Bench's with mt_bench).


localrules:
    plots,


rule plots:
    input:
        annotations=per_model("annotations.json"),
        leaderboard=f"{RESULTS}/leaderboard.csv",
    output:
        win_rates=(
            [
                report(
                    f"{RESULTS}/figures/win_rates.png",
                    caption="captions/win_rates.rst",
                    category="Plots",
                )
            ]
            if ALPACA
            else []
        ),
        lengths=(
            [
                report(
                    f"{RESULTS}/figures/lengths.png",
                    caption="captions/lengths.rst",
                    category="Plots",
                )
            ]
            if ALPACA
            else []
        ),
        length_preference=(
            [
                report(
                    f"{RESULTS}/figures/length_preference.png",
                    caption="captions/length_preference.rst",
                    category="Plots",
                )
            ]
            if ALPACA
            else []
        ),
        subsets=(
            [
                report(
                    f"{RESULTS}/figures/subsets.png",
                    caption="captions/subsets.rst",
                    category="Plots",
                )
            ]
            if ALPACA
            else []
        ),
        subsets_csv=if_alpaca(f"{RESULTS}/subset_win_rates.csv"),
        mt_bench=(
            [
                report(
                    f"{RESULTS}/figures/mt_bench_categories.png",
                    caption="captions/mt_bench_categories.rst",
                    category="Plots",
                )
            ]
            if MT_PAIRS
            else []
        ),
    log:
        f"{RESULTS}/logs/plots.log",
    benchmark:
        f"{RESULTS}/benchmarks/plots.tsv"
    conda:
        "../envs/report.yaml"
    params:
        models=AE_MODELS,
        out_dir=lambda wildcards, output: str(Path(output[0]).parent),
        ties=config["ties"],
    shell:
        step_command(
            "plots",
            "params.models",
            "input.annotations",
            "input.leaderboard",
            "params.out_dir",
            "output.subsets_csv",
            "params.ties",
        )
