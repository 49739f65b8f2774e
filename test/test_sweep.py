"""Checkpoint sweeps: three tiny checkpoints through the whole workflow, then a fourth, of which only it is generated.

The checkpoints are tiny random chat models whose weights are seeded by
their step (`testing.tiny.build_sweep`); generation uses the transformers backend
(faster to start than vLLM on 2 cores), the judge is the demo's tiny vLLM judge.
"""

from __future__ import annotations

import json
import re

import pandas as pd
import pytest
import yaml
from alpacaflow.checkpoint_sweeps import sweeps
from alpacaflow.config import check_config
from alpacaflow.errors import AlpacaflowError
from alpacaflow.testing.tiny import build_sweep
from conftest import DEMO_PROMPTS, REPO, run_snakemake, write_config

pytestmark = pytest.mark.slow


def jobs_run(log: str, rule: str) -> list[str]:
    """Models of the `rule` jobs that Snakemake's log says it ran."""
    blocks = re.split(r"\n(?=\[[A-Z][a-z]{2} )", log)
    models = [re.search(r"model=([^,\s]+)", b) for b in blocks if re.search(rf"^(local)?rule {rule}:", b, re.M)]
    return sorted(m.group(1) if m else "" for m in models)


def test_sweep_runs_reports_the_curve_and_reuses_earlier_checkpoints(tmp_path, tiny_models):
    run_dir = tmp_path / "hh-sft"
    build_sweep(run_dir, DEMO_PROMPTS, (100, 200, 300))
    workdir = tmp_path / "work"
    workdir.mkdir()
    path = write_config(workdir, tiny_models, backend="transformers")
    config = yaml.safe_load(path.read_text())
    del config["models"]["sft"]
    config["sweeps"] = {"hh": {"checkpoints": str(run_dir / "checkpoint-*"), "model": {"prompt_format": "chat"}}}
    path.write_text(yaml.safe_dump(config, sort_keys=False))

    first = run_snakemake("--configfile", "config.yaml", "--cores", "2", cwd=workdir)
    assert first.returncode == 0, first.stderr[-3000:]
    assert jobs_run(first.stderr, "generate") == ["hh_step100", "hh_step200", "hh_step300", "zero_shot"]
    results = workdir / "results"
    table = pd.read_csv(results / "sweeps" / "hh.csv")
    board = pd.read_csv(results / "leaderboard.csv").set_index("model")
    # The figure's source table: the steps in order, the leaderboard's numbers, 95% intervals around them.
    assert table["step"].tolist() == [100, 200, 300]
    assert table["model"].tolist() == ["hh_step100", "hh_step200", "hh_step300"]
    assert table["win_rate"].tolist() == pytest.approx(board.loc[table["model"], "win_rate"].tolist())
    se = board.loc[table["model"], "standard_error"].to_numpy()
    assert (table["win_rate"] - table["win_rate_ci_low"]).to_numpy() == pytest.approx(1.96 * se)
    verdict = json.loads((results / "sweeps" / "hh.json").read_text())
    metric = verdict["metric"]
    assert verdict["best"]["value"] == pytest.approx(table[metric].max(), abs=0.01)
    assert verdict["best"]["vs_baseline"]["against"] == "zero_shot"
    assert verdict["trend"]["from_step"] == 100 and verdict["trend"]["to_step"] == 300
    assert (results / "figures" / "sweep_hh.png").read_bytes().startswith(b"\x89PNG")
    report = (results / "report.md").read_text()
    assert "## Checkpoint sweep: hh" in report and f"**Best step: {verdict['best']['step']}**" in report
    assert "](figures/sweep_hh.png)" in report
    summary = json.loads((results / "summary.json").read_text())
    assert {"hh_step100", "hh_step200", "hh_step300", "zero_shot"} == set(summary["models"])

    build_sweep(run_dir, DEMO_PROMPTS, (400,))
    second = run_snakemake("--configfile", "config.yaml", "--cores", "2", cwd=workdir)
    assert second.returncode == 0, second.stderr[-3000:]
    assert jobs_run(second.stderr, "generate") == ["hh_step400"]
    # One annotate job for all models; only the new checkpoint's pairs were judged (one engine start).
    assert jobs_run(second.stderr, "annotate") == [""]
    log = (results / "logs" / "annotate.log").read_text()
    judged = {c["model"]: c["judged_this_run"] for c in map(json.loads, re.findall(r'^\{"model".*$', log, re.M))}
    assert judged == {"zero_shot": 0, "hh_step100": 0, "hh_step200": 0, "hh_step300": 0, "hh_step400": 6}
    assert log.count("Initializing a V1 LLM engine") == 1
    assert pd.read_csv(results / "sweeps" / "hh.csv")["step"].tolist() == [100, 200, 300, 400]
    assert "steps 100, 200, 300, 400" in (results / "report.md").read_text()


def test_sweep_config_errors_name_the_checkpoint(tmp_path):
    (tmp_path / "run" / "checkpoint-100").mkdir(parents=True)
    (tmp_path / "run" / "checkpoint-final").mkdir()

    def with_sweep(sweep: dict) -> dict:
        return {"models": {"base": {"outputs": str(DEMO_PROMPTS)}}, "sweeps": {"run": sweep}}

    with pytest.raises(AlpacaflowError, match="'sweeps.run': checkpoint .*checkpoint-final has no step number"):
        check_config(with_sweep({"checkpoints": str(tmp_path / "run" / "checkpoint-*")}))
    with pytest.raises(AlpacaflowError, match="'sweeps.run.checkpoints': no folder matches"):
        check_config(with_sweep({"checkpoints": str(tmp_path / "none-*")}))
    hub = check_config(with_sweep({"repo": "org/run", "revisions": {"800": "abc123", "400": "def456"}}))
    assert (hub["models"]["run_step400"]["path"], hub["models"]["run_step400"]["revision"]) == ("org/run", "def456")
    assert sweeps(hub)["run"] == {"steps": [400, 800], "models": ["run_step400", "run_step800"], "baseline": "base",
                                  "last_steps": 3}  # fmt: skip
    with pytest.raises(AlpacaflowError, match="checkpoint main has no step number"):
        check_config(with_sweep({"repo": "org/run", "revisions": ["checkpoint-1200", "main"]}))


def test_sweep_from_the_command_line_is_planned(tmp_path, tiny_models):
    """`--config 'sweeps={...}'` from a training script: a generate job per checkpoint, one sweep job (also SLURM)."""
    build_sweep(tmp_path / "run", DEMO_PROMPTS, (10, 20))
    write_config(tmp_path, tiny_models)
    override = f"sweeps={{r: {{checkpoints: {tmp_path / 'run' / 'checkpoint-*'}, model: {{prompt_format: chat}}}}}}"
    for profile in ([], ["--profile", str(REPO / "profiles" / "slurm")]):  # locally and under the SLURM profile
        result = run_snakemake("--configfile", "config.yaml", "-n", *profile, "--config", override, cwd=tmp_path)
        assert result.returncode == 0, result.stderr[-3000:]
        assert "r_step10" in result.stdout and "r_step20" in result.stdout
        assert len(re.findall(r"^(?:local)?rule sweep:", result.stdout, re.M)) == 1
