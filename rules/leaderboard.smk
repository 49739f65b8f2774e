# leaderboard: every benchmark's numbers (no network): alpaca_eval's win rate and LC win rate for every
# (model, reference) pair, Arena-Hard-Auto's and MT-Bench's scores; all of them in leaderboard.csv, and one tidy
# table per benchmark (results/leaderboards/<benchmark>.csv) with only its columns.


localrules:
    leaderboard,


rule leaderboard:
    input:
        annotations=PAIR_ANNOTATIONS,
        throughputs=per_model("throughput.json"),
        df_gamed=if_alpaca(f"{RESULTS}/df_gamed.csv"),
        prompts=if_alpaca(f"{RESULTS}/prompts.parquet"),
        arena_annotations=[
            f"{annotation_folder(RESULTS, m, r)}/annotations.json"
            for m, r in ARENA_PAIRS + ARENA_HEADS
        ],
        arena_throughputs=[
            f"{RESULTS}/{m}/{split_reference(r)[0]}/throughput.json"
            for m, r in ARENA_PAIRS + ARENA_HEADS
        ],
        arena_official=[
            arena_official(b) for b in dict.fromkeys(b for _, b in ARENA_PAIRS)
        ],
        mt_annotations=[
            f"{annotation_folder(RESULTS, m, r)}/annotations.json" for m, r in MT_PAIRS
        ],
        mt_throughputs=[
            f"{RESULTS}/{m}/{MT_BENCH}/throughput.json" for m, _ in MT_PAIRS
        ],
    output:
        csv=f"{RESULTS}/leaderboard.csv",
        md=f"{RESULTS}/leaderboard.md",
        turns_csv=f"{RESULTS}/turn_win_rates.csv",
        boards=expand(f"{RESULTS}/leaderboards/{{name}}.csv", name=RUN_BENCHMARKS),
    log:
        f"{RESULTS}/logs/leaderboard.log",
    benchmark:
        f"{RESULTS}/benchmarks/leaderboard.tsv"
    conda:
        "../envs/report.yaml"
    params:
        models=[m for m, _ in PAIRS],
        reference=[r for _, r in PAIRS],
        arena_models=[m for m, _ in ARENA_PAIRS + ARENA_HEADS],
        arena_references=[r for _, r in ARENA_PAIRS + ARENA_HEADS],
        arena_rounds=config["arena_hard"]["bootstrap_rounds"],
        arena_seed=config["arena_hard"]["seed"],
        mt_models=[m for m, _ in MT_PAIRS],
        mt_rounds=config["mt_bench"]["bootstrap_rounds"],
        mt_seed=config["mt_bench"]["seed"],
        ties=config["ties"],
        benchmarks=RUN_BENCHMARKS,
    shell:
        step_command(
            "leaderboard",
            "params.models",
            "params.reference",
            "input.annotations",
            "input.throughputs",
            "input.df_gamed",
            "output.csv",
            "output.md",
            "params.arena_models",
            "params.arena_references",
            "input.arena_annotations",
            "input.arena_throughputs",
            "input.arena_official",
            "params.arena_rounds",
            "params.arena_seed",
            "params.mt_models",
            "input.mt_annotations",
            "input.mt_throughputs",
            "params.mt_rounds",
            "params.mt_seed",
            "params.ties",
            "input.prompts",
            "output.turns_csv",
            "params.benchmarks",
            "output.boards",
        )
