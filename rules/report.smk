# report: results/report.md, readable on its own: the overview first, then a section per benchmark in the order of
# `benchmarks`.


localrules:
    report,


rule report:
    input:
        leaderboard=f"{RESULTS}/leaderboard.csv",
        throughputs=per_model("throughput.json"),
        outputs=per_model("model_outputs.json"),
        error_samples=per_model("error_sample.md"),
        meta=if_alpaca(f"{RESULTS}/prompts_meta.json"),
        prompts=if_alpaca(f"{RESULTS}/prompts.parquet"),
        comparison=if_alpaca(f"{RESULTS}/paired_comparison.csv"),
        taxonomies=per_model("error_taxonomy.json"),
        context=if_alpaca(f"{RESULTS}/context_leaderboard.csv"),
        subsets=if_alpaca(f"{RESULTS}/subset_win_rates.csv"),
        turns=if_alpaca(f"{RESULTS}/turn_win_rates.csv"),
        figures=alpaca_figures(),
        overview=f"{RESULTS}/overview.csv",
        overview_figure=f"{RESULTS}/figures/overview.png",
        validation=validation_agreement(),
        history=f"{RESULTS}/history_appended.json",
        annotations=PAIR_ANNOTATIONS,
        arena_protocols=[f"{RESULTS}/{b}/protocol.json" for b in ARENA],
        arena_error_samples=[
            f"{RESULTS}/{m}/{b}/error_sample.md" for m, b in ARENA_PAIRS
        ],
        mt_error_samples=[
            f"{RESULTS}/{m}/{MT_BENCH}/error_sample.md" for m, _ in MT_PAIRS
        ],
        mt_figure=[f"{RESULTS}/figures/mt_bench_categories.png"] if MT_PAIRS else [],
        sweep_tables=sweep_outputs("table"),
        sweep_verdicts=sweep_outputs("verdict"),
        sweep_figures=sweep_outputs("figure"),
    output:
        report=report(
            f"{RESULTS}/report.md", caption="captions/report.rst", category="Report"
        ),
        # Each model's page: its error samples and error-class examples (in report.md too, up to 3 models).
        pages=[f"{RESULTS}/{m}/report.md" for m in HOMES],
    log:
        f"{RESULTS}/logs/report.log",
    benchmark:
        f"{RESULTS}/benchmarks/report.tsv"
    conda:
        "../envs/report.yaml"
    params:
        models=AE_MODELS,
        page_models=list(HOMES),
        benchmarks=RUN_BENCHMARKS,
        judge=JUDGE_JSON,
        context_models=json.dumps(config["context"]["models"]),
        validation=lambda wildcards, input: (
            input.validation[0] if input.validation else ""
        ),
        mt_figure=lambda wildcards, input: input.mt_figure[0] if input.mt_figure else "",
    shell:
        step_command(
            "report",
            "params.models",
            "input.leaderboard",
            "input.throughputs",
            "input.outputs",
            "input.error_samples",
            "input.meta",
            "input.prompts",
            "params.judge",
            "input.comparison",
            "input.taxonomies",
            "input.context",
            "params.context_models",
            "input.subsets",
            "input.figures",
            "input.history",
            "input.annotations",
            "params.validation",
            "input.sweep_tables",
            "input.sweep_verdicts",
            "input.sweep_figures",
            "output.report",
            "input.arena_protocols",
            "input.arena_error_samples",
            "input.mt_error_samples",
            "params.mt_figure",
            "input.turns",
            "params.benchmarks",
            "input.overview",
            "input.overview_figure",
            "params.page_models",
            "output.pages",
        )
