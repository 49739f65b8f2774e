"""Compute nodes without network: download_model fills the cache, generate reads it offline."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import yaml
from alpacaflow.testing.tiny import build_tiny_model
from conftest import DEMO_GAMED, DEMO_PROMPTS, run_cli, run_snakemake

COMMIT = "a1b2c3d4e5f60718293a4b5c6d7e8f9012345678"


def hub_cache_with(model_dir: Path, hf_home: Path, repo_id: str) -> None:
    """Lay a model out in HF_HOME/hub as huggingface_hub's cache does."""
    repo = hf_home / "hub" / ("models--" + repo_id.replace("/", "--"))
    snapshot = repo / "snapshots" / COMMIT
    shutil.copytree(model_dir, snapshot)
    (repo / "refs").mkdir()
    (repo / "refs" / "main").write_text(COMMIT)


def test_download_model_records_the_snapshot(tmp_path, tiny_models):
    hf_home = tmp_path / "hf"
    hub_cache_with(tiny_models["chat"], hf_home, "org/tiny-chat")
    out = tmp_path / "manifest.json"
    result = run_cli(
        "download_model", "--repo-id", "org/tiny-chat", "--manifest", str(out), HF_HOME=str(hf_home), HF_HUB_OFFLINE="1"
    )
    assert result.returncode == 0, result.stderr[-2000:]
    manifest = json.loads(out.read_text())
    assert manifest["commit"] == COMMIT and manifest["repo_id"] == "org/tiny-chat"
    assert Path(manifest["path"], "config.json").exists()

    missing = run_cli(
        "download_model",
        "--repo-id",
        "org/absent",
        "--manifest",
        str(tmp_path / "m.json"),
        HF_HOME=str(hf_home),
        HF_HUB_OFFLINE="1",
    )
    assert missing.returncode == 1
    assert "cannot download org/absent" in missing.stderr.strip().splitlines()[-1]
    assert not (tmp_path / "m.json").exists()


def test_workflow_generates_from_the_cache_with_hub_offline(tmp_path, tiny_models):
    """A hub-id model goes through download_model, then generate reads it with HF_HUB_OFFLINE=1."""
    hf_home = tmp_path / "hf"
    hub_cache_with(tiny_models["chat"], hf_home, "org/tiny-chat")
    config = {
        "results_dir": "results",
        "hf_home": str(hf_home),
        "prompts": {"source": str(DEMO_PROMPTS), "df_gamed": str(DEMO_GAMED), "max_instances": 3},
        "generation": {
            "backend": "transformers",
            "device": "cpu",
            "max_new_tokens": 8,
            "temperature": 0.0,
            "max_model_len": 1024,
        },  # the tiny models have 2,048 positions
        "judge": {"model": str(tiny_models["chat"]), "device": "cpu", "max_model_len": 1024},
        "models": {"sft": {"path": "org/tiny-chat", "prompt_format": "chat"}},
    }
    (tmp_path / "config.yaml").write_text(yaml.safe_dump(config, sort_keys=False))
    result = run_snakemake(
        "--configfile", "config.yaml", "--cores", "1", "results/sft/model_outputs.json", cwd=tmp_path
    )
    assert result.returncode == 0, result.stderr[-3000:]
    manifest = json.loads((tmp_path / "results" / "downloads" / "sft.json").read_text())
    assert manifest["commit"] == COMMIT
    assert len(json.loads((tmp_path / "results" / "sft" / "model_outputs.json").read_text())) == 3
    log = (tmp_path / "results" / "logs" / "generate" / "sft.log").read_text()
    assert "Traceback" not in log
    throughput = json.loads((tmp_path / "results" / "sft" / "throughput.json").read_text())
    assert throughput["weights"] == {"repo": "org/tiny-chat", "commit": COMMIT}

    # The hub's main moves to new weights: nothing changes until download_model runs again, then every
    # prompt is generated anew from the new commit (the store is keyed by the commit, not by `main`).
    moved = "f" * 40
    repo = hf_home / "hub" / "models--org--tiny-chat"
    shutil.copytree(repo / "snapshots" / COMMIT, repo / "snapshots" / moved)
    retrained = build_tiny_model(tmp_path / "retrained", chat=True, corpus_file=DEMO_PROMPTS, seed=7)
    (repo / "snapshots" / moved / "model.safetensors").unlink()
    shutil.copyfile(retrained / "model.safetensors", repo / "snapshots" / moved / "model.safetensors")
    (repo / "refs" / "main").write_text(moved)
    args = ("--configfile", "config.yaml", "--cores", "1", "results/sft/model_outputs.json")
    assert "Nothing to be done" in run_snakemake(*args, "-n", cwd=tmp_path).stdout
    again = run_snakemake(*args, "--forcerun", "download_model", cwd=tmp_path)
    assert again.returncode == 0, again.stderr[-3000:]
    throughput = json.loads((tmp_path / "results" / "sft" / "throughput.json").read_text())
    assert throughput["weights"]["commit"] == moved
    assert (throughput["generated_this_run"], throughput["reused_from_store"]) == (3, 0)
