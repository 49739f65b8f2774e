"""Run `generate.run_generation` for several models in one process (vLLM is imported once).

Usage: python generate_probe.py RUNS_JSON, where RUNS_JSON is a list of
[settings, prompts.parquet, out_dir]. The tests run the vLLM backend on
several models and settings with it, without paying vLLM's import for each
(each run still starts its own engine, as the generate step does). vLLM code
runs under the ``__main__`` guard it needs.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from alpacaflow.steps.generate import run_generation

if __name__ == "__main__":
    for settings, prompts, out_dir in json.loads(sys.argv[1]):
        run_generation(settings, Path(prompts), Path(out_dir))
