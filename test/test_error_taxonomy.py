"""Error taxonomy: each classifier on hand-written examples, and counts over all losses."""

from __future__ import annotations

import json

import pandas as pd
import pytest
from alpacaflow.config import defaults
from alpacaflow.io import write_parquet
from alpacaflow.steps.error_taxonomy import build_taxonomy, run
from alpacaflow.taxonomy import (
    classify,
    detect_language,
    is_much_shorter,
    is_refusal,
    is_repetitive,
    repeated_ngram_share,
    taxonomy_table,
)

S = defaults("error_taxonomy")  # the schema's
REFERENCE = (
    "To boil an egg with a soft yolk, bring a pot of water to a rolling boil, lower the egg in gently with a "
    "spoon and cook it for six to seven minutes. Then move it to a bowl of ice water for a minute and peel it."
)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("I'm sorry, but I can't help with that request.", True),
        ("I cannot provide instructions for that.", True),
        ("As an AI language model, I do not have personal opinions.", True),
        ("I am just an AI, so I have no feelings.", True),
        ("I must decline to write that.", True),
        ("Boil the water, then add the egg for six minutes.", False),
        ("Sorry has two syllables; apologise with it when you bump into someone.", False),
        ("Here are three tips. " * 20 + "I'm sorry for the long answer.", False),  # apology far from the start
    ],
)
def test_refusal(text, expected):
    assert is_refusal(text) is expected


def test_repetitive():
    looping = "The answer is yes. " * 12
    assert repeated_ngram_share(looping, 4) > 0.8 and is_repetitive(looping, 4, 0.3)
    assert not is_repetitive(REFERENCE, 4, 0.3)
    assert repeated_ngram_share("too short", 4) == 0.0
    list_answer = "1. Water the plant. 2. Give it light. 3. Use a pot with holes. 4. Feed it in spring."
    assert not is_repetitive(list_answer, 4, 0.3)


def test_much_shorter():
    assert is_much_shorter("Boil it.", REFERENCE, 0.25)
    assert not is_much_shorter(REFERENCE[: len(REFERENCE) // 2], REFERENCE, 0.25)


def test_language_detection_and_wrong_language():
    french = (
        "Pour obtenir un jaune coulant, portez l'eau à ébullition, plongez l'œuf délicatement et laissez-le "
        "cuire six minutes, puis refroidissez-le dans de l'eau glacée."
    )
    assert detect_language(REFERENCE, 40) == "en"
    assert detect_language(french, 40) == "fr"
    assert detect_language("Yes.", 40) is None  # too short to tell
    assert classify(french, REFERENCE, "stop", S) == ["wrong_language"]
    # A translation prompt: the reference is French too, so a French answer is right.
    assert "wrong_language" not in classify(french, french, "stop", S)


def test_classify_combines_and_falls_back_to_other():
    assert classify("", REFERENCE, "stop", S) == ["empty"]
    assert classify("   \n", REFERENCE, "length", S) == ["empty", "truncated"]
    assert classify(None, REFERENCE, "stop", S) == ["empty"]
    assert classify("The answer is yes. " * 12, REFERENCE, "length", S) == ["truncated", "repetitive"]
    assert classify("I'm sorry, I can't help.", REFERENCE, "stop", S) == ["refusal", "much_shorter"]
    assert classify(REFERENCE.replace("six", "eight"), REFERENCE, "stop", S) == ["other"]


def loss(i: int, output: str | None, preference: float = 1.1) -> dict:
    return {"prompt_index": i, "instruction": f"q{i}", "output_1": REFERENCE, "output_2": output,
            "preference": preference}  # fmt: skip


def test_taxonomy_counts_every_loss_and_keeps_one_example_each(tmp_path):
    records = [
        loss(0, "The answer is yes. " * 12),
        loss(1, ""),
        loss(2, "I'm sorry, I can't help.", preference=1.0),
        loss(3, REFERENCE, preference=1.9),  # a win: not counted
        loss(4, "The answer is no. " * 12),
        loss(5, None, preference=None),  # unparsed: not a loss
    ]
    generations = tmp_path / "generations.parquet"
    reasons = ["length"] + ["stop"] * 5
    write_parquet(generations, pd.DataFrame({"instruction": [f"q{i}" for i in range(6)], "finish_reason": reasons}))
    annotations = tmp_path / "annotations.json"
    annotations.write_text(pd.DataFrame(records).to_json(orient="records"))
    out = tmp_path / "error_taxonomy.json"
    run(annotations=annotations, generations=generations, model="m", discrete=False, settings=S, taxonomy=out)
    taxonomy = json.loads(out.read_text())
    cats = taxonomy["categories"]
    assert taxonomy["n_losses"] == 4 and taxonomy["n_judged"] == 6
    assert {c: v["count"] for c, v in cats.items()} == {
        "truncated": 1, "empty": 1, "repetitive": 2, "refusal": 1, "much_shorter": 1, "wrong_language": 0,
        "leaked_template": 0, "other": 0,
    }  # fmt: skip
    assert cats["repetitive"]["rate"] == 0.5
    assert cats["repetitive"]["example"]["prompt_index"] == 0  # the first in prompt order
    assert cats["wrong_language"]["example"] is None
    assert (tmp_path / "error_taxonomy.json").exists()
    discrete = build_taxonomy(records, {}, True, S)
    assert discrete["n_losses"] == 1 and not discrete["finish_reasons_known"]  # only preference 1.0 loses


def test_imported_outputs_have_no_truncation_class():
    taxonomy = {"model": "m", **build_taxonomy([loss(0, "x")], {}, False, S)}
    table = taxonomy_table([taxonomy]).set_index("class")
    assert table.loc["truncated", "m"] == "n/a (imported)"
    assert table.loc["much_shorter", "m"] == "1 (100%)"
