"""``make demo``: the offline CPU demo, with the stand-in Arena-Hard judge served on 127.0.0.1 while Snakemake runs.

The demo config's Arena-Hard judge is an OpenAI-compatible API at a fixed
loopback port (`judge_server`, a test double: the official judges are API
models out of reach here); this starts it there, runs the workflow and the
``snakemake --report`` HTML, and stops it, also when a run fails.

``python -m alpacaflow.testing.demo CONFIG [SNAKEMAKE ARGS...]``
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from urllib.parse import urlparse

import yaml

from .judge_server import StandinJudgeServer, template_of


def main(argv: list[str] | None = None) -> int:
    config_path, *extra = argv if argv is not None else sys.argv[1:]
    config = yaml.safe_load(Path(config_path).read_text(encoding="utf-8"))
    arena = config["arena_hard"]
    template = template_of(Path(arena["source"]) / "config" / "arena-hard-v0.1.yaml")
    port = urlparse(arena["judge"]["base_url"]).port
    env = {**os.environ, "OPENAI_API_KEY": os.environ.get("OPENAI_API_KEY") or "standin-judge-takes-any-key"}
    base = [sys.executable, "-m", "snakemake", "--configfile", config_path, "--replace-workflow-config", *extra]
    results = config["results_dir"]
    with StandinJudgeServer(template, port=port):
        for command in (base, [*base, "--report", f"{results}/report.html"]):
            status = subprocess.run(command, env=env).returncode
            if status:
                return status
    print(f"demo outputs: {results}/ (report.md, report.html, figures/)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
