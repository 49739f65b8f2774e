"""MT-Bench: FastChat's files read (stand-ins of the same shape), grading prompts filled, ratings parsed and scored.

The stand-ins in test/demo/mt_bench/ are laid out as FastChat's repository;
the expected scores are computed by hand.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pandas as pd
import pytest
from alpacaflow.benchmarks.mt_bench.data import QUESTIONS, grading_messages, prompt_name, temperature
from alpacaflow.errors import AlpacaflowError
from alpacaflow.io import load_prompt_table
from alpacaflow.metrics.mt_bench import UNPARSED, average_interval, parse_rating, scores
from alpacaflow.steps import download_mt_bench
from conftest import REPO, resolved_settings

STANDINS = REPO / "test" / "demo" / "mt_bench"


def download(tmp_path: Path, source: Path = STANDINS, max_instances: int = 0) -> Path:
    out = tmp_path / "mt_bench"
    download_mt_bench.run(source=str(source), repo="r", revision="x", reference_model="gpt-4",
                          prompts=out / "prompts.parquet", meta=out / "prompts_meta.json",
                          protocol=out / "protocol.json", max_instances=max_instances)  # fmt: skip
    return out


def test_max_instances_keeps_the_questions_whose_id_hashes_lowest_in_file_order(tmp_path):
    """mt_bench.max_instances: the N question_ids with the lowest SHA-256, both turns and references kept."""
    import hashlib

    full = load_prompt_table(download(tmp_path / "all") / "prompts.parquet")
    lowest = sorted(full["question_id"], key=lambda q: hashlib.sha256(str(q).encode()).hexdigest())
    out = download(tmp_path / "three", max_instances=3)
    kept = load_prompt_table(out / "prompts.parquet")
    assert sorted(kept["question_id"]) == sorted(lowest[:3]) and kept["question_id"].is_monotonic_increasing
    assert kept.to_dict("records") == full.set_index("question_id", drop=False).loc[kept["question_id"]].to_dict(
        "records")  # fmt: skip
    meta = json.loads((out / "prompts_meta.json").read_text())
    assert (meta["rows_in_source"], meta["rows_kept"], meta["max_instances"]) == (8, 3, 3)
    assert set(kept["question_id"]) < set(load_prompt_table(download(tmp_path / "five", max_instances=5)
                                                             / "prompts.parquet")["question_id"])  # fmt: skip


def test_the_questions_become_a_prompt_table_with_both_turns_and_references(tmp_path):
    out = download(tmp_path)
    table = load_prompt_table(out / "prompts.parquet")
    assert table["question_id"].tolist() == list(range(81, 89)) and table["index"].tolist() == list(range(8))
    assert table["instruction"][0].startswith("Write a short note") and table["turn_2"][0].startswith("Now rewrite")
    graded = table.set_index("dataset")
    assert graded.loc["math", "reference_output"] == "12 times 7 is 84." and graded.loc["math", "reference_2"]
    assert graded.loc["math", "reference_generator"] == "gpt-4" and graded.loc["writing", "reference_output"] == ""
    protocol = json.loads((out / "protocol.json").read_text())
    assert protocol["judge_model"] == "gpt-4" and protocol["max_tokens"] == 2048 and protocol["temperature"] == 0
    assert sorted(protocol["prompts"]) == sorted(
        ["single-v1", "single-math-v1", "single-v1-multi-turn", "single-math-v1-multi-turn"]
    )
    meta = json.loads((out / "prompts_meta.json").read_text())
    assert meta["rows_kept"] == 8 and len(meta["files"]) == 3
    assert all(len(f["sha256"]) == 64 for f in meta["files"].values())


def _copy_with(tmp_path: Path, lines: list[dict]) -> Path:
    copy = tmp_path / "copy"
    shutil.copytree(STANDINS, copy)
    (copy / QUESTIONS).write_text("".join(json.dumps(line) + "\n" for line in lines))
    return copy


@pytest.mark.parametrize(
    "question, message",
    [
        ({"question_id": 90, "category": "writing", "turns": ["only one"]},
         "question 90: MT-Bench asks two turns; this question has 1"),
        ({"question_id": 91, "category": "math", "turns": ["a", "b"]},
         "question 91: category math is graded against a reference answer, and "
         "fastchat/llm_judge/data/mt_bench/reference_answer/gpt-4.jsonl has none for it"),
        ({"question_id": 84, "category": "writing", "turns": ["a", "b"]}, "question 84: question_id 84 appears twice"),
        ({"question_id": 92, "category": "writing", "turns": ["a", " "]}, "question 92: a turn is empty"),
    ],
)  # fmt: skip
def test_a_question_the_protocol_cannot_grade_is_one_line_naming_it_and_nothing_is_written(tmp_path, question, message):
    lines = [json.loads(line) for line in (STANDINS / QUESTIONS).read_text().splitlines()]
    source = _copy_with(tmp_path, [*lines, question])
    with pytest.raises(AlpacaflowError) as failed:
        download(tmp_path, source)
    assert str(failed.value) == f"{QUESTIONS}: {message}"
    assert not (tmp_path / "mt_bench").exists() or not any((tmp_path / "mt_bench").iterdir())


def test_grading_prompts_are_filled_as_fastchat_fills_them(tmp_path):
    out = download(tmp_path)
    table = load_prompt_table(out / "prompts.parquet")
    prompts = json.loads((out / "protocol.json").read_text())["prompts"]
    writing, math = table.iloc[0], table.iloc[3]
    assert (prompt_name("writing", 1), prompt_name("math", 1)) == ("single-v1", "single-math-v1")
    assert (prompt_name("coding", 2), prompt_name("stem", 2)) == ("single-math-v1-multi-turn", "single-v1-multi-turn")
    first = grading_messages(writing, 1, ("Dear neighbour", "Would you come?"), prompts)
    assert first[0] == {"role": "system", "content": prompts["single-v1"]["system_prompt"]}
    assert first[1]["content"] == prompts["single-v1"]["prompt_template"].format(
        question=writing["instruction"], answer="Dear neighbour"
    )
    second = grading_messages(math, 2, ("84", "25"), prompts)
    assert second[1]["content"] == prompts["single-math-v1-multi-turn"]["prompt_template"].format(
        question_1="What is 12 times 7?",
        question_2="Add 16 to that result and divide by 4.",
        answer_1="84",
        answer_2="25",
        ref_answer_1="12 times 7 is 84.",
        ref_answer_2="84 plus 16 is 100, and 100 divided by 4 is 25.",
    )
    assert "12 times 7 is 84." in grading_messages(math, 1, ("84", ""), prompts)[1]["content"]


def test_category_temperatures_are_the_official_ones_unless_overridden():
    official = {"writing": 0.7, "math": 0.0, "stem": 0.1}
    assert temperature("math", official, 0.7) == 0.0 and temperature("stem", official, 0.7) == 0.1
    assert temperature("poetry", official, 0.7) == 0.7 and temperature("math", {"math": 0.3}, 0.7) == 0.3


@pytest.mark.parametrize(
    "judgment, rating",
    [
        ("The answer is fine. Rating: [[7]]", 7),
        ("Rating: [[7.5]]", 7.5),
        ("[[3]] at first, then [[9]]", 3),  # the first match, as re.search finds it
        ("Rating: [8]", 8),  # the backup pattern
        ("Rating: [8] and later [[2]]", 2),  # [[...]] is tried first over the whole text
        ("Rating: [[10]]", 10),
        ("Rating: [[12]]", 12),  # no clamping, as FastChat
        ("Rating: [[ 7 ]]", UNPARSED),
        ("Rating: seven", UNPARSED),
        ("Rating: [[7.]]", 7.0),
    ],
)
def test_ratings_are_parsed_as_fastchat_parses_them(judgment, rating):
    found = parse_rating(judgment)
    assert found == rating and type(found) is type(rating)


def ratings(rows: list[tuple[int, str, int, float]]) -> pd.DataFrame:
    return pd.DataFrame(rows, columns=["question_id", "category", "turn", "score"])


def test_scores_pool_both_turns_for_the_average_and_leave_unparsed_out():
    table = ratings([(1, "math", 1, 8), (1, "math", 2, UNPARSED), (2, "writing", 1, 6), (2, "writing", 2, 3),
                     (3, "writing", 1, 10), (3, "writing", 2, 5)])  # fmt: skip
    found = scores(table)
    # turn 1: (8 + 6 + 10) / 3 = 8; turn 2: (3 + 5) / 2 = 4; Average: 32 / 5 = 6.4 (not (8 + 4) / 2 = 6).
    assert found == {"turn1": 8.0, "turn2": 4.0, "average": 6.4, "ratings": 5, "unparsed": 1}
    # A category's Average (the leaderboard's per-category rows): its valid ratings of both turns pooled.
    assert {c: scores(part)["average"] for c, part in table.groupby("category")} == {"math": 8.0, "writing": 6.0}
    assert scores(ratings([(1, "math", 1, UNPARSED)]))["average"] is None


def test_the_average_interval_is_seeded_and_resamples_questions():
    table = ratings([(q, "writing", t, float(q + t)) for q in range(1, 21) for t in (1, 2)])
    low, high = average_interval(table, rounds=1000, seed=0)
    assert (low, high) == average_interval(table, rounds=1000, seed=0)
    assert low < scores(table)["average"] < high and high - low < 8
    same = ratings([(q, "writing", t, 5.0) for q in range(1, 6) for t in (1, 2)])
    assert average_interval(same, rounds=100, seed=1) == (5.0, 5.0)
    assert average_interval(ratings([(1, "math", 1, UNPARSED)]), rounds=100, seed=0) == (None, None)


def mt_settings(tiny_models: dict[str, Path], variant: str, prompt_format: str, temperature: float = 0.7,
                **section) -> dict:  # fmt: skip
    """A tiny model's MT-Bench settings as the workflow resolves them (transformers on CPU).

    `temperature`: the model's own ``generation.temperature`` (its AlpacaEval one).
    """
    from alpacaflow.benchmarks import mt_bench_settings
    from alpacaflow.config import validate_config

    config = validate_config({"models": {"m": {"path": str(tiny_models[variant])}}, "mt_bench": section})
    generation = {"backend": "transformers", "device": "cpu", "dtype": "float32", "max_new_tokens": 12,
                  "max_model_len": 512, "batch_size": 3, "temperature": temperature}  # fmt: skip
    base = resolved_settings("m", {"path": str(tiny_models[variant]), "prompt_format": prompt_format}, generation)
    settings = mt_bench_settings(config, base)
    settings["generation"]["max_new_tokens"] = 12  # small answers for the test
    return settings


class Spy:
    """Records every request the engine is asked to generate (the real engine generates them)."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        import alpacaflow.generation as generation

        self.requests: list = []
        self.loads = 0
        real = generation.load_generator

        def load(*args, **kwargs):
            self.loads += 1
            engine = real(*args, **kwargs)
            inner = engine.generate

            def generate(requests, on_done=None, **kwargs):
                self.requests += requests
                return inner(requests, on_done, **kwargs)

            engine.generate = generate
            return engine

        monkeypatch.setattr(generation, "load_generator", load)


@pytest.mark.parametrize("variant, prompt_format", [("chat", "chat"), ("base", "alpaca")])
def test_second_turns_follow_the_models_own_first_answers_on_one_engine(tmp_path, tiny_models, monkeypatch,
                                                                        variant, prompt_format):  # fmt: skip
    from alpacaflow.io import read_parquet
    from alpacaflow.steps.generate import run_generation

    questions = download(tmp_path) / "prompts.parquet"
    spy = Spy(monkeypatch)
    summary = run_generation(mt_settings(tiny_models, variant, prompt_format), questions, tmp_path / "m")
    table = read_parquet(tmp_path / "m" / "generations.parquet")
    assert len(table) == 16 and table["turn"].tolist() == [1, 2] * 8 and spy.loads == 1 and len(spy.requests) == 16
    assert summary["generated_this_run"] == 16
    first, second = table[table["turn"] == 1].reset_index(), table[table["turn"] == 2].reset_index()
    for row_1, row_2 in zip(first.itertuples(), second.itertuples(), strict=True):
        assert row_2.prompt.startswith(row_1.prompt) and row_1.output.strip() in row_2.prompt[len(row_1.prompt) :]
        assert row_2.instruction in row_2.prompt and row_2.prompt_token_ids[:2].tolist() != [1, 1]
    if prompt_format == "alpaca":
        assert second["prompt"][0] == (first["prompt"][0] + first["output"][0] + "\n\n### Instruction:\n"
                                       + second["instruction"][0] + "\n\n### Response:\n")  # fmt: skip
    records = json.loads((tmp_path / "m" / "model_outputs.json").read_text())
    assert [r["question_id"] for r in records] == list(range(81, 89))
    assert records[0]["outputs"] == [first["output"][0], second["output"][0]] and records[0]["turns"][1] == second[
        "instruction"][0]  # fmt: skip
    # Each question at its category's temperature (the official map: writing 0.7, math 0, stem 0.1).
    by_prompt = {tuple(r.token_ids): r.temperature for r in spy.requests}
    categories = load_prompt_table(questions)["dataset"]
    heat = {c: by_prompt[tuple(ids)] for c, ids in zip(categories, first["prompt_token_ids"], strict=True)}
    assert heat["writing"] == 0.7 and heat["math"] == 0.0 and heat["stem"] == 0.1 and heat["coding"] == 0.0


def _store_lines(folder: Path) -> list[str]:
    return (folder / "generation_store.jsonl").read_text().splitlines()


def test_killed_between_or_inside_the_turns_regenerates_nothing_finished(tmp_path, tiny_models, monkeypatch):
    from alpacaflow.io import read_parquet
    from alpacaflow.steps.generate import run_generation

    questions = download(tmp_path) / "prompts.parquet"
    settings = mt_settings(tiny_models, "chat", "chat", temperatures={}, default_temperature=0.0)  # greedy: exact
    out = tmp_path / "m"
    run_generation(settings, questions, out)
    whole = read_parquet(out / "generations.parquet")
    lines = _store_lines(out)
    assert len(lines) == 16
    first_keys = set()
    for turn_1 in whole[whole["turn"] == 1].itertuples():
        first_keys.add(tuple(turn_1.prompt_token_ids))
    # The store as a job killed between the turns leaves it: every first turn, no second turn (the
    # transformers engine stores batch by batch; the first turns' batches come first).
    store = out / "generation_store.jsonl"
    store.write_text("\n".join(lines[:8]) + "\n")
    spy = Spy(monkeypatch)
    summary = run_generation(settings, questions, out)
    assert summary["generated_this_run"] == 8 and summary["reused_from_store"] == 8
    assert all(tuple(r.token_ids) not in first_keys for r in spy.requests) and len(spy.requests) == 8
    assert read_parquet(out / "generations.parquet")[["output", "turn"]].equals(whole[["output", "turn"]])
    # Killed inside the second turn: three second turns stored; five are generated.
    store.write_text("\n".join(lines[:11]) + "\n")
    spy.requests.clear()
    assert run_generation(settings, questions, out)["generated_this_run"] == 5 and len(spy.requests) == 5
    assert read_parquet(out / "generations.parquet")[["output", "turn"]].equals(whole[["output", "turn"]])


def test_a_models_own_temperature_changes_neither_its_mt_bench_answers_nor_their_settings(tmp_path, tiny_models,
                                                                                          monkeypatch):  # fmt: skip
    """Every MT-Bench request has its category's temperature: ``generation.temperature`` shapes nothing there."""
    from alpacaflow.benchmarks import MT_BENCH, benchmark_settings
    from alpacaflow.config import validate_config
    from alpacaflow.steps.generate import run_generation

    def settings_at(temperature: float, benchmark: str) -> dict:
        model = {"path": str(tiny_models["chat"]), "generation": {"temperature": temperature}}
        return benchmark_settings(validate_config({"models": {"m": model}}), "m", benchmark)

    # The generate job's rerun trigger and the history row's settings hash are made of these.
    assert settings_at(0.7, MT_BENCH) == settings_at(0.3, MT_BENCH)
    assert settings_at(0.7, "alpaca_eval") != settings_at(0.3, "alpaca_eval")
    questions = download(tmp_path) / "prompts.parquet"
    out = tmp_path / "m"
    first = run_generation(mt_settings(tiny_models, "chat", "chat", temperature=0.7), questions, out)
    whole = (out / "model_outputs.json").read_bytes()
    spy = Spy(monkeypatch)
    again = run_generation(mt_settings(tiny_models, "chat", "chat", temperature=0.3), questions, out)
    assert first["generated_this_run"] == 16 and again["generated_this_run"] == 0 and spy.requests == []
    assert (out / "model_outputs.json").read_bytes() == whole


def test_a_second_turn_longer_than_the_context_is_one_line_naming_the_question(tmp_path, tiny_models):
    from alpacaflow.steps.generate import run_generation

    questions = download(tmp_path) / "prompts.parquet"
    settings = mt_settings(tiny_models, "chat", "chat")
    longest = max(len(q) for q in load_prompt_table(questions)["instruction"])
    settings["generation"]["max_model_len"] = longest + 40  # turn 1 fits; the whole conversation does not
    settings["generation"]["max_new_tokens"] = 30
    with pytest.raises(AlpacaflowError, match=r"^model 'm': MT-Bench question \d+'s second-turn prompt .* more "
                       r"than max_model_len"):  # fmt: skip
        run_generation(settings, questions, tmp_path / "m")
    assert not (tmp_path / "m" / "generations.parquet").exists()
    assert not (tmp_path / "m" / "model_outputs.json").exists()


OFFICIAL = REPO / "test" / "mt_bench_official"


def official_build():
    """The fixture's build.py as a module (by path: test/arena_official has a build.py too)."""
    import importlib.util

    spec = importlib.util.spec_from_file_location("mt_bench_official_build", OFFICIAL / "build.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_fastchat_show_result_on_the_export_prints_alpacaflows_scores(tmp_path):
    """The fixture's files are alpacaflow's export; FastChat's printed scores (expected.json) equal alpacaflow's."""
    from alpacaflow.steps.leaderboard import mt_bench_rows

    fixture = official_build()
    MODELS = fixture.MODELS  # noqa: N806
    annotations = fixture.build(tmp_path / "run", tmp_path / "export")
    for path in sorted((OFFICIAL / "data" / "mt_bench").rglob("*.jsonl")):  # the export is the fixture, byte for byte
        assert (
            tmp_path / "export" / path.relative_to(OFFICIAL / "data" / "mt_bench")
        ).read_bytes() == path.read_bytes()
    throughputs = []
    for model in MODELS:
        (tmp_path / f"{model}.json").write_text("{}")
        throughputs.append(tmp_path / f"{model}.json")
    rows = mt_bench_rows(list(MODELS), list(annotations.values()), throughputs, rounds=100, seed=0)
    overall = rows[rows["category"].isna()].set_index("model")
    expected = json.loads((OFFICIAL / "expected.json").read_text())
    for column in ("turn1", "turn2", "average"):
        for model in MODELS:
            ours = overall.loc[model, column]
            assert f"{ours:.6f}" == expected["printed"][column][model]  # as show_result.py prints it
            assert ours == pytest.approx(float(expected["printed_full_precision"][column][model]), rel=1e-15, abs=0)
    # The Average pools both turns: with unequal losses it is not the mean of the turn means.
    fades = overall.loc["fades"]
    assert abs(fades["average"] - (fades["turn1"] + fades["turn2"]) / 2) > 0.01
    assert overall["unparsed"].sum() > 0 and list(overall.index) == ["steady", "fades", "weak"]  # best Average first


def test_the_export_is_fastchats_layout(tmp_path):
    from alpacaflow.io import read_jsonl

    fixture = official_build()
    JUDGE, N = fixture.JUDGE, fixture.N  # noqa: N806
    fixture.build(tmp_path / "run", tmp_path / "export")
    answers = read_jsonl((tmp_path / "export" / "model_answer" / "fades.jsonl").read_bytes(), "a")
    assert len(answers) == N and set(answers[0]) == {"question_id", "answer_id", "model_id", "choices"}
    assert answers[0]["choices"][0]["turns"] == ["fades answers 200.", "fades again on 200."]
    judged = read_jsonl((tmp_path / "export" / "model_judgment" / f"{JUDGE}_single.jsonl").read_bytes(), "j")
    assert set(judged[0]) == {"question_id", "model", "judge", "user_prompt", "judgment", "score", "turn"}
    assert judged[0]["judge"] == [JUDGE, "single-v1"] and judged[5]["judge"] == [JUDGE, "single-math-v1-multi-turn"]
    questions = read_jsonl((tmp_path / "export" / "question.jsonl").read_bytes(), "q")
    turns = ["Synthetic question 0: say something about topic 0.", "Now say it again, shorter (0)."]
    assert questions[0] == {"question_id": 200, "category": "writing", "turns": turns}
    references = read_jsonl((tmp_path / "export" / "reference_answer" / "gpt-4.jsonl").read_bytes(), "r")
    assert [r["question_id"] for r in references] == [q["question_id"] for q in questions
                                                      if q["category"] in ("reasoning", "math", "coding")]  # fmt: skip


def mt_rows(judge: str, identity: str) -> pd.DataFrame:
    from alpacaflow.board import ALL_COLUMNS

    rows = [{"model": "m", "benchmark": "mt_bench", "category": None, "turn1": 7.0, "turn2": 6.0, "average": 6.5,
             "average_ci_low": 6.0, "average_ci_high": 7.0, "n_total": 80, "unparsed": 1, "judge": judge,
             "judge_identity": identity},
            {"model": "m", "benchmark": "mt_bench", "category": "math", "average": 4.0, "judge": judge,
             "judge_identity": identity}]  # fmt: skip
    return pd.DataFrame(rows).reindex(columns=ALL_COLUMNS)


@pytest.mark.parametrize(
    "judge, identity, comparable",
    [
        ("gpt-4", "gpt-4-0613 at https://api.openai.com/v1", True),
        ("gpt-4", "gpt-4 at https://api.openai.com/v1", True),
        ("gpt-4", "gpt-4-turbo-2024-04-09 at https://api.openai.com/v1", False),  # another model answered
        ("gpt-4", "gpt-4o-2024-08-06 at https://api.openai.com/v1", False),
        ("gpt-4", "gpt-4-0613 at http://127.0.0.1:8000/v1", False),  # not OpenAI's API
        ("Llama-3.3-70B-Instruct", "folder sha256:0123456789abcdef", False),
    ],
)
def test_scores_compare_with_published_ones_only_under_the_official_judge(judge, identity, comparable):
    from alpacaflow.findings import mt_bench_findings
    from alpacaflow.steps.summary import mt_bench_entry

    found = mt_bench_findings(mt_rows(judge, identity))
    assert found["comparable"] is comparable
    entry = mt_bench_entry(mt_rows(judge, identity))
    assert entry["comparable"] is comparable and entry["models"]["m"]["average"] == 6.5
    assert entry["models"]["m"]["categories"] == {"math": 4.0} and entry["models"]["m"]["unparsed"] == 1
    assert mt_bench_findings(mt_rows(judge, identity).iloc[0:0]) is None


def test_the_lowest_rated_answers_are_sampled_unparsed_left_out(tmp_path):
    from alpacaflow.steps import error_sample

    records = [{"question_id": q, "turn": t, "category": "writing", "instruction": f"q{q}", "output": f"a{q}{t}",
                "score": s, "judge": ["j", "single-v1"], "judgment": f"[[{s}]]"}
               for q, t, s in ((1, 1, 3), (1, 2, UNPARSED), (2, 1, 9), (2, 2, 2), (3, 1, 3), (3, 2, 5))]  # fmt: skip
    path = tmp_path / "annotations.json"
    path.write_text(json.dumps(records))
    error_sample.run(annotations=path, model="m on mt_bench", discrete=False, n=3, seed=0,
                     jsonl=tmp_path / "s.jsonl", md=tmp_path / "s.md")  # fmt: skip
    sample = [json.loads(line) for line in (tmp_path / "s.jsonl").read_text().splitlines()]
    assert [s["rating"] for s in sample] == [2, 3, 3] and {(s["question_id"], s["turn"]) for s in sample[1:]} == {
        (1, 1), (3, 1)}  # fmt: skip
    text = (tmp_path / "s.md").read_text()
    assert text.startswith("### m on mt_bench: the 3 lowest-rated of 5 rated answers")
    assert "#### 1. question 2 (writing), turn 2, rating 2" in text


def test_the_leaderboard_markdown_shows_the_scores_and_the_categories():
    from alpacaflow.board import mt_bench_markdown

    text = mt_bench_markdown(mt_rows("gpt-4", "gpt-4 at https://api.openai.com/v1"))
    assert "| m | 7.00 | 6.00 | 6.50 | 6.00 to 7.00 | 80 | 1 | gpt-4 |" in text
    assert "Average per category:" in text and "| m | 4.00 |" in text


MT_SECTION = {"judge": None, "judge_max_new_tokens": 64, "judge_temperature": 0.0}


def test_annotate_grades_both_turns_through_the_api_judge_cached_and_counts_unparsed(tmp_path, monkeypatch, capsys):
    """The real annotate step and OpenAI client against the stand-in API judge (a test double)."""
    from alpacaflow.steps import annotate
    from alpacaflow.testing.judge_server import StandinJudgeServer, template_of
    from test_judge import judge_cfg

    monkeypatch.setenv("OPENAI_API_KEY", "standin-key")
    out = download(tmp_path)
    table = load_prompt_table(out / "prompts.parquet")
    folder = tmp_path / "m" / "mt_bench"
    folder.mkdir(parents=True)
    records = [{"instruction": r.instruction, "output": f"first {r.question_id}", "generator": "m",
                "dataset": r.dataset, "question_id": int(r.question_id), "turns": [r.instruction, r.turn_2],
                "outputs": [f"first {r.question_id}", "" if r.question_id == 85 else f"second {r.question_id}"]}
               for r in table.itertuples()]  # fmt: skip
    (folder / "model_outputs.json").write_text(json.dumps(records))
    judge = judge_cfg(backend="openai", method="weighted", openai_model="gpt-4", checkpoint_every=4)
    args = dict(model=["m"], prompts=out / "prompts.parquet", outputs=[folder / "model_outputs.json"],
                cache=[folder / "judge_cache"], annotations=[folder / "annotations.json"], reference=["mt_bench"],
                benchmarks=[out], mt_bench=MT_SECTION)  # fmt: skip
    arena_template = template_of(REPO / "test" / "demo" / "arena_hard" / "config" / "arena-hard-v0.1.yaml")
    with StandinJudgeServer(arena_template) as server:  # the demo's server: Arena-Hard's verdicts and these ratings
        annotate.run(judge={**judge, "base_url": server.base_url}, **args)
        graded = json.loads((folder / "annotations.json").read_text())
        assert len(server.requests) == 16 and server.requests[0]["max_tokens"] == 64
        assert server.requests[0]["temperature"] == 0.0
        annotate.run(judge={**judge, "base_url": server.base_url}, **args)  # cached: nothing asked again
        assert len(server.requests) == 16
    assert json.loads((folder / "annotations.json").read_text()) == graded
    assert [(r["question_id"], r["turn"]) for r in graded[:3]] == [(81, 1), (81, 2), (82, 1)]
    assert [r["judge"] for r in graded[6:8]] == [["gpt-4", "single-math-v1"], ["gpt-4", "single-math-v1-multi-turn"]]
    unparsed = [r for r in graded if r["score"] == UNPARSED]
    assert [(r["question_id"], r["turn"]) for r in unparsed] == [(85, 2)]  # the empty answer gets no rating
    assert all(1 <= r["score"] <= 10 for r in graded if r["score"] != UNPARSED)
    assert "### Answer to grade\nsecond 84\n### End of answer" in graded[7]["user_prompt"]
    assert "84 plus 16 is 100" in graded[7]["user_prompt"]  # turn 2 of math shows both reference turns
    counts = [json.loads(line) for line in capsys.readouterr().out.splitlines() if line.startswith('{"model"')]
    assert counts[0]["judged_this_run"] == 16 and counts[1]["reused_from_cache"] == 16 and counts[1]["unparsed"] == 1
    # An answer file without both turns of a question: one line, before any judge starts.
    (folder / "model_outputs.json").write_text(json.dumps(records[:-1]))
    with pytest.raises(AlpacaflowError, match="MT-Bench question 88 has no answer with two turns"):
        annotate.run(judge=judge, **args)


def test_a_local_judge_gets_the_answers_cut_to_fit_its_context(tmp_path, tiny_models):
    from alpacaflow.benchmarks.mt_bench.judge import fit_answers
    from test_judge import judge_cfg

    out = download(tmp_path)
    row = load_prompt_table(out / "prompts.parquet").iloc[3]  # math: the reference answers are shown too
    prompts = json.loads((out / "protocol.json").read_text())["prompts"]
    judge = judge_cfg(model=str(tiny_models["chat"]), max_model_len=1024)
    short = ("84.", "25.")
    assert fit_answers(row, 2, short, judge, prompts, 64) == (short, False)
    long = ("eighty four " * 400, "twenty five " * 5)
    (first, second), cut = fit_answers(row, 2, long, judge, prompts, 64)
    assert cut and len(first) < len(long[0]) and second.strip() == long[1].strip()  # the longer one is cut
    assert fit_answers(row, 1, long, judge, prompts, 64)[0][1] == long[1]  # turn 1 shows (and cuts) only the first
    assert fit_answers(row, 2, long, {**judge, "backend": "openai"}, prompts, 64) == (long, False)  # an API judge


def test_a_generate_job_sigkilled_during_the_turns_regenerates_nothing_finished(tmp_path, tiny_models, monkeypatch):
    """A real kill: the generate step in a subprocess, SIGKILLed once every first turn is stored."""
    import os
    import signal
    import subprocess
    import sys
    import time

    from alpacaflow.io import read_parquet
    from alpacaflow.steps.generate import run_generation
    from conftest import subprocess_env

    questions = download(tmp_path) / "prompts.parquet"
    settings = mt_settings(tiny_models, "chat", "chat", temperatures={}, default_temperature=0.0)  # greedy: exact
    settings["generation"].update(batch_size=1, max_new_tokens=24)
    run_generation(settings, questions, tmp_path / "whole")
    whole = read_parquet(tmp_path / "whole" / "generations.parquet")
    out = tmp_path / "killed"
    store = out / "generation_store.jsonl"
    command = [sys.executable, "-m", "alpacaflow", "generate", "--settings", json.dumps(settings), "--prompts",
               str(questions), "--out-dir", str(out)]  # fmt: skip
    job = subprocess.Popen(command, env=subprocess_env(), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 300
        while time.monotonic() < deadline and job.poll() is None:
            if store.exists() and store.read_text().count("\n") >= 8:
                os.kill(job.pid, signal.SIGKILL)
                break
            time.sleep(0.01)
    finally:
        if job.poll() is None:
            job.kill()
        job.wait()
    assert job.returncode == -signal.SIGKILL, "the job ended before it could be killed during the second turns"
    stored = sum(1 for line in store.read_text().splitlines() if line.endswith("}"))
    assert 8 <= stored < 16 and not (out / "generations.parquet").exists()
    spy = Spy(monkeypatch)
    summary = run_generation(settings, questions, out)
    assert summary["generated_this_run"] == len(spy.requests) == 16 - stored
    assert read_parquet(out / "generations.parquet")[["output", "turn"]].equals(whole[["output", "turn"]])
