"""W&B logging (the track step) in offline mode: the run folder holds the logged values; the key stays out.

The offline run file (``run-<id>.wandb``) is read back with a small reader
of its record log (LevelDB log format: 32 KiB blocks of CRC, length and
type headers around protobuf `Record`s), since wandb >= 0.2x no longer
ships a Python reader; the records are parsed with wandb's own protobuf.
"""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
from conftest import run_cli
from test_summary import summary

pytest.importorskip("wandb")

CANARY = "wandb-canary-key-0123456789abcdef"


def wandb_records(path: Path) -> list:
    """Every protobuf `Record` of an offline W&B run file."""
    from wandb.proto import wandb_internal_pb2

    data = path.read_bytes()
    assert data[:4] == b":W&B", data[:8]
    pos, block, records, pending = 7, 32768, [], b""
    while pos + 7 <= len(data):
        left = block - pos % block
        length, kind = int.from_bytes(data[pos + 4 : pos + 6], "little"), data[pos + 6]
        if left < 7 or (length == 0 and kind == 0):  # block trailer or padding
            pos += left
            continue
        pending += data[pos + 7 : pos + 7 + length]
        pos += 7 + length
        if kind in (1, 4):  # a full record, or the last piece of one
            record = wandb_internal_pb2.Record()
            record.ParseFromString(pending)
            records.append(record)
            pending = b""
    return records


def logged(records: list, kind: str) -> list[dict]:
    """The key/value items of the `history` or `summary` records."""
    items = []
    for r in records:
        if r.WhichOneof("record_type") == kind:
            entries = r.history.item if kind == "history" else r.summary.update
            items.append({e.key or "/".join(e.nested_key): json.loads(e.value_json) for e in entries})
    return items


def test_offline_wandb_run_holds_the_leaderboard_the_sweep_and_the_figures(tmp_path):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    (tmp_path / "summary.json").write_text(json.dumps(summary()))
    table = pd.DataFrame({"step": [100, 200, 300], "model": ["a", "b", "c"], "win_rate": [10.0, 20.0, 25.0],
                          "lc_win_rate": [12.0, 21.5, 30.0]})  # fmt: skip
    table.to_csv(tmp_path / "hh.csv", index=False)
    fig, ax = plt.subplots()
    ax.plot([1, 2], [3, 4])
    fig.savefig(tmp_path / "win_rates.png")
    env = {"WANDB_MODE": "offline", "WANDB_API_KEY": CANARY, "WANDB_SILENT": "true",
           "WANDB_CONFIG_DIR": str(tmp_path / "cfg"), "WANDB_CACHE_DIR": str(tmp_path / "cache"),
           "WANDB_DATA_DIR": str(tmp_path / "data")}  # fmt: skip
    result = run_cli("track", "--summary", str(tmp_path / "summary.json"), "--sweep-tables", str(tmp_path / "hh.csv"),
                     "--figures", str(tmp_path / "win_rates.png"), "--project", "alpacaflow-test", "--entity",
                     "--mode", "offline", "--run-dir", str(tmp_path / "tracking"), "--record",
                     str(tmp_path / "wandb.json"), **env)  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]
    record = json.loads((tmp_path / "wandb.json").read_text())
    assert record["mode"] == "offline" and record["project"] == "alpacaflow-test"
    run_dir = Path(record["run_dir"])
    records = wandb_records(next(run_dir.glob("run-*.wandb")))
    history = logged(records, "history")
    sweep = [(h["hh/step"], h["hh/win_rate"], h["hh/lc_win_rate"]) for h in history if "hh/step" in h]
    assert sweep == [(100, 10.0, 12.0), (200, 20.0, 21.5), (300, 25.0, 30.0)]
    summaries = {k: v for s in logged(records, "summary") for k, v in s.items()}
    assert summaries["sft/win_rate"] == 12.5 and summaries["zero_shot/length_controlled_winrate"] == 4.5
    board = json.loads(next((run_dir / "files" / "media" / "table").glob("leaderboard_*.table.json")).read_text())
    assert board["columns"][:3] == ["model", "reference", "win_rate"]
    assert sorted(row[0] for row in board["data"]) == ["sft", "zero_shot"]
    assert list((run_dir / "files" / "media" / "images").glob("figures/win_rates_*.png"))
    # The key never reaches the run folder, the record or the step's output.
    texts = [result.stdout, result.stderr, (tmp_path / "wandb.json").read_text()]
    texts += [p.read_text(errors="replace") for p in (tmp_path / "tracking").rglob("*") if p.is_file()]
    assert not any(CANARY in text for text in texts)
