"""Judge validation: agreement numbers on hand-made pairs, fetching the official file, pairing with prompts."""

from __future__ import annotations

import functools
import hashlib
import http.server
import json
import threading

import numpy as np
import pytest
from alpacaflow.errors import AlpacaflowError
from alpacaflow.io import load_prompt_table
from alpacaflow.metrics.agreement import judge_agreement
from alpacaflow.official import official_pairs, validation_pairs
from alpacaflow.preferences import winner
from alpacaflow.steps.fetch_official import fetch_official
from alpacaflow.steps.validate_judge import run
from conftest import demo_prompt_table

# Hand-made: 7 pairs, the 7th left unparsed by our judge.
OFFICIAL = [1.1, 1.9, 1.2, 1.8, 1.3, 1.7, 1.6]
OURS = [1.2, 1.8, 1.9, 1.1, 1.4, 1.95, None]


def test_agreement_on_hand_made_pairs():
    result = judge_agreement(OFFICIAL, OURS)
    assert (result["n_pairs"], result["n_compared"], result["n_dropped_unparsed"]) == (7, 6, 1)
    assert result["same_winner"] == pytest.approx(4 / 6)  # pairs 3 and 4 flip the winner
    # ranks 1 6 2 5 3 4 against 2 4 5 1 3 6: sum of squared rank differences 34, rho = 1 - 6*34/(6*35)
    assert result["spearman"] == pytest.approx(1 / 35)
    assert result["pearson"] == pytest.approx(np.corrcoef(OFFICIAL[:6], OURS[:6])[0, 1])
    assert result["official_win_rate"] == pytest.approx(100 * 3.0 / 6)
    assert result["our_win_rate"] == pytest.approx(100 * 3.35 / 6)


def test_agreement_with_discrete_judges_and_draws():
    result = judge_agreement([1.0, 2.0, 0.0, 2.0], [1.0, 2.0, 1.5, 1.0])
    assert result["same_winner"] == pytest.approx(3 / 4)  # 0 and 1.5 are both draws
    assert [winner(p) for p in (1.0, 2.0, 0.0, 1.5, 1.49)] == [1, 2, 0, 0, 1]
    constant = judge_agreement([1.0, 2.0], [1.0, 1.0])
    assert constant["pearson"] is None and constant["spearman"] is None
    with pytest.raises(AlpacaflowError, match="no pair was judged by both judges"):
        judge_agreement([1.0], [None])


def official_records(instructions: list[str]) -> list[dict]:
    return [{"instruction": s, "output_1": "ref", "output_2": f"out {i}", "generator_2": "pub", "preference": 1.2}
            for i, s in enumerate(instructions)]  # fmt: skip


def test_fetch_official_from_a_path_records_the_checksum(tmp_path):
    source = tmp_path / "annotations.json"
    source.write_text(json.dumps(official_records(["a", "b"])))
    digest = hashlib.sha256(source.read_bytes()).hexdigest()
    meta = fetch_official(str(source), digest, tmp_path / "out.json", tmp_path / "meta.json")
    assert meta == {"source": str(source), "sha256": digest, "pinned_sha256": digest}
    assert (tmp_path / "out.json").read_bytes() == source.read_bytes()
    with pytest.raises(AlpacaflowError, match="does not match the pinned"):
        fetch_official(str(source), "0" * 64, tmp_path / "other.json", tmp_path / "other_meta.json")
    assert not (tmp_path / "other.json").exists() and not (tmp_path / "other_meta.json").exists()


def test_fetch_official_over_http(tmp_path):
    """The real download path (urllib) against a file server on 127.0.0.1."""
    served = tmp_path / "served"
    served.mkdir()
    (served / "annotations.json").write_text(json.dumps(official_records(["a"])))
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(served))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}/annotations.json"
        meta = fetch_official(url, None, tmp_path / "out.json", tmp_path / "meta.json")
        assert meta["source"] == url and len(meta["sha256"]) == 64
        with pytest.raises(AlpacaflowError, match="download failed"):
            fetch_official(url.replace("annotations", "missing"), None, tmp_path / "x.json", tmp_path / "x_meta.json")
    finally:
        server.shutdown()
    assert not (tmp_path / "x.json").exists()


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("[{", "malformed JSON"),
        (json.dumps([{"instruction": "a", "output_1": "r"}]), "row 0: an official annotation needs"),
        (json.dumps(official_records(["a", "a"])), "duplicate instruction"),
    ],
)
def test_unusable_official_file_names_the_source(tmp_path, content, message):
    source = tmp_path / "annotations.json"
    source.write_text(content)
    with pytest.raises(AlpacaflowError, match=message) as info:
        fetch_official(str(source), None, tmp_path / "out.json", tmp_path / "meta.json")
    assert str(info.value).startswith(str(source)) and not (tmp_path / "out.json").exists()


def test_validation_pairs_follow_the_prompt_set(tmp_path):
    prompts = load_prompt_table(demo_prompt_table(tmp_path, 4))
    wanted = prompts["instruction"].tolist()
    official = official_pairs(official_records(["not a demo prompt", wanted[2], wanted[0]]), "src")
    pairs = validation_pairs(official, prompts, "src")
    assert pairs["instruction"].tolist() == [wanted[0], wanted[2]]  # prompt order, only our prompts
    assert pairs["prompt_index"].tolist() == prompts["index"].iloc[[0, 2]].tolist()
    assert pairs["output_2"].tolist() == ["out 2", "out 1"] and pairs["generator_2"].tolist() == ["pub", "pub"]
    with pytest.raises(AlpacaflowError, match="no official annotation is for an instruction of the prompt set"):
        validation_pairs(official_pairs(official_records(["x"]), "src"), prompts, "src")


def test_validate_judge_loads_no_judge_and_reads_the_annotate_steps_judgments(tmp_path):
    """The step compares annotate's validation annotations (ours beside the official preference) with no judge."""
    official = tmp_path / "official.json"
    official.write_text(json.dumps([{**r, "annotator": "gpt4_turbo_official"} for r in official_records(["a", "b"])]))
    (tmp_path / "meta.json").write_text(json.dumps({"source": str(official), "sha256": "f" * 64}))
    ours = [{"instruction": s, "preference": p, "official_preference": q, "annotator": "ours", "generator_2": "pub",
             "judge_identity": "folder sha256:0123"} for s, p, q in (("a", 1.9, 1.2), ("b", 1.1, 1.2))]  # fmt: skip
    (tmp_path / "annotations.json").write_text(json.dumps(ours))
    run(official=official, official_meta=tmp_path / "meta.json", annotations=tmp_path / "annotations.json",
        agreement=tmp_path / "agreement.json")  # fmt: skip
    result = json.loads((tmp_path / "agreement.json").read_text())
    assert (result["judge"], result["judge_identity"], result["official_judge"]) == (
        "ours",
        "folder sha256:0123",
        "gpt4_turbo_official",
    )
    assert (result["n_pairs"], result["same_winner"], result["published_model"]) == (2, 0.5, "pub")
    (tmp_path / "annotations.json").write_text(json.dumps([{"instruction": "a", "preference": 1.0}]))
    with pytest.raises(AlpacaflowError, match="no official_preference in these annotations; rerun annotate"):
        run(official=official, official_meta=tmp_path / "meta.json", annotations=tmp_path / "annotations.json",
            agreement=tmp_path / "again.json")  # fmt: skip
    assert not (tmp_path / "again.json").exists()
