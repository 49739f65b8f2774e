# Config validation, config lookups, input functions and the step command shared by all rules.
# (runtime.smk, included before this file, makes the package importable and sets the jobs' environment.)
import hashlib
import json
from pathlib import Path

from alpacaflow.benchmarks.arena_hard.data import ENCODING_CACHE_NAME
from alpacaflow.benchmarks import (
    VERSIONS,
    annotated_pairs,
    arena_benchmarks,
    benchmark_settings,
    check_benchmarks,
    model_homes,
    run_benchmarks,
    split_reference,
    version_of,
)
from alpacaflow.config import (
    ALPACA_EVAL,
    BENCHMARK_PREFIX,
    MT_BENCH,
    OFFICIAL_REFERENCE,
    PROMPT_REFERENCE,
    VALIDATION,
    annotation_folder,
    check_config,
    downloads,
    gpus_for,
    is_benchmark,
    judged_pairs,
    looks_local,
    model_settings,
)
from alpacaflow.checkpoint_sweeps import sweeps
from alpacaflow.errors import AlpacaflowError
from alpacaflow.formatting import template_sha256
from alpacaflow.judge_settings import check_judge, judge_gpus, judge_name, settings_hash
from alpacaflow.judge_settings import template_sha256 as judge_template_sha256
from alpacaflow.model_context import check_context_lengths
from alpacaflow.model_paths import check_model_paths
from alpacaflow.weights import folder_fingerprint

try:
    check_config(config)
    check_model_paths(config)
    check_benchmarks(config)
    check_judge(config["judge"])
    if config["arena_hard"]["judge"]:
        check_judge(config["arena_hard"]["judge"])
    if config["mt_bench"]["judge"]:
        check_judge(config["mt_bench"]["judge"])
    check_context_lengths(config)
except AlpacaflowError as exc:
    raise WorkflowError(str(exc)) from None


def declared_gpus():
    """GPUs given with --resources gpu=N (None when not declared, e.g. under SLURM)."""
    value = workflow.global_resources.get("gpu")
    return getattr(value, "value", value)


DECLARED_GPUS = declared_gpus()
if DECLARED_GPUS is not None and judge_gpus(config["judge"]) > DECLARED_GPUS:
    raise WorkflowError(
        f"config error at 'judge.tensor_parallel_size': the judge needs "
        f"{judge_gpus(config['judge'])} GPUs but only {DECLARED_GPUS} are declared "
        "(--resources gpu=N); lower it or declare more"
    )
for _model in config["models"] if DECLARED_GPUS is not None else []:
    _needed = gpus_for(model_settings(config, _model))
    if _needed > DECLARED_GPUS:
        raise WorkflowError(
            f"config error at 'models.{_model}.generation.tensor_parallel_size': {_model} needs "
            f"{_needed} GPUs but only {DECLARED_GPUS} are declared (--resources gpu=N); lower it or declare more"
        )

RESULTS = config["results_dir"]
MODELS = list(config["models"])
# The benchmarks the run evaluates, any subset in any order (result folders' names: one per Arena-Hard version).
# Without alpaca_eval, nothing of the prompt set's (its download, pairs, figures, comparison) is asked for:
# AE_MODELS, the models with AlpacaEval outputs, is then empty.
RUN_BENCHMARKS = run_benchmarks(config)
ALPACA = ALPACA_EVAL in config["benchmarks"]
AE_MODELS = MODELS if ALPACA else []
# Each model's first benchmark folder with its answers (its throughput.json stands for the model).
HOMES = model_homes(config)
JUDGE = config["judge"]
# Everything that changes a judgment; secrets are never part of the config.
JUDGE_JSON = json.dumps(JUDGE, sort_keys=True)
VALIDATE = config["validate_judge"]
# A ranking judge gives 1 or 2 (discrete); a weighted one any preference in between.
DISCRETE = JUDGE["method"] == "ranking"
# Rerun triggers of annotate besides the judge settings: a local judge folder's fingerprint (rewriting
# its weights in place re-judges) and alpaca_eval's prompt template for the judge's method. A hub
# judge is identified by download_model's manifest (an input). The annotate step keys its caches by
# the same identity when it runs (judge_settings.cache_file).
JUDGE_WEIGHTS = (
    folder_fingerprint(JUDGE["model"])
    if JUDGE["backend"] == "vllm" and looks_local(JUDGE["model"])
    else ""
)
JUDGE_TEMPLATE = judge_template_sha256(JUDGE)
# Arena-Hard-Auto versions (benchmarks: [..., arena_hard]), their judge (the run's unless arena_hard.judge),
# and the annotate job's rerun trigger for a local one's weights.
ARENA = arena_benchmarks(config)
ARENA_JSON = json.dumps(config["arena_hard"], sort_keys=True)
ARENA_JUDGE = config["arena_hard"]["judge"] or JUDGE
ARENA_JUDGE_WEIGHTS = (
    folder_fingerprint(ARENA_JUDGE["model"])
    if ARENA and ARENA_JUDGE["backend"] == "vllm" and ARENA_JUDGE is not JUDGE
    else ""
)
# MT-Bench (benchmarks: [..., mt_bench]): its section (a rerun trigger of annotate), its judge (the run's unless
# mt_bench.judge), a local one's weights (a rerun trigger), and each generated model's pair (model, mt_bench).
MT = MT_BENCH in config["benchmarks"]
MT_JSON = json.dumps(config["mt_bench"], sort_keys=True)
MT_JUDGE = config["mt_bench"]["judge"] or JUDGE
MT_JUDGE_WEIGHTS = (
    folder_fingerprint(MT_JUDGE["model"])
    if MT and MT_JUDGE["backend"] == "vllm" and MT_JUDGE is not JUDGE
    else ""
)
# Every (model, reference) the judge compares: each model against the prompt
# set's references, then head to head against each model in `references`.
PAIRS = judged_pairs(config)
PAIR_ANNOTATIONS = [
    f"{annotation_folder(RESULTS, m, r)}/annotations.json" for m, r in PAIRS
]
# What the annotate step judges: PAIRS, judge validation's official pairs (results/validation/) when enabled,
# and each generated model's Arena-Hard answers (results/{model}/arena_hard-<v>/).
ANNOTATE_PAIRS = annotated_pairs(config)
MT_PAIRS = [(m, r) for m, r in ANNOTATE_PAIRS if r == MT_BENCH]
# Arena-Hard's pairs: each model's answers against the version's baseline (ARENA_PAIRS: (model, arena_hard-<v>)),
# and head to head against another model's answers (ARENA_HEADS: (model, arena_hard-<v>/vs_<reference>)).
ARENA_PAIRS = [(m, b) for m, b in ANNOTATE_PAIRS if b in ARENA]
ARENA_HEADS = [
    (m, r)
    for m, r in ANNOTATE_PAIRS
    if r.startswith(BENCHMARK_PREFIX) and split_reference(r)[1]
]
# What shapes a leaderboard row's numbers (history.parquet's settings_hash), by the history step's row key:
# "model|reference" on AlpacaEval; "model@mt_bench" on MT-Bench; "model@arena_hard-<v>" on Arena-Hard, "model@arena_hard-<v>/vs_<reference>"
# head to head (its judge, the model's (and reference's) settings there, the arena_hard section but for which
# versions run).
PAIR_SETTINGS = (
    {
        f"{m}|{r}": hashlib.sha256(
            json.dumps(
                {
                    "judge": settings_hash(JUDGE),
                    "model": model_settings(config, m),
                    "reference": r,
                },
                sort_keys=True,
            ).encode()
        ).hexdigest()[:16]
        for m, r in PAIRS
    }
    | {
        f"{m}@{b}": hashlib.sha256(
            json.dumps(
                {
                    "judge": settings_hash(ARENA_JUDGE),
                    "model": benchmark_settings(config, m, split_reference(b)[0]),
                    "reference": (
                        benchmark_settings(
                            config, split_reference(b)[1], split_reference(b)[0]
                        )
                        if split_reference(b)[1]
                        else None
                    ),
                    "benchmark": b,
                    "arena_hard": {
                        k: v for k, v in config["arena_hard"].items() if k != "versions"
                    },
                },
                sort_keys=True,
            ).encode()
        ).hexdigest()[:16]
        for m, b in ARENA_PAIRS + ARENA_HEADS
    }
    | {
        f"{m}@{MT_BENCH}": hashlib.sha256(
            json.dumps(
                {
                    "judge": settings_hash(MT_JUDGE),
                    "model": benchmark_settings(config, m, MT_BENCH),
                    "mt_bench": config["mt_bench"],
                },
                sort_keys=True,
            ).encode()
        ).hexdigest()[:16]
        for m, _ in MT_PAIRS
    }
)
# Under --keep-going: one job per pair, {vs} being "" (the prompt set) or a slash, "vs_" and the reference
# (judge validation's job: model "validation").
ANNOTATIONS = (
    [f"{RESULTS}/{{model}}{{vs}}/annotations.json"]
    if ANNOTATE_PER_MODEL
    else [
        f"{annotation_folder(RESULTS, m, r)}/annotations.json"
        for m, r in ANNOTATE_PAIRS
    ]
)
ANNOTATE_JOB = "annotate/{model}{vs}" if ANNOTATE_PER_MODEL else "annotate"
DOWNLOADS = downloads(config)
# Checkpoint sweeps: check_config added their checkpoints to MODELS; sweep -> steps, models, baseline.
SWEEPS = sweeps(config)
WANDB = config["tracking"]["wandb"]


wildcard_constraints:
    model=r"[A-Za-z0-9][A-Za-z0-9_.-]*",
    vs=r"(/vs_[A-Za-z0-9][A-Za-z0-9_.-]*|/arena_hard-v[0-9.]+(/vs_[A-Za-z0-9][A-Za-z0-9_.-]*)?|/mt_bench)?",
    bench=r"(/arena_hard-v[0-9.]+|/mt_bench)?",
    benchmark=r"arena_hard-v[0-9.]+",
    version=r"v[0-9.]+",
    download=r"_judge|[A-Za-z0-9][A-Za-z0-9_.-]*",
    sweep=r"[A-Za-z0-9][A-Za-z0-9_.-]*",


def settings_of(model, bench=""):
    """A model's resolved settings (on a benchmark: `bench`, the generate job's wildcard); unknown keys: one line."""
    try:
        return benchmark_settings(config, model, bench[1:] or "alpaca_eval")
    except AlpacaflowError as exc:
        raise WorkflowError(str(exc)) from None


def settings_json(wildcards):
    return json.dumps(settings_of(wildcards.model, wildcards.bench), sort_keys=True)


def generate_inputs(wildcards):
    """Prompt table (AlpacaEval's, or the benchmark's), plus the model's config.json or imported outputs when local."""
    settings = settings_of(wildcards.model, wildcards.bench)
    inputs = {
        "prompts": f"{RESULTS}{wildcards.bench}/prompts.parquet",
        "meta": f"{RESULTS}{wildcards.bench}/prompts_meta.json",
    }
    if "outputs" in settings:
        inputs["outputs"] = settings["outputs"]
    elif looks_local(settings["path"]):
        inputs["model_config"] = str(Path(settings["path"]) / "config.json")
    else:
        inputs["weights"] = f"{RESULTS}/downloads/{wildcards.model}.json"
    return inputs


def weights_fingerprint(wildcards):
    """A local model folder's fingerprint, so that rewriting its weights reruns generate; "" otherwise.

    Hub models are identified by download_model's manifest (an input).
    """
    settings = settings_of(wildcards.model)
    if "path" in settings and looks_local(settings["path"]):
        return folder_fingerprint(settings["path"])
    return ""


def template_fingerprint(wildcards):
    """SHA-256 of a model's prompt template file, so that editing it reruns generate; "" without one."""
    return template_sha256(settings_of(wildcards.model).get("template"))


def manifest_path(wildcards, input):
    """download_model's manifest of a hub model (its snapshot's commit is loaded and keys the store); "" otherwise."""
    return input.weights if hasattr(input, "weights") else ""


def judge_inputs():
    """The judge's weights: its hub snapshot, or a local model's config.json."""
    if "_judge" in DOWNLOADS:
        return {"weights": f"{RESULTS}/downloads/_judge.json"}
    if JUDGE["backend"] == "vllm":
        return {"judge_config": str(Path(JUDGE["model"]) / "config.json")}
    return {}


def job_pairs(wildcards):
    """The (model, reference) pairs one annotate job judges: all of them, or its own under --keep-going."""
    if not ANNOTATE_PER_MODEL:
        return ANNOTATE_PAIRS
    if wildcards.model == VALIDATION and not wildcards.vs:
        return [(VALIDATION, OFFICIAL_REFERENCE)]
    if is_benchmark(wildcards.vs[1:]):
        return [(wildcards.model, wildcards.vs[1:])]
    return [
        (
            wildcards.model,
            wildcards.vs.partition("vs_")[2] or PROMPT_REFERENCE,
        )
    ]


def model_outputs(model):
    return f"{RESULTS}/{model}/model_outputs.json"


OFFICIAL_ANNOTATIONS = f"{RESULTS}/validation/official_annotations.json"


def pair_outputs(model, reference):
    """A pair's judged outputs: the model's (on AlpacaEval or a benchmark), or judge validation's official pairs."""
    if reference == OFFICIAL_REFERENCE:
        return OFFICIAL_ANNOTATIONS
    if is_benchmark(reference):
        return f"{RESULTS}/{model}/{split_reference(reference)[0]}/model_outputs.json"
    return model_outputs(model)


def arena_files(version, name):
    """Each Arena-Hard model's file `name` of one version (results/{model}/arena_hard-<v>/<name>)."""
    return [
        f"{annotation_folder(RESULTS, m, b)}/{name}"
        for m, b in ARENA_PAIRS
        if b == f"arena_hard-{version}"
    ]


def arena_official(benchmark):
    """export_arena's folder of a benchmark (arena_hard-<v>): results/official/data/arena-hard-<v>."""
    return f"{RESULTS}/official/data/{VERSIONS[version_of(benchmark)]}"


def job_benchmarks(wildcards):
    """The benchmark folders (results/arena_hard-<v>) whose pairs the job judges."""
    refs = {split_reference(r)[0] for _, r in job_pairs(wildcards) if is_benchmark(r)}
    return [f"{RESULTS}/{b}" for b in [*ARENA, MT_BENCH] if b in refs]


def annotate_inputs(wildcards):
    """Prompts, the judged models' and the reference models' outputs, the benchmarks' data, the judge's weights."""
    pairs = job_pairs(wildcards)
    return {
        "prompts": if_alpaca(f"{RESULTS}/prompts.parquet"),
        "outputs": [pair_outputs(m, r) for m, r in pairs],
        "reference_models": sorted(
            {
                model_outputs(r)
                for _, r in pairs
                if r not in (PROMPT_REFERENCE, OFFICIAL_REFERENCE)
                and not is_benchmark(r)
            }
        ),
        # Head to head on a benchmark: the reference model's answers to it.
        "benchmark_references": sorted(
            {
                f"{RESULTS}/{split_reference(r)[1]}/{split_reference(r)[0]}/model_outputs.json"
                for _, r in pairs
                if r.startswith(BENCHMARK_PREFIX) and split_reference(r)[1]
            }
        ),
        "benchmark_files": [
            f"{folder}/{name}"
            for folder in job_benchmarks(wildcards)
            for name in ("prompts.parquet", "protocol.json")
        ],
        **judge_inputs(),
    }


def annotate_param(part):
    """One column of the job's pairs: "model", "reference" or "cache" (each pair's judge-cache folder)."""

    def column(wildcards):
        pairs = job_pairs(wildcards)
        if part == "model":
            return [m for m, _ in pairs]
        if part == "reference":
            return [r for _, r in pairs]
        return [f"{annotation_folder(RESULTS, m, r)}/judge_cache" for m, r in pairs]

    return column


def judge_manifest(wildcards, input):
    """download_model's manifest of a hub judge (its commit is loaded and keys the caches); "" otherwise."""
    return input.weights if hasattr(input, "weights") else ""


def download_of(wildcards):
    """(repo id, revision) of a download name; unknown names end in one clear error."""
    if wildcards.download not in DOWNLOADS:
        known = ", ".join(sorted(DOWNLOADS)) or "none"
        raise WorkflowError(
            f"nothing to download as '{wildcards.download}'; hub models: {known}"
        )
    return DOWNLOADS[wildcards.download]


def generate_gpus(wildcards):
    return gpus_for(settings_of(wildcards.model, wildcards.bench))


def local_copy(section):
    """Input function: the files of a local copy of a benchmark's repository (config[section]["source"]), so that
    editing one refetches; none when it is read from GitHub."""

    def files(wildcards):
        source = config[section]["source"]
        if source == "github":
            return []
        return sorted(
            str(p) for p in Path(source).expanduser().rglob("*") if p.is_file()
        )

    return files


def prompt_source_inputs(wildcards):
    """Local prompt and df_gamed files, so that editing them reruns download_prompts."""
    prompts = config["prompts"]
    if prompts["source"] == "huggingface":
        return []
    optional = [prompts["df_gamed"], prompts["lc_instructions"]]
    return [prompts["source"], *(path for path in optional if path)]


def per_model(name):
    """The AlpacaEval file `name` of every configured model, in config order (none without alpaca_eval)."""
    return [f"{RESULTS}/{model}/{name}" for model in AE_MODELS]


def if_alpaca(path):
    """[path] when the run evaluates AlpacaEval, else none (a step reads an empty path as None)."""
    return [path] if ALPACA else []


def alpaca_figures():
    """The plots step's AlpacaEval figures (none without alpaca_eval)."""
    names = ["win_rates", "lengths", "length_preference", "subsets"] if ALPACA else []
    return [f"{RESULTS}/figures/{name}.png" for name in names]


def home_files(name):
    """The file `name` in each model's first benchmark folder with its answers (HOMES), in config order."""
    return [f"{RESULTS}/{model}{home}/{name}" for model, home in HOMES.items()]


def official_local_inputs(wildcards):
    """A local official-annotations file, so that editing it refetches; none for a URL."""
    source = VALIDATE["source"]
    return [] if source.startswith(("https://", "http://")) else [source]


def sweep_annotations(wildcards):
    """annotations.json of a sweep's checkpoints, in step order."""
    return [
        f"{RESULTS}/{model}/annotations.json"
        for model in SWEEPS[wildcards.sweep]["models"]
    ]


def sweep_outputs(kind):
    """A file of every sweep: "verdict" (sweeps/<sweep>.json), "table" (.csv) or "figure"."""
    paths = {
        "verdict": f"{RESULTS}/sweeps/{{sweep}}.json",
        "table": f"{RESULTS}/sweeps/{{sweep}}.csv",
        "figure": f"{RESULTS}/figures/sweep_{{sweep}}.png",
    }
    return [paths[kind].format(sweep=sweep) for sweep in SWEEPS]


def validation_agreement():
    """agreement.json of the opt-in validate_judge rule, when it is enabled."""
    return [f"{RESULTS}/validation/agreement.json"] if VALIDATE["enabled"] else []


def step_command(step, *args, offline=False):
    """The shell command of a rule: `python -m alpacaflow <step>` with one option per argument.

    Each argument names a job attribute: "input.prompts", "output.csv",
    "params.seed", "wildcards.model", "threads" or "resources.gpu". Its last
    part, underscores as hyphens, is the option, and, as is, the parameter of
    the step's `run` (see alpacaflow.cli), so a rule's keys are the step's
    arguments. stdout and stderr go to the rule's log (its path in
    ALPACAFLOW_LOG, which the step's error line names); when the step fails,
    the log's last line (the step's one-line error: alpacaflow.cli prints one
    for every exception) is repeated on stderr and the step's exit status is
    kept (1 for bad input or an engine's error, 143 after SIGTERM); a step
    killed by another signal cannot write its own line, so the shell names
    the signal: 9 (SIGKILL: the out-of-memory killer, a scheduler's hard
    limit), 6 (SIGABRT: native code aborting), or any other by its name.
    `offline` runs it with HF_HUB_OFFLINE=1 (generate, annotate, validate_judge).
    """
    options = " ".join(
        f"--{arg.split('.')[-1].replace('_', '-')} {{{arg}:q}}" for arg in args
    )
    env = "HF_HUB_OFFLINE=1 " if offline else ""
    return (
        f"{env}ALPACAFLOW_LOG={{log:q}} python -m alpacaflow {step} {options} > {{log:q}} 2>&1"
        ' || {{ status=$?; if [ $status -gt 128 ] && [ $status -ne 143 ]; then sig=$((status - 128)); case $sig in 9) why="killed by signal 9 (out of memory or a time limit?)";; 6) why="aborted by signal 6 (SIGABRT: native code called abort, e.g. a C++ thread torn down at exit)";; *) why="stopped by signal $sig (SIG$(kill -l $sig))";; esac; echo "error: $why; finished work is kept; log: {log}" >&2; else tail -n 1 {log:q} >&2; fi; exit $status; }}'
    )


def deliverables():
    """Each model's outputs and each pair's annotations (AlpacaEval's format), head to head and benchmarks included.

    Targets of the default run, so that a plain run restores any that a killed
    job's cleanup removed (from the generation store and the judge cache).
    """
    outputs = {model_outputs(m) for m in AE_MODELS} | {
        pair_outputs(m, r) for m, r in ANNOTATE_PAIRS
    }
    annotations = {
        f"{annotation_folder(RESULTS, m, r)}/annotations.json"
        for m, r in ANNOTATE_PAIRS
    }
    return sorted(outputs | annotations)


def all_targets():
    """The report, each model's page and summary.json, the W&B record when tracking.wandb.project is set, MT-Bench's FastChat layout,
    and the deliverables every model's report rests on (`deliverables`)."""
    tracked = [f"{RESULTS}/tracking/wandb.json"] if WANDB["project"] else []
    exported = [f"{RESULTS}/official/data/{MT_BENCH}"] if MT_PAIRS else []
    return [
        f"{RESULTS}/report.md",
        *(f"{RESULTS}/{m}/report.md" for m in HOMES),
        f"{RESULTS}/summary.json",
        *tracked,
        *exported,
        *deliverables(),
    ]
