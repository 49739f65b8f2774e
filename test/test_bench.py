"""The benchmark harness's CPU-side code: arguments, plans, the interleaved schedule, tables, doc writing, a worker.

The GPU mode (`bench.py --device cuda`) cannot run here; what it runs and what
it writes is checked with the same functions on CPU: its plan (real shapes,
local models only) and its section of docs/benchmarks.md, written beside the
other writers' sections.
"""

from __future__ import annotations

import sys

import pytest
from conftest import REPO

sys.path.append(str(REPO / "bench"))
import benchtables as tables  # noqa: E402
from benchdoc import sections  # noqa: E402
from benchharness import Worker, WorkerError, schedule, spread, summarize  # noqa: E402

import bench  # noqa: E402


def test_schedule_warms_up_first_then_rotates_the_variants_each_round():
    steps = schedule(["a", "b"], ["x", "y", "z"], repeats=5)
    assert len(steps) == 6 * 2 * 3
    rounds = [[s for s in steps if s.round == r] for r in range(6)]
    assert all(s.warm_up for s in rounds[0]) and not any(s.warm_up for r in rounds[1:] for s in r)
    for r, steps_r in enumerate(rounds):
        assert {(s.case, s.variant) for s in steps_r} == {(c, v) for c in "ab" for v in "xyz"}
        assert [s.variant for s in steps_r if s.case == "a"] == ["xyz"[(r + i) % 3] for i in range(3)]
    assert [s.warm_up for s in schedule(["a"], ["x"], repeats=0)] == [True]  # GPU, --repeats 1: first calls only
    with pytest.raises(ValueError):
        schedule(["a"], ["x"], repeats=-1)


def test_summaries_leave_the_warm_up_out():
    records = [{"v": "x", "warm_up": True, "wall_s": 9.0}] + [
        {"v": "x", "warm_up": False, "wall_s": t} for t in (3, 1, 2)
    ]
    (row,) = summarize(records, ("v",))
    assert row["wall_s"] == spread([1, 2, 3]) == {"median": 2, "min": 1, "max": 3, "n": 3}
    assert "warm_up" not in row


def _gen_row(model: str, variant: str, median: float, tokens: int = 64, prompts: int = 32, timed: int = 32) -> dict:
    return {"model": model, "vocab": 1024, "tokens": tokens, "prompts": prompts, "variant": variant, "load_s": 1.0,
            "peak_rss_mb": 500.0, "output_tokens": tokens * timed, "timed_prompts": timed,
            "wall_s": {"median": median, "min": median * 0.9, "max": median * 1.2, "n": 5}}  # fmt: skip


GEN = [
    _gen_row("toy", "seed_loop", 10.0),
    _gen_row("toy", "transformers", 1.0),
    _gen_row("toy", "transformers_raw", 0.98),
    _gen_row("toy", "vllm", 0.44),
    _gen_row("toy", "vllm_raw", 0.40),
    _gen_row("toy", "seed_loop", 10.0, prompts=256, timed=32),  # timed on 32 of 256
    _gen_row("toy", "vllm", 2.0, prompts=256, timed=256),
    _gen_row("toy", "vllm_raw", 2.1, prompts=256, timed=256),
]


def test_ratios_and_verdicts_come_from_the_medians():
    over = {(r["prompts"], r["backend"]): r["ratio"] for r in tables.overhead_rows(GEN)}
    assert over == pytest.approx({(32, "transformers"): 1 / 0.98, (32, "vllm"): 1.1, (256, "vllm"): 2.0 / 2.1})
    verdicts = "\n".join(tables.speed_verdicts(GEN))
    # tokens/s: seed 64*32/10 = 204.8; vllm 32p: 64*32/0.44 -> 22.7x; vllm 256p: 64*256/2 -> 40.0x
    assert "vllm >= 20x the seed loop in output tokens/s (medians): met in 2 of 2 cases" in verdicts
    assert "toy/64tok/256p: 40.0x" in verdicts
    assert "transformers >= 5x the seed loop in output tokens/s (medians): met in 1 of 1 cases" in verdicts
    assert "within 1.05x of the raw engine's time (medians): met in 2 of 3 cases" in verdicts
    table = "\n".join(tables.generation_table(list(reversed(GEN))))  # rows come in a fixed order
    variants = [line.split(" | ")[4] for line in table.splitlines()[2:]]
    assert variants == [
        "seed_loop",
        "vllm",
        "vllm_raw",
        "seed_loop",
        "transformers",
        "transformers_raw",
        "vllm",
        "vllm_raw",
    ]
    assert "| toy | 1,024 | 64 | 32 of 256 | seed_loop |" in table
    assert "| 0.44 (0.40–0.53) |" in table


JUDGE = [
    {"judge": "toy", "method": m, "variant": v, "pairs": 64, "parsed": p, "load_s": 3.0,
     "wall_s": {"median": t, "min": t, "max": t, "n": 5}}
    for m, v, p, t in [("weighted", "ours", 64, 2.0), ("weighted", "raw", None, 1.8),
                       ("ranking", "ours", 0, 4.0), ("ranking", "raw", None, 2.0)]
]  # fmt: skip


def test_judge_verdicts():
    lines = "\n".join(tables.judge_verdicts(JUDGE))
    assert (
        "toy, weighted: alpacaflow's annotate path judges 0.90x the raw engine's pairs/s (target >= 0.8: met)" in lines
    )
    assert (
        "toy, ranking: alpacaflow's annotate path judges 0.50x the raw engine's pairs/s (target >= 0.8: missed)"
        in lines
    )
    assert "toy: weighted judges 2.0x as many pairs/s as ranking" in lines
    assert "| toy | ranking | raw vLLM | 64 | 32.00 |" in "\n".join(tables.judge_table(JUDGE))


def test_a_model_that_is_not_local_is_refused_before_anything_runs(tmp_path):
    with pytest.raises(bench.BenchError, match="not a local model folder .* never downloads"):
        bench.parse_args(["--device", "cuda", "--model", "meta-llama/Llama-3.2-1B"])
    with pytest.raises(bench.BenchError, match="--judge-model"):
        bench.parse_args(["--judge-model", str(tmp_path)])
    with pytest.raises(SystemExit):
        bench.parse_args(["--repeats", "0"])


@pytest.mark.skipif(__import__("torch").cuda.is_available(), reason="a GPU is visible")
def test_gpu_mode_without_a_gpu_stops_with_one_line(capsys):
    with pytest.raises(SystemExit) as stop:
        bench.main(["--device", "cuda"])
    assert str(stop.value) == "bench: --device cuda: no CUDA GPU is visible to torch (on CPU run `make bench`)"


def test_gpu_plan_times_real_shapes_on_local_models(monkeypatch, tiny_models):
    monkeypatch.setattr(bench, "real_vocab_model", lambda: tiny_models["chat"])
    monkeypatch.setattr(bench, "vllm_present", lambda: True)
    args = bench.parse_args(["--device", "cuda", "--model", str(tiny_models["base"]), "--repeats", "7"])
    plan = bench.make_plan(args)
    assert (plan.device, plan.repeats, plan.workflow) == ("cuda", 7, False)
    assert [(m.label, m.path, m.cases, m.prompts) for m in plan.models] == [
        ("real-vocab 2L", tiny_models["chat"], [(512, 805)], "synthetic"),
        ("base", tiny_models["base"], [(512, 805)], "synthetic"),
    ]
    assert all(m.variants == ["seed_loop", "transformers", "transformers_raw", "vllm", "vllm_raw"] for m in plan.models)
    assert [(j.pairs, j.prompts) for j in plan.judges] == [({"weighted": 805, "ranking": 805}, "synthetic")]
    assert plan.gpu_memory_utilization == 0.6 and bench._judge_memory(plan) == {"gpu_memory_utilization": 0.3}
    small = bench.make_plan(bench.parse_args(["--device", "cuda", "--prompts", "64", "--tokens", "128"]))
    assert [m.cases for m in small.models] == [[(128, 64)]] and small.judges[0].pairs["ranking"] == 64
    with pytest.raises(SystemExit):
        bench.parse_args(["--device", "cuda", "--prompts", "806"])


def test_gpu_section_is_written_beside_the_other_sections(tmp_path, monkeypatch):
    doc = tmp_path / "benchmarks.md"
    realistic = (
        "<!-- section realistic: written by bench/realistic.py -->\nDAG table\n<!-- end of section realistic -->"
    )
    doc.write_text(f"# Benchmarks\n\nCPU tables\n\n{realistic}\n")
    plan = bench.Plan("cuda", 5, [], [], 100, False, 256, 4096, 0.85)
    gen = [{**r, "device_name": "NVIDIA H200"} for r in GEN]
    bench.write_doc(plan, gen, JUDGE, None, 300.0, doc)
    text = doc.read_text()
    assert text.startswith("# Benchmarks\n\nCPU tables\n") and realistic in text
    gpu = sections(text)["gpu"]
    assert gpu.startswith("<!-- section gpu: written by bench/bench.py --device cuda -->\n## GPU")
    assert "GPU: NVIDIA H200" in gpu and "| toy | 1,024 | 64 | 32 | vllm_raw |" in gpu
    assert "Each variant ran 5 time(s)" in gpu and "vLLM was absent" not in gpu
    bench.write_doc(plan, gen[:5], JUDGE, None, 300.0, doc)  # a second GPU run replaces its section only
    again = doc.read_text()
    assert again.count("## GPU") == 1 and realistic in again and "CPU tables" in again
    assert "| 256 |" not in sections(again)["gpu"]
    cpu = bench.Plan("cpu", 5, [], [], 100, True, 64, 2048, 0.2)
    rules = [{"job": "report", "s": 0.5, "max_rss_mb": 100.0}]
    flow = {"dry_run_s": 1.5, "dry_runs": [1.5, 1.4, 1.6], "no_slurm": None, "rules": rules}
    bench.write_doc(cpu, GEN, JUDGE, flow, 500.0, doc)  # the CPU harness rewrites its own text, keeps both sections
    final = doc.read_text()
    assert "CPU tables" not in final and set(sections(final)) == {"realistic", "gpu"}
    assert "## Generation" in final and "target < 3 s: met" in final and "| report | 0.5 | 100 |" in final


def test_a_worker_times_the_seed_loop_ours_and_raw_on_the_same_token_ids(tmp_path, tiny_models):
    spec = {"kind": "torch", "model": str(tiny_models["chat"]), "device": "cpu", "prompts": "demo", "batch_size": 3,
            "max_num_seqs": 8, "max_model_len": 512, "gpu_memory_utilization": 0.2}  # fmt: skip
    with Worker(spec, tmp_path / "torch.log") as worker:
        assert worker.ready["load_s"] > 0 and worker.ready["device_name"] == "CPU"
        assert worker.take_turn(None) is worker and "peak_rss_mb" in worker.call(op="wake")  # one untimed prompt
        for variant in ("seed_loop", "transformers", "transformers_raw"):
            answer = worker.call(op="time", variant=variant, tokens=5, prompts=4)
            assert (answer["output_tokens"], answer["timed_prompts"]) == (20, 4), variant
            assert answer["wall_s"] > 0 and answer["peak_rss_mb"] > 0
        assert worker.call(op="time", variant="seed_loop", tokens=5, prompts=4, limit=2)["timed_prompts"] == 2
        with pytest.raises(WorkerError, match="KeyError: 'no_such_variant'"):
            worker.call(op="time", variant="no_such_variant", tokens=5, prompts=4)
        assert (
            worker.call(op="time", variant="transformers", tokens=2, prompts=1)["output_tokens"] == 2
        )  # still serving
        assert worker.close()["peak_rss_mb"] > 0
    assert worker.proc.returncode == 0


BLOCKED = ("vllm", "pandas", "pyarrow", "jsonschema", "alpaca_eval", "snakemake")


@pytest.fixture
def without_vllm(tmp_path, monkeypatch):
    """Worker processes in which vLLM, pandas, pyarrow, jsonschema, alpaca_eval and snakemake cannot be imported.

    A `sitecustomize` on the workers' PYTHONPATH refuses them (what a GPU machine with torch and
    transformers alone would do) and leaves a marker, so the test knows it was in force.
    """
    site = tmp_path / "site"
    site.mkdir()
    (site / "sitecustomize.py").write_text(
        "import pathlib, sys\n"
        f"BLOCKED = {BLOCKED!r}\n"
        "def hide(find):\n"  # every finder answers as if the package were not installed (find_spec: None)
        "    return lambda name, *a, **k: None if name.split('.')[0] in BLOCKED else find(name, *a, **k)\n"
        "for finder in sys.meta_path:\n"  # PathFinder is a class (its find_spec a classmethod), others instances
        "    if hasattr(finder, 'find_spec'):\n"
        "        hidden = hide(finder.find_spec)\n"
        "        finder.find_spec = staticmethod(hidden) if isinstance(finder, type) else hidden\n"
        f"pathlib.Path({str(site / 'in_force')!r}).touch()\n"
    )
    monkeypatch.setenv("PYTHONPATH", str(site))
    return site / "in_force"


def test_a_torch_worker_needs_no_vllm_pandas_or_jsonschema(tmp_path, tiny_models, without_vllm):
    spec = {"kind": "torch", "model": str(tiny_models["chat"]), "device": "cpu", "prompts": "synthetic",
            "batch_size": "auto", "max_num_seqs": 8, "max_model_len": 512, "gpu_memory_utilization": 0.2}  # fmt: skip
    with Worker(spec, tmp_path / "torch.log") as worker:
        assert without_vllm.exists()
        auto = worker.call(op="time", variant="transformers[auto]", tokens=3, prompts=20)
        assert (auto["output_tokens"], auto["batch_size_used"], auto["out_of_memory_retries"]) == (60, 16, 0)
        fixed = worker.call(op="time", variant="transformers[4]", tokens=3, prompts=6)
        assert (fixed["output_tokens"], fixed["batch_size_used"]) == (18, 4)
        assert worker.call(op="time", variant="transformers_raw[4]", tokens=3, prompts=6)["output_tokens"] == 18
        assert worker.call(op="time", variant="seed_loop", tokens=3, prompts=6, limit=2)["timed_prompts"] == 2
        assert worker.close()["peak_rss_mb"] > 0
    assert worker.proc.returncode == 0


def test_gpu_mode_without_vllm_plans_the_transformers_rows_at_real_shapes(monkeypatch, tiny_models):
    monkeypatch.setattr(bench, "vllm_present", lambda: False)
    monkeypatch.setattr(bench, "llama_1b_shape_model", lambda: tiny_models["chat"])
    plan = bench.make_plan(bench.parse_args(["--device", "cuda", "--repeats", "1"]))
    assert (plan.vllm, plan.judges, plan.batch_size) == (False, [], "auto")
    [model] = plan.models
    assert model.label == "Llama-3.2-1B shape" and model.prompts == "synthetic"
    assert model.only == {(512, 805): ["transformers[auto]", "transformers[128]"],
                          (512, 128): ["seed_loop", "transformers[16]"],
                          (128, 256): ["transformers[128]", "transformers_raw[128]"]}  # fmt: skip
    steps = bench.generation_steps(plan, model)
    calls = {}
    for step in steps:
        calls[(step.case, step.variant)] = calls.get((step.case, step.variant), 0) + 1
    assert calls == {((512, 805), "transformers[auto]"): 1, ((512, 805), "transformers[128]"): 1,
                     ((512, 128), "seed_loop"): 1, ((512, 128), "transformers[16]"): 1,
                     ((128, 256), "transformers[128]"): 4, ((128, 256), "transformers_raw[128]"): 4}  # fmt: skip
    assert [s.warm_up for s in steps if s.case == (128, 256)][:2] == [True, True]  # the first call of each: cold


def test_gpu_mode_without_vllm_runs_through_and_writes_its_section(tmp_path, monkeypatch, tiny_models, without_vllm):
    """The whole `--device cuda` driver on the CPU: the device check and the workers' device stubbed, vLLM refused."""
    monkeypatch.setattr(bench, "check_device", lambda device: None)
    monkeypatch.setattr(bench, "vllm_present", lambda: False)
    monkeypatch.setattr(bench, "llama_1b_shape_model", lambda: tiny_models["chat"])
    spec = bench.worker_spec
    monkeypatch.setattr(bench, "worker_spec", lambda *a: {**spec(*a), "device": "cpu"})  # no GPU here
    doc = tmp_path / "benchmarks.md"
    bench.main(["--device", "cuda", "--repeats", "2", "--prompts", "24", "--tokens", "4", "--out", str(doc)])
    assert without_vllm.exists()
    gpu = sections(doc.read_text())["gpu"]
    assert "vLLM was absent on this machine" in gpu and "### Judge" not in gpu
    assert "| first call s |" in gpu and "transformers[auto: 16]" in gpu  # auto on the workers' CPU: 16
    assert "| Llama-3.2-1B shape | 1,024 | 4 | 24 | transformers[128] |" in gpu
    assert "| Llama-3.2-1B shape | 1,024 | 4 | 2 of 24 | seed_loop |" in gpu
    assert "| Llama-3.2-1B shape | 128 | 24 | transformers[128] |" in gpu  # the overhead table: ours vs raw, warm
    assert "- transformers >= 5x the seed loop" in gpu


def test_first_calls_are_kept_apart_on_a_gpu():
    records = [{"v": "x", "warm_up": True, "wall_s": 9.0}, {"v": "x", "warm_up": False, "wall_s": 3.0},
               {"v": "y", "warm_up": True, "wall_s": 5.0}]  # fmt: skip
    x, y = summarize(records, ("v",), first_call=True)
    assert (x["first_call_s"], x["warm_calls"], x["wall_s"]["median"]) == (9.0, 1, 3.0)
    assert (y["first_call_s"], y["warm_calls"], y["wall_s"]["median"]) == (5.0, 0, 5.0)
    row = {**_gen_row("m", "transformers[auto]", 80.0, tokens=512, prompts=805, timed=805), "first_call_s": 95.0,
           "warm_calls": 0, "batch_size_used": 805}  # fmt: skip
    table = "\n".join(tables.generation_table([row]))
    assert "| transformers[auto: 805] | 1.0 | 95.00 | – (first call only) |" in table
    assert tables.gpu_verdicts([row]) == [
        "- m: 805 prompts x 512 new tokens at batch_size auto (transformers[auto: 805]) in 95.0 s as a job's first "
        "call (target < 100 s on an H100-class GPU: met)."
    ]


def test_the_gpu_model_has_llama_3_2_1b_shape():
    """Built on the meta device (no weights here): Llama-3.2-1B's 1,235,814,400 parameters, head_dim 64."""
    import torch
    from alpacaflow.testing.checkpoints import LLAMA32_1B_ARCH
    from transformers import LlamaConfig, LlamaForCausalLM

    config = LlamaConfig(vocab_size=128256, num_hidden_layers=16, **LLAMA32_1B_ARCH)
    with torch.device("meta"):
        model = LlamaForCausalLM(config)
    assert sum(p.numel() for p in model.parameters()) == 1_235_814_400 and config.head_dim == 64
