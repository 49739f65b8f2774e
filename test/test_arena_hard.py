"""Arena-Hard-Auto: the official files read (stand-ins of the same shape), two games per question judged, scored.

The stand-ins in test/demo/arena_hard/ are laid out as the official
repository; the judge is `StandinJudgeServer`, a test double of the OpenAI
API (the official judges are API models out of reach here) whose verdict is
drawn from the two answers, the same in either order. The code under test
is the real download_benchmark and annotate steps and the OpenAI client.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from alpacaflow.benchmarks import benchmark_settings, check_benchmarks
from alpacaflow.benchmarks.arena_hard.data import ENCODING_CACHE_NAME, judge_settings
from alpacaflow.config import check_config
from alpacaflow.errors import AlpacaflowError
from alpacaflow.io import jsonl, load_prompt_table, read_jsonl, read_records
from alpacaflow.metrics.arena import arena_score
from alpacaflow.metrics.style import tiktoken_encoder
from alpacaflow.steps import annotate, download_benchmark, export_arena
from alpacaflow.testing.judge_server import StandinJudgeServer, template_of, verdict
from conftest import REPO, run_cli
from test_judge import judge_cfg

STANDINS = REPO / "test" / "demo" / "arena_hard"
TEMPLATE = template_of(STANDINS / "config" / "arena-hard-v0.1.yaml")
ARENA = {"judge_max_new_tokens": None, "judge_temperature": None}


def download(tmp_path: Path, o200k: Path, source: Path = STANDINS, version: str = "v0.1", max_instances: int = 0,
             ) -> Path:  # fmt: skip
    out = tmp_path / f"arena_hard-{version}"
    download_benchmark.run(benchmark=out.name, source=str(source), repo="r", revision="x", encoding_source=str(o200k),
                           prompts=out / "prompts.parquet", meta=out / "prompts_meta.json",
                           protocol=out / "protocol.json", encoding=out / "tiktoken" / ENCODING_CACHE_NAME,
                           max_instances=max_instances)  # fmt: skip
    return out


def test_max_instances_keeps_the_questions_whose_uid_hashes_lowest_in_file_order(tmp_path, o200k):
    """arena_hard.max_instances: a deterministic subset that does not depend on file order and grows by adding."""
    import hashlib

    full = load_prompt_table(download(tmp_path / "all", o200k, version="v2.0") / "prompts.parquet")
    lowest = sorted(full["uid"], key=lambda u: hashlib.sha256(u.encode()).hexdigest())
    kept = {}
    for n in (2, 4):
        out = download(tmp_path / str(n), o200k, version="v2.0", max_instances=n)
        kept[n] = load_prompt_table(out / "prompts.parquet")
        assert set(kept[n]["uid"]) == set(lowest[:n]) and len(kept[n]) == n
        assert kept[n]["index"].is_monotonic_increasing  # file order, each question's index in the full set
        assert full.set_index("uid").loc[kept[n]["uid"], "index"].tolist() == kept[n]["index"].tolist()
        meta = json.loads((out / "prompts_meta.json").read_text())
        assert (meta["rows_in_source"], meta["rows_kept"], meta["max_instances"]) == (len(full), n, n)
    assert set(kept[2]["uid"]) < set(kept[4]["uid"])
    everything = download(tmp_path / "many", o200k, version="v2.0", max_instances=len(full) + 5)
    assert load_prompt_table(everything / "prompts.parquet")["uid"].tolist() == full["uid"].tolist()


def test_the_questions_become_a_prompt_table_with_the_baselines_as_references(tmp_path, o200k):
    out = download(tmp_path, o200k)
    table = load_prompt_table(out / "prompts.parquet")
    questions = read_jsonl((STANDINS / "data/arena-hard-v0.1/question.jsonl").read_bytes(), "q")
    assert table["uid"].tolist() == [q["uid"] for q in questions] and table["instruction"].tolist() == [
        q["prompt"] for q in questions]  # fmt: skip
    assert set(table["reference_generator"]) == {"standin-baseline"} and table["reference_output"].str.len().min() > 0
    protocol = json.loads((out / "protocol.json").read_text())
    assert protocol["judge_model"] == "gpt-4-1106-preview" and protocol["max_tokens"] == 4096
    assert protocol["regex_patterns"] == [r"\[\[([AB<>=]+)\]\]", r"\[([AB<>=]+)\]"]
    assert protocol["categories"]["arena-hard-v0.1"]["system_prompt"].startswith("You are comparing two assistants")
    meta = json.loads((out / "prompts_meta.json").read_text())
    assert (
        meta["rows_kept"] == 6
        and len(meta["files"]) == 5
        and all(len(f["sha256"]) == 64 for f in meta["files"].values())
    )


def copy_standins(tmp_path: Path) -> Path:
    folder = tmp_path / "copy"
    shutil.copytree(STANDINS, folder)
    return folder


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (lambda f: (f / "data/arena-hard-v0.1/model_answer/standin-baseline.jsonl").write_text(
            "\n".join((f / "data/arena-hard-v0.1/model_answer/standin-baseline.jsonl").read_text().splitlines()[1:])),
         "question q1 has no answer of its baseline standin-baseline"),
        (lambda f: (f / "data/arena-hard-v0.1/question.jsonl").write_text('{"uid": "q1", "prompt": "x"\n'),
         "data/arena-hard-v0.1/question.jsonl: malformed JSON at line 1"),
        (lambda f: (f / "utils/judge_utils.py").write_text("JUDGE_SETTINGS = {}\n"),
         "utils/judge_utils.py: no JUDGE_SETTINGS with a baseline and a system prompt per category"),
        (lambda f: (f / "config/arena-hard-v0.1.yaml").unlink(), "config/arena-hard-v0.1.yaml: file not found"),
    ],
    ids=["question_without_baseline_answer", "malformed_question", "no_judge_settings", "missing_config"],
)  # fmt: skip
def test_bad_benchmark_files_end_in_one_line_and_write_nothing(tmp_path, o200k, edit, message):
    folder = copy_standins(tmp_path)
    edit(folder)
    with pytest.raises(AlpacaflowError, match=message.replace("[", r"\[")) as info:
        download(tmp_path, o200k, folder)
    assert "\n" not in str(info.value)
    assert not (tmp_path / "arena_hard-v0.1").exists()


def test_an_unknown_version_is_one_line():
    with pytest.raises(AlpacaflowError, match=r"unknown Arena-Hard version in 'arena_hard-v9' \(known: v0.1, v2.0\)"):
        download_benchmark.run(benchmark="arena_hard-v9", source=str(STANDINS), repo="r", revision="x",
                               encoding_source="", prompts=Path("p"), meta=Path("m"), protocol=Path("j"),
                               encoding=Path("e"))  # fmt: skip


def test_json_lines_split_at_newlines_only(tmp_path):
    """U+2028 inside a JSON string (as in v2.0's official question.jsonl) is no line break."""
    line = json.dumps({"uid": "a", "prompt": "one\u2028two"}, ensure_ascii=False)
    assert read_jsonl(f"{line}\n{line}\n".encode(), "x")[0]["prompt"] == "one\u2028two"
    path = tmp_path / "outputs.jsonl"
    path.write_text(json.dumps({"instruction": "i\u2028j", "output": "o"}, ensure_ascii=False) + "\n")
    assert read_records(path)[0]["instruction"] == "i\u2028j"


def test_judge_settings_are_read_without_running_the_file():
    settings = 'JUDGE_SETTINGS = {"c": {"baseline": "b", "system_prompt": P}}'
    text = f'P = "judge" + " well"\nX = open("/no/such/file")\n{settings}'
    assert judge_settings(text, "u") == {"c": {"baseline": "b", "system_prompt": "judge well"}}


def answers(out: Path, folder: Path, fn=lambda i, q: f"My answer {i}: {q[:20]}") -> Path:
    """A model's answers to the stand-in questions, as generate writes them (model_outputs.json)."""
    table = load_prompt_table(out / "prompts.parquet")
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "model_outputs.json"
    path.write_text(json.dumps([{"instruction": q, "output": fn(i, q), "generator": "m"}
                                for i, q in enumerate(table["instruction"])]))  # fmt: skip
    return path


def arena_annotate(out: Path, outputs: Path, folder: Path, server: StandinJudgeServer) -> list[dict]:
    judge = judge_cfg(backend="openai", method="weighted", base_url=server.base_url, checkpoint_every=4)
    annotate.run(judge=judge, model=["m"], prompts=out / "prompts.parquet", outputs=[outputs],
                 cache=[folder / "judge_cache"], annotations=[folder / "annotations.json"],
                 reference=[out.name], benchmarks=[out], arena_hard=ARENA)  # fmt: skip
    return json.loads((folder / "annotations.json").read_text())


def test_two_games_per_question_in_the_official_format_cached(tmp_path, o200k, monkeypatch, capsys):
    monkeypatch.setenv("OPENAI_API_KEY", "standin-key")
    out = download(tmp_path, o200k)
    folder = tmp_path / "m" / "arena_hard-v0.1"
    outputs = answers(out, folder)
    table = load_prompt_table(out / "prompts.parquet")
    with StandinJudgeServer(TEMPLATE) as server:
        records = arena_annotate(out, outputs, folder, server)
        assert len(server.requests) == 12  # two games for each of 6 questions
        assert "cost estimate for 12 Arena-Hard games (at most) with gpt-4-1106-preview: ~" in capsys.readouterr().out
        first, second = records[0]["games"]
        # Game 1: the baseline is assistant A; game 2: the model is A. The system prompt is the category's.
        assert first["prompt"][0]["content"].startswith("You are comparing two assistants")
        assert first["prompt"][1]["content"] == TEMPLATE.format(QUESTION=table["instruction"][0],
            ANSWER_A=table["reference_output"][0], ANSWER_B="My answer 0: " + table["instruction"][0][:20])  # fmt: skip
        assert second["prompt"][1]["content"].index("My answer 0") < second["prompt"][1]["content"].index(
            table["reference_output"][0])  # fmt: skip
        model_answer = "My answer 0: " + table["instruction"][0][:20]
        expected = verdict(table["reference_output"][0], model_answer)
        assert first["score"] == expected and first["judgment"]["answer"].endswith(f"[[{expected}]]")
        assert {k: records[0][k] for k in ("uid", "category", "judge", "model", "baseline")} == {
            "uid": "q1", "category": "arena-hard-v0.1", "judge": "gpt-4-1106-preview", "model": "m",
            "baseline": "standin-baseline"}  # fmt: skip
        assert records[0]["judge_identity"] == f"gpt-4-1106-preview at {server.base_url}"
        # The stand-in judges without position bias: each question's two games agree once mirrored.
        assert arena_score(records)["null_games"] == 0
        # A rerun asks nothing; one changed answer asks its two games again.
        arena_annotate(out, outputs, folder, server)
        assert len(server.requests) == 12
        answers(out, folder, lambda i, q: "A new answer." if i == 2 else f"My answer {i}: {q[:20]}")
        arena_annotate(out, outputs, folder, server)
        assert len(server.requests) == 14


def test_a_game_without_a_verdict_is_kept_as_null_and_its_question_left_out(tmp_path, o200k, monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", "standin-key")
    out = download(tmp_path, o200k)
    folder = tmp_path / "m" / "arena_hard-v0.1"
    with StandinJudgeServer("{QUESTION} finds nothing {ANSWER_A} here {ANSWER_B}") as server:  # writes no verdict
        records = arena_annotate(out, answers(out, folder), folder, server)
    assert all(g["score"] is None for r in records for g in r["games"])
    found = arena_score(records)
    assert (found["null_games"], found["battles"]) == (6, 0) and found["score"] != found["score"]  # NaN


def test_benchmark_config_checks():
    base = {"models": {"m": {"path": str(REPO)}}, "benchmarks": ["alpaca_eval", "arena_hard"]}
    # Any subset, any order (the order of the report's sections) ...
    for subset in (["arena_hard", "alpaca_eval"], ["arena_hard"], ["mt_bench"], ["mt_bench", "alpaca_eval"]):
        check_benchmarks(check_config({**base, "benchmarks": subset, "judge": {"max_model_len": 32768}}))
    # ... but what only AlpacaEval's pairs feed needs alpaca_eval.
    alone = {**base, "benchmarks": ["mt_bench"]}
    with pytest.raises(AlpacaflowError, match="config error at 'validate_judge.enabled': judge validation re-judges"):
        check_benchmarks(check_config({**alone, "validate_judge": {"enabled": True}}))
    with pytest.raises(AlpacaflowError, match="config error at 'sweeps': a sweep's verdict is on AlpacaEval's"):
        check_benchmarks(check_config({**alone, "sweeps": {"s": {"repo": "org/m", "revisions": ["step-100"]}}}))
    with pytest.raises(AlpacaflowError, match="config error at 'models.arena_hard-v0.1': arena_hard-v0.1 is a"):
        check_benchmarks(check_config({**base, "models": {"arena_hard-v0.1": {"path": str(REPO)}}}))
    small = {**base, "judge": {"device": "cpu", "max_model_len": 4096}}
    with pytest.raises(AlpacaflowError, match="config error at 'judge.max_model_len': 4096 leaves no room"):
        check_benchmarks(check_config(small))
    # With an API judge for the games, the local AlpacaEval judge's context is not the games' concern ...
    api = {"backend": "openai", "method": "weighted", "openai_model": "gpt-4.1"}
    check_benchmarks(check_config({**small, "arena_hard": {"versions": ["v2.0"], "judge": api}}))
    # ... and a local judge for the games is checked under its own key.
    local = {"device": "cpu", "max_model_len": 8192}
    with pytest.raises(AlpacaflowError, match="config error at 'arena_hard.judge.max_model_len': 8192 leaves no"):
        check_benchmarks(check_config({**base, "arena_hard": {"versions": ["v2.0"], "judge": local}}))
    config = check_config({**base, "generation": {"temperature": 0.7, "max_new_tokens": 64}})
    settings = benchmark_settings(config, "m", "arena_hard-v0.1")["generation"]
    assert (settings["temperature"], settings["max_new_tokens"], settings["max_model_len"]) == (0.0, 4096, 8192)
    assert benchmark_settings(config, "m", "alpaca_eval")["generation"]["temperature"] == 0.7
    # One model's own Arena-Hard settings go over the benchmark's; its AlpacaEval settings stay its own.
    longer = {"path": str(REPO), "arena_hard_generation": {"max_new_tokens": 8192, "max_model_len": 16384}}
    config = check_config({**base, "models": {"m": longer}, "generation": {"max_new_tokens": 64}})
    settings = benchmark_settings(config, "m", "arena_hard-v0.1")["generation"]
    assert (settings["temperature"], settings["max_new_tokens"], settings["max_model_len"]) == (0.0, 8192, 16384)
    assert benchmark_settings(config, "m", "alpaca_eval")["generation"]["max_new_tokens"] == 64


@pytest.mark.slow
def test_a_local_vllm_judge_plays_the_games_on_its_one_engine(tmp_path, o200k, tiny_models):
    """The vLLM path: the judge's chat template, greedy, on one engine; a random tiny judge writes no verdicts."""
    out = download(tmp_path, o200k)
    folder = tmp_path / "m" / "arena_hard-v0.1"
    outputs = answers(out, folder)
    judge = judge_cfg(method="weighted", model=str(tiny_models["chat"]), device="cpu", tensor_parallel_size=1,
                      max_model_len=1024, dtype="float32", gpu_memory_utilization=0.2, enforce_eager=True)  # fmt: skip
    args = ["--judge", json.dumps(judge), "--model", "m", "--prompts", str(out / "prompts.parquet"), "--outputs",
            str(outputs), "--cache", str(folder / "judge_cache"), "--annotations", str(folder / "annotations.json"),
            "--reference", "arena_hard-v0.1", "--benchmarks", str(out),
            "--arena-hard", json.dumps({"judge_max_new_tokens": 8, "judge_temperature": None})]  # fmt: skip
    result = run_cli("annotate", *args)
    assert result.returncode == 0, result.stderr[-3000:]
    assert (result.stdout + result.stderr).count("Initializing a V1 LLM engine") == 1
    counts = json.loads(result.stdout.strip().splitlines()[-1])
    assert (counts["games"], counts["judged_this_run"], counts["judge"]) == (12, 12, "chat")
    records = json.loads((folder / "annotations.json").read_text())
    assert len(records) == 6 and all(isinstance(g["judgment"]["answer"], str) for r in records for g in r["games"])
    assert records[0]["games"][0]["prompt"][0]["role"] == "system"
    again = run_cli("annotate", *args)  # every game from the cache: no engine at all
    assert again.returncode == 0 and "Initializing a V1 LLM engine" not in again.stdout + again.stderr


def test_v2_categories_are_judged_and_scored_apart_against_their_own_baselines(tmp_path, o200k, monkeypatch):
    from alpacaflow.steps.leaderboard import arena_rows

    monkeypatch.setenv("OPENAI_API_KEY", "standin-key")
    out = download(tmp_path, o200k, version="v2.0")
    table = load_prompt_table(out / "prompts.parquet")
    assert dict(zip(table["uid"], table["subcategory"], strict=True))["h3"] == "math"
    assert table.set_index("uid").loc["h1", "reference_metadata"].startswith('{"token_len"')
    folder = tmp_path / "m" / "arena_hard-v2.0"
    with StandinJudgeServer(template_of(STANDINS / "config" / "arena-hard-v2.0.yaml")) as server:
        records = arena_annotate(out, answers(out, folder), folder, server)
    by_uid = {r["uid"]: r for r in records}
    assert (by_uid["h1"]["baseline"], by_uid["c1"]["baseline"]) == ("standin-o3", "standin-gemini")
    assert by_uid["c1"]["games"][0]["prompt"][0]["content"].startswith("You are comparing two assistants' pieces")
    assert by_uid["h1"]["judge"] == "gpt-4-1106-preview"  # the judge configured (the version's official: gpt-4.1)
    (folder / "throughput.json").write_text("{}")
    official = tmp_path / "official" / "data" / "arena-hard-v2.0"
    encoding = out / "tiktoken" / ENCODING_CACHE_NAME
    export_arena.run(benchmark=out.name, prompts=out / "prompts.parquet", encoding=encoding, models=["m"],
                     outputs=[folder / "model_outputs.json"], annotations=[folder / "annotations.json"],
                     folder=official)  # fmt: skip
    rows = arena_rows(["m"], ["arena_hard-v2.0"], [folder / "annotations.json"], [folder / "throughput.json"],
                      {"arena_hard-v2.0": official}, rounds=100, seed=0)  # fmt: skip
    assert rows[["category", "reference", "n_total"]].values.tolist() == [
        ["creative_writing", "standin-gemini", 2], ["hard_prompt", "standin-o3", 4]]  # fmt: skip
    hard = [r for r in records if r["category"] == "hard_prompt"]
    assert rows.loc[1, "score"] == arena_score(hard)["score"]


def official_answer_file(path: Path, questions: list[tuple[str, str]], model: str = "published") -> Path:
    """An answer file in the official model_answer format (stand-in answers)."""
    lines = [{"uid": uid, "ans_id": f"x{n}", "model": model, "tstamp": 0,
              "messages": [{"role": "user", "content": q}, {"role": "assistant", "content": {"answer": f"A{n}: {q}"}}]}
             for n, (uid, q) in enumerate(questions)]  # fmt: skip
    path.write_text("".join(json.dumps(line) + "\n" for line in lines))
    return path


def test_an_official_answer_file_is_imported_per_version(tmp_path, o200k):
    from alpacaflow.benchmarks import annotated_pairs
    from alpacaflow.steps import generate

    out = download(tmp_path, o200k)
    table = load_prompt_table(out / "prompts.parquet")
    questions = list(zip(table["uid"], table["instruction"], strict=True))
    answers = official_answer_file(tmp_path / "published.jsonl", questions[::-1])  # any order: matched by uid
    alpaca = tmp_path / "alpaca.json"
    alpaca.write_text("[]")
    config = check_config({"models": {"m": {"path": str(REPO)},
                                       "pub": {"outputs": str(alpaca), "arena_hard_outputs": {"v0.1": str(answers)}},
                                       "other": {"outputs": str(alpaca)}},
                           "benchmarks": ["alpaca_eval", "arena_hard"]})  # fmt: skip
    pairs = annotated_pairs(config)
    assert [p for p in pairs if p[1] == "arena_hard-v0.1"] == [("m", "arena_hard-v0.1"), ("pub", "arena_hard-v0.1")]
    settings = benchmark_settings(config, "pub", "arena_hard-v0.1")
    assert settings == {"model": "pub", "outputs": str(answers)}
    folder = tmp_path / "pub" / "arena_hard-v0.1"
    generate.run(settings=settings, prompts=out / "prompts.parquet", meta=out / "prompts_meta.json", out_dir=folder)
    outputs = read_records(folder / "model_outputs.json")
    assert [o["output"] for o in outputs] == [f"A{len(questions) - 1 - n}: {q}" for n, (_, q) in enumerate(questions)]
    # An answer file missing questions, or another version's: one line, nothing written.
    for bad, message in (
        (questions[1:], r"1 question\(s\) have no answer, e.g. uid q1; is it this version's"),
        ([*questions, ("zz", "?")], r"1 answer\(s\) to questions not in this version, e.g. uid zz"),
    ):
        official_answer_file(answers, bad)
        target = tmp_path / "bad" / "arena_hard-v0.1"
        with pytest.raises(AlpacaflowError, match=message) as info:
            generate.run(settings=settings, prompts=out / "prompts.parquet", meta=out / "prompts_meta.json",
                         out_dir=target)  # fmt: skip
        assert "\n" not in str(info.value) and not (target / "model_outputs.json").exists()
    # On a max_instances subset, a whole version's answer file is read for the questions kept.
    small = download(tmp_path / "small", o200k, max_instances=2)
    official_answer_file(answers, questions)
    generate.run(settings=settings, prompts=small / "prompts.parquet", meta=small / "prompts_meta.json",
                 out_dir=tmp_path / "small_pub")  # fmt: skip
    kept = load_prompt_table(small / "prompts.parquet")
    by_uid = {u: f"A{n}: {q}" for n, (u, q) in enumerate(questions)}
    assert [o["output"] for o in read_records(tmp_path / "small_pub" / "model_outputs.json")] == [
        by_uid[u] for u in kept["uid"]]  # fmt: skip
    with pytest.raises(AlpacaflowError, match=r"'models.pub.arena_hard_outputs.v0.1': file not found: /nowhere"):
        check_config({"models": {"pub": {"outputs": str(alpaca), "arena_hard_outputs": {"v0.1": "/nowhere"}}}})


def test_head_to_head_puts_the_other_models_answers_in_the_baselines_place(tmp_path, o200k, monkeypatch):
    """references: [prompts, b]: on each version every other model with answers is judged against b's answers."""
    from alpacaflow.benchmarks import arena_pairs
    from alpacaflow.steps.leaderboard import arena_rows

    alpaca = tmp_path / "alpaca.json"
    alpaca.write_text("[]")
    config = check_config({"models": {"a": {"path": str(REPO)}, "b": {"path": str(REPO)},
                                      "c": {"outputs": str(alpaca)}},  # no Arena-Hard answers: in no pair
                           "references": ["prompts", "b"], "benchmarks": ["alpaca_eval", "arena_hard"],
                           "arena_hard": {"versions": ["v0.1", "v2.0"]}})  # fmt: skip
    v1, v2 = "arena_hard-v0.1", "arena_hard-v2.0"
    assert arena_pairs(config) == [("a", v1), ("b", v1), ("a", f"{v1}/vs_b"), ("a", v2), ("b", v2), ("a", f"{v2}/vs_b")]
    monkeypatch.setenv("OPENAI_API_KEY", "standin-key")
    out = download(tmp_path, o200k)

    def b_answer(i: int, q: str) -> str:  # headers, lists and bold that vary: each style column has spread
        return "# B\n" * (i % 3) + f"B's answer {i}.\n" + "- a point\n" * i + "**bold**" * (i % 2)

    theirs = answers(out, tmp_path / "b" / "arena_hard-v0.1", b_answer)
    records = json.loads(theirs.read_text())
    theirs.write_text(json.dumps([{**r, "generator": "b"} for r in records]))
    folder = tmp_path / "a" / "arena_hard-v0.1" / "vs_b"
    ours = answers(out, tmp_path / "a" / "arena_hard-v0.1")
    judge = judge_cfg(backend="openai", method="weighted", checkpoint_every=4)
    args = dict(model=["a"], prompts=out / "prompts.parquet", outputs=[ours], cache=[folder / "judge_cache"],
                annotations=[folder / "annotations.json"], reference=["arena_hard-v0.1/vs_b"], benchmarks=[out],
                arena_hard=ARENA)  # fmt: skip
    with pytest.raises(AlpacaflowError, match=r"annotate: no answers of the reference model b to arena_hard-v0.1$"):
        annotate.run(judge=judge, **args)
    assert not (folder / "annotations.json").exists()
    with StandinJudgeServer(TEMPLATE) as server:
        annotate.run(judge={**judge, "base_url": server.base_url}, benchmark_references=[theirs], **args)
    judged = json.loads((folder / "annotations.json").read_text())
    table = load_prompt_table(out / "prompts.parquet")
    first = judged[0]["games"][0]["prompt"][1]["content"]
    mine = "My answer 0: " + table["instruction"][0][:20]
    assert judged[0]["baseline"] == "b"
    assert first == TEMPLATE.format(QUESTION=table["instruction"][0], ANSWER_A=b_answer(0, ""), ANSWER_B=mine)
    assert all(r["reference_output"] == b_answer(n, "") for n, r in enumerate(judged))
    # Scored as against a baseline, with b as the row's reference; its style control reads both answer files.
    (tmp_path / "a" / "arena_hard-v0.1" / "throughput.json").write_text("{}")
    official = tmp_path / "official" / "data" / "arena-hard-v0.1"
    (official / "model_answer").mkdir(parents=True)
    encoder = tiktoken_encoder(out / "tiktoken")
    for name, path in (("a", ours), ("b", theirs)):
        lines = export_arena.model_lines(table, name, path, encoder)
        (official / "model_answer" / f"{name}.jsonl").write_text(jsonl(lines))
    rows = arena_rows(["a"], ["arena_hard-v0.1/vs_b"], [folder / "annotations.json"],
                      [tmp_path / "a" / "arena_hard-v0.1" / "throughput.json"], {"arena_hard-v0.1": official},
                      rounds=20, seed=0)  # fmt: skip
    assert rows[["model", "benchmark", "reference"]].values.tolist() == [["a", "arena_hard-v0.1", "b"]]
    assert rows.loc[0, "score"] == arena_score(judged, rounds=20, seed=0)["score"]
    assert rows.loc[0, "style_score"] == rows.loc[0, "style_score"]  # not NaN: fitted against b


def test_the_cost_line_bounds_v2_games_at_gpt_4_1_prices():
    """v2.0's official judge is priced as such (not as the fallback); each game counted at its max judgment length."""
    from alpacaflow.engines.judge_openai import chat_cost_line

    games = [[{"role": "user", "content": "x" * 400}]] * 3
    line = chat_cost_line(games, {"openai_model": "gpt-4.1"}, 16000)
    assert line.startswith("cost estimate for 3 Arena-Hard games (at most) with gpt-4.1: ~")
    assert " + 48000 output tokens = ~$0.38 " in line and line.endswith("prices $2.0/$8.0 per 1M)")
