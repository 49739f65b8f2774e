"""Prompt sets of conversations: rows checked, the last turn generated and judged in context, ties as configured.

The dialogues are the demo's hand-made ones (test/demo/dialogues/); the
real-shape checks (the real Llama-3.2 tokenizer, 805 rows) are in
test_prompt_formats. Expected win rates are computed by hand.
"""

from __future__ import annotations

import json

import pandas as pd
import pytest
from alpacaflow.dialogues import CONVERSATION_HEADER, judge_view
from alpacaflow.errors import AlpacaflowError
from alpacaflow.io import load_prompt_table, read_parquet
from alpacaflow.judge_prompts import ranking_template, render
from alpacaflow.steps.download_prompts import records_to_table
from conftest import DEMO, REPO, resolved_settings, run_snakemake
from test_bad_input import assert_one_line_error
from test_download_prompts import download_cli, local_cfg, outputs
from test_sweep import jobs_run

DIALOGUES = DEMO / "dialogues"
ROWS = json.loads((DIALOGUES / "dialogues.json").read_text())


def U(text: str) -> dict:  # noqa: N802
    return {"role": "user", "content": text}


def A(text: str) -> dict:  # noqa: N802
    return {"role": "assistant", "content": text}


def test_conversation_rows_become_the_judges_view_with_their_turns():
    table = records_to_table(ROWS, "dialogues.json")
    assert list(table.columns[-2:]) == ["messages", "turns"] and len(table) == 8
    assert table["turns"].tolist() == [1, 2, 2, 3, 2, 3, 1, 2]
    # An instruction row and a one-turn conversation are the same prompt: no messages, the text itself.
    assert table["instruction"][0] == ROWS[0]["instruction"] and table["messages"][0] is None
    assert table["instruction"][6] == ROWS[6]["messages"][0]["content"] and table["messages"][6] is None
    # A conversation: the header, then each message in order, as the judge reads it.
    view = table["instruction"][4]
    assert view.startswith(CONVERSATION_HEADER + "\n\n[System]\nYou are a patient tutor")
    assert view.endswith("[User]\nWhich is bigger, 1/3 or 1/4?")
    assert json.loads(table["messages"][4]) == ROWS[4]["messages"]
    # The last row has no reference answer (judged head to head only).
    assert table["reference_output"][7] is None and table["reference_generator"][7] is None


def test_a_set_of_instructions_keeps_its_table_unchanged():
    rows = [{"instruction": "a", "output": "b"}, {"instruction": "c", "output": "d"}]
    assert list(records_to_table(rows, "s").columns) == ["index", "instruction", "dataset", "reference_output",
                                                         "reference_generator"]  # fmt: skip


def test_the_judge_sees_the_earlier_turns_and_a_single_instruction_exactly_as_before():
    template = ranking_template()
    single = render(template, "Name a colour.", "red", "blue")
    assert single == render(template, judge_view([U("Name a colour.")]), "red", "blue")
    assert '"instruction": """Name a colour.""",' in single and CONVERSATION_HEADER not in single
    shown = render(template, judge_view([U("Hi"), A("Hello!"), U("Name a colour.")]), "red", "blue")
    assert (
        f'"instruction": """{CONVERSATION_HEADER}\n\n[User]\nHi\n\n[Assistant]\nHello!\n\n[User]\nName a colour.""",'
        in shown
    )  # noqa: E501
    # The rest of the judge's prompt is alpaca_eval's template as it was.
    assert shown.replace(judge_view([U("Hi"), A("Hello!"), U("Name a colour.")]), "Name a colour.") == single


BAD_ROWS = {
    "ends_with_assistant": ({"messages": [U("hi"), A("hello")], "output": "x"},
                            "row 1: the conversation ends with an assistant turn; it must end with the user's"),
    "unknown_role": ({"messages": [U("hi"), {"role": "bot", "content": "hey"}, U("?")], "output": "x"},
                     "row 1: message 1 has unknown role 'bot' (use system, user, assistant)"),
    "empty_content": ({"messages": [U("hi"), A("  "), U("?")], "output": "x"},
                      "row 1: message 1 (assistant) has empty content"),
    "not_alternating": ({"messages": [U("hi"), U("again")], "output": "x"},
                        "row 1: message 1 is a user turn after a user turn; user and assistant turns must alternate"),
    "late_system": ({"messages": [U("hi"), {"role": "system", "content": "s"}, U("?")], "output": "x"},
                    "row 1: message 1 is a system message; only the first may be"),
    "both": ({"instruction": "x", "messages": [U("hi")], "output": "x"},
             "row 1: give either 'instruction' or 'messages', not both"),
    "not_a_list": ({"messages": "hi", "output": "x"}, "row 1: 'messages' must be a non-empty list"),
    "empty_reference": ({"messages": [U("hi"), A("hello"), U("?")], "output": ""}, "row 1: empty 'output'"),
}  # fmt: skip


@pytest.mark.parametrize(("row", "message"), BAD_ROWS.values(), ids=BAD_ROWS.keys())
def test_a_bad_conversation_is_one_line_naming_the_row_and_nothing_is_written(tmp_path, row, message):
    source = tmp_path / "set.json"
    source.write_text(json.dumps([{"instruction": "first", "output": "y"}, row]))
    table, gamed, meta = outputs(tmp_path)
    result = download_cli(local_cfg(source, df_gamed=None), table, gamed, meta)
    assert_one_line_error(result, f"error: {source}: {message}")
    assert not table.parent.exists() or not any(table.parent.iterdir())


def test_a_set_without_any_reference_answer_is_refused():
    with pytest.raises(AlpacaflowError, match="no row has a reference output"):
        records_to_table([{"messages": [U("hi"), A("hello"), U("?")]}], "s")


def test_a_set_without_df_gamed_has_lc_na_and_a_missing_df_gamed_file_is_an_error(tmp_path):
    from alpacaflow.metrics.winrate import lc_check
    from alpacaflow.steps.download_prompts import prepare_prompts

    table, gamed, meta = outputs(tmp_path)
    prepare_prompts(local_cfg(DIALOGUES / "dialogues.json", df_gamed=None), table, gamed, meta)
    frame = pd.DataFrame({"instruction": ["x"]}, index=[0])
    assert "prompts.df_gamed: null" in lc_check(frame, gamed)
    assert json.loads(meta.read_text())["rows_without_reference"] == 1
    with pytest.raises(AlpacaflowError, match="file not found"):
        prepare_prompts(local_cfg(DIALOGUES / "dialogues.json", df_gamed=str(tmp_path / "x.csv")), table, gamed, meta)


def test_pairs_against_the_references_leave_out_rows_without_one_and_head_to_head_keeps_them(tmp_path):
    from alpacaflow.steps.annotate import pair_table

    table = records_to_table(ROWS, "dialogues.json")
    mine = [{"instruction": s, "output": f"answer {k}"} for k, s in enumerate(table["instruction"])]
    theirs = [{"instruction": s, "output": f"theirs {k}"} for k, s in enumerate(table["instruction"])]
    against_references = pair_table(table, mine, "m.json", "m")
    assert against_references["prompt_index"].tolist() == list(range(7))
    head = pair_table(table, mine, "m.json", "m", ("sft", theirs, "sft.json"))
    assert head["prompt_index"].tolist() == list(range(8)) and head["output_1"][7] == "theirs 7"


def test_imported_outputs_may_name_their_conversation_by_messages(tmp_path):
    from alpacaflow.steps.download_prompts import prepare_prompts
    from alpacaflow.steps.generate import import_outputs

    table, gamed, meta = outputs(tmp_path)
    prepare_prompts(local_cfg(DIALOGUES / "dialogues.json", df_gamed=None), table, gamed, meta)
    records = [{"messages": r.get("messages") or [U(r["instruction"])], "output": f"out {k}"}
               for k, r in enumerate(ROWS)]  # fmt: skip
    source = tmp_path / "imported.json"
    source.write_text(json.dumps(records[::-1]))  # any order
    import_outputs({"model": "imp", "outputs": str(source)}, table, {}, tmp_path / "imp")
    written = json.loads((tmp_path / "imp" / "model_outputs.json").read_text())
    assert [w["output"] for w in written] == [f"out {k}" for k in range(8)]
    assert written[1]["messages"] == ROWS[1]["messages"] and "messages" not in written[0]
    assert written[1]["instruction"] == load_prompt_table(table)["instruction"][1]


def test_conversations_are_generated_whole_and_a_row_too_long_is_named(tmp_path, tiny_models):
    from alpacaflow.steps.download_prompts import prepare_prompts
    from alpacaflow.steps.generate import run_generation

    table, gamed, meta = outputs(tmp_path)
    prepare_prompts(local_cfg(DIALOGUES / "dialogues.json", df_gamed=None), table, gamed, meta)
    generation = {"backend": "transformers", "device": "cpu", "dtype": "float32", "max_new_tokens": 8,
                  "max_model_len": 1024, "batch_size": 4}  # fmt: skip
    for fmt, variant in (("chat", "chat"), ("alpaca", "base")):
        settings = resolved_settings("m", {"path": str(tiny_models[variant]), "prompt_format": fmt,
                                           "system_prompt": "The model's own system prompt."}, generation)  # fmt: skip
        run_generation(settings, table, tmp_path / fmt)
        prompts = read_parquet(tmp_path / fmt / "generations.parquet")["prompt"]
        for row, prompt in zip(ROWS, prompts, strict=True):
            messages = row.get("messages") or [U(row["instruction"])]
            positions = [prompt.index(m["content"]) for m in messages]
            assert positions == sorted(positions), prompt  # every turn, in order
            # The row's own system message replaces the model's; a row without one gets the model's (chat).
            has_system = messages[0]["role"] == "system"
            assert ("The model's own system prompt." in prompt) == (fmt == "chat" and not has_system)
        records = json.loads((tmp_path / fmt / "model_outputs.json").read_text())
        assert records[3]["messages"] == ROWS[3]["messages"]
    alpaca = read_parquet(tmp_path / "alpaca" / "generations.parquet")["prompt"][4]
    assert alpaca.startswith("You are a patient tutor for a ten-year-old.\n\nBelow is an instruction")
    assert alpaca.endswith("### Instruction:\nWhich is bigger, 1/3 or 1/4?\n\n### Response:\n")
    # A conversation longer than the model's context: one line naming its row, before any engine starts.
    settings = resolved_settings("m", {"path": str(tiny_models["chat"])}, {**generation, "max_model_len": 64})
    with pytest.raises(AlpacaflowError, match=r"^model 'm': prompt-set row 5 \(a conversation of 3 user turns, "
                       r"\d+ tokens\) plus max_new_tokens 8 .* more than max_model_len 64"):  # fmt: skip
        run_generation(settings, table, tmp_path / "short")
    assert not (tmp_path / "short" / "model_outputs.json").exists()


def annotations(preferences: list[float | None], n_turns: list[int] | None = None) -> list[dict]:
    """A pair's annotations with the given preferences (alpaca_eval's encoding: 1 reference, 2 model, 1.5 draw)."""
    return [{"prompt_index": i, "instruction": f"q{i}", "output_1": "r" * 10, "output_2": "m" * 20,
             "generator_1": "ref", "generator_2": "m", "annotator": "judge", "preference": p, "dataset": "d"}
            for i, p in enumerate(preferences)]  # fmt: skip


def test_ties_count_half_or_are_left_out(tmp_path):
    from alpacaflow.metrics.paired import compare_models
    from alpacaflow.metrics.winrate import model_metrics

    gamed = tmp_path / "df_gamed.csv"
    gamed.write_text("index,instruction_difficulty,preference,instruction\n")
    records = annotations([2, 2, 1, 1.5, 1.5, None])
    half = model_metrics(records, gamed, "a", "half")
    assert half["win_rate"] == pytest.approx(100 * (1 + 1 + 0 + 0.5 + 0.5) / 5)
    assert (half["n_total"], half["n_draws"], half["ties_excluded"], half["unparsed"]) == (5, 2, 0, 1)
    excluded = model_metrics(records, gamed, "a", "exclude")
    assert excluded["win_rate"] == pytest.approx(100 * 2 / 3) and excluded["ties"] == "exclude"
    assert (excluded["n_total"], excluded["n_draws"], excluded["ties_excluded"], excluded["unparsed"]) == (3, 0, 2, 1)
    with pytest.raises(AlpacaflowError, match="no judgment that is not a tie .* all 2 are ties .* ties: half counts"):
        model_metrics(annotations([1.5, 1.5]), gamed, "a", "exclude")
    # Paired comparisons: only the prompts neither model tied on.
    paths = []
    for name, prefs in (("base", [1, 1.5, 1, 2, 1]), ("m", [2, 2, 1.5, 2, 1])):
        paths.append(tmp_path / f"{name}.json")
        paths[-1].write_text(json.dumps(annotations(prefs)))
    row = compare_models(["base", "m"], paths, gamed, n_resamples=50, seed=0, ties="exclude").iloc[0]
    assert row["n_paired"] == 3 and row["win_rate"] == pytest.approx(100 * 2 / 3)
    assert row["baseline_win_rate"] == pytest.approx(100 / 3)
    assert compare_models(["base", "m"], paths, gamed, n_resamples=50, seed=0).iloc[0]["n_paired"] == 5


def test_win_rate_by_number_of_turns():
    from alpacaflow.metrics.winrate import turn_win_rates

    turns = pd.Series([1, 1, 2, 2, 3, 5], index=range(6))
    pairs = [("m", "prompts", annotations([2, 1, 2, 1.5, 1, 2])), ("m", "sft", annotations([1.5, 2, 2, 2, 2, 1]))]
    half = turn_win_rates(pairs, turns, "half").set_index(["reference", "turns"])
    assert half.loc[("prompts", "1"), "win_rate"] == 50 and half.loc[("prompts", "2"), "win_rate"] == 75
    assert half.loc[("prompts", "3+"), "win_rate"] == 50 and half.loc[("prompts", "3+"), "n"] == 2
    assert half.loc[("sft", "1"), "win_rate"] == 75
    excluded = turn_win_rates(pairs, turns, "exclude").set_index(["reference", "turns"])
    assert excluded.loc[("prompts", "2"), ["n", "win_rate"]].tolist() == [1, 100]
    assert excluded.loc[("sft", "1"), ["n", "win_rate"]].tolist() == [1, 100]


def test_the_report_shows_turns_and_the_leaderboard_states_how_ties_counted():
    from alpacaflow.board import ties_note
    from alpacaflow.markdown import turns_section

    table = pd.DataFrame({"model": ["m", "m", "m"], "reference": ["prompts"] * 3, "turns": ["1", "2", "3+"],
                          "n": [4, 3, 1], "win_rate": [50.0, 66.7, 100.0],
                          "standard_error": [25.0, 27.2, None]})  # fmt: skip
    text = "\n".join(turns_section(table))
    assert "## Win rate by number of turns" in text and "| m | 50.0 ± 25.0 (4) | 66.7 ± 27.2 (3) | 100.0 (1) |" in text
    assert turns_section(table[table["turns"] == "1"]) == []  # a set of instructions: no section
    board = pd.DataFrame({"model": ["a", "b"], "ties": ["exclude"] * 2, "ties_excluded": [3, 0]})
    assert ties_note(board) == ["Ties are left out of these win rates (ties: exclude); judgments left out as ties: "
                                "a 3, b 0."]  # fmt: skip
    assert ties_note(board.assign(ties="half")) == ["Ties count as half a win (ties: half, alpaca_eval's rule)."]


def test_the_schema_takes_ties_half_by_default_and_refuses_others():
    from alpacaflow.config import validate_config

    assert validate_config({"models": {"m": {"path": "x"}}})["ties"] == "half"
    with pytest.raises(AlpacaflowError, match="ties"):
        validate_config({"models": {"m": {"path": "x"}}, "ties": "drop"})


def test_the_dialogue_demo_judges_the_last_turn_against_references_and_sft(tmp_path, tiny_models):
    """The demo's dialogue config on the tiny models, with an imported model keyed by messages; ties left out."""
    import yaml

    config = yaml.safe_load((DIALOGUES / "config.yaml").read_text())
    config["results_dir"] = "results"
    config["prompts"]["source"] = str(DIALOGUES / "dialogues.json")
    config["generation"]["max_new_tokens"] = 16
    config["judge"]["model"] = str(tiny_models["chat"])
    config["models"] = {"sft": {"path": str(tiny_models["chat"])}, "zero_shot": {"path": str(tiny_models["base"]),
                        "prompt_format": "alpaca"}}  # fmt: skip
    imported = tmp_path / "imported.json"
    imported.write_text(json.dumps([{"messages": r.get("messages") or [U(r["instruction"])], "output": "I am not sure."}
                                    for r in ROWS]))  # fmt: skip
    config["models"]["imported"] = {"outputs": str(imported)}
    (tmp_path / "config.yaml").write_text(yaml.safe_dump(config))
    result = run_snakemake("--configfile", "config.yaml", "--cores", "2", cwd=tmp_path, timeout=900)
    assert result.returncode == 0, result.stderr[-3000:]
    results = tmp_path / "results"
    assert len(json.loads((results / "sft" / "annotations.json").read_text())) == 7  # one row has no reference
    head = json.loads((results / "imported" / "vs_sft" / "annotations.json").read_text())
    assert len(head) == 8 and head[4]["instruction"].startswith(CONVERSATION_HEADER)
    board = pd.read_csv(results / "leaderboard.csv")
    assert set(board["ties"]) == {"exclude"} and board["length_controlled_winrate"].isna().all()
    turns = pd.read_csv(results / "turn_win_rates.csv", dtype={"turns": str})
    assert set(turns["turns"]) == {"1", "2", "3+"} and set(turns["reference"]) == {"prompts", "sft"}
    assert turns.groupby(["model", "reference"])["n"].sum().loc[("imported", "sft")] == 8
    report = (results / "report.md").read_text()
    for expected in (
        "## Win rate by number of turns",
        "Ties are left out of these win rates (ties: exclude)",
        "1 conversation(s) of the prompt set have no reference answer",
        "## Head to head: against sft",
    ):
        assert expected in report, expected
    samples = (results / "imported" / "error_sample.md").read_text()
    assert "**Conversation** (the models answer its last user turn)" in samples and "> [Assistant]" in samples
    # A rerun with ties: half recomputes the numbers, not the judgments.
    config["ties"] = "half"
    (tmp_path / "config.yaml").write_text(yaml.safe_dump(config))
    result = run_snakemake("--configfile", "config.yaml", "--cores", "2", cwd=tmp_path, timeout=900)
    assert result.returncode == 0, result.stderr[-3000:]
    assert jobs_run(result.stderr, "annotate") == [] and jobs_run(result.stderr, "leaderboard") == [""]
    assert set(pd.read_csv(results / "leaderboard.csv")["ties"]) == {"half"}


def test_readme_documents_rows_the_judges_view_ties_and_the_dpo_example():
    readme = (REPO / "docs" / "dialogues.md").read_text()
    section = readme.split("## Conversations")[1].split("\n## ")[0]
    for needle in ("messages", CONVERSATION_HEADER, "ties: exclude", "df_gamed: null", "references: [prompts, sft]"):
        assert needle in section, needle
