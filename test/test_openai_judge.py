"""The OpenAI judge path against a local chat-completions server on 127.0.0.1.

`FakeOpenAIServer` is a test double for the OpenAI API (unreachable from CI):
it speaks the chat-completions protocol with log-probabilities, answers
scripted requests with errors (429 rate limit, 500, insufficient_quota, a 401
that echoes the key), and prefers whichever output contains GOOD. The
code under test is alpaca_eval's real `openai_completions` decoder and
`logprob_parser` (weighted_alpaca_eval_gpt4_turbo), driven by our annotate step.
"""

from __future__ import annotations

import json
import math
import re
import subprocess
import sys
from http.server import BaseHTTPRequestHandler

import pandas as pd
import pytest
import yaml
from alpacaflow.benchmarks.alpaca_eval.report import warning_lines
from alpacaflow.findings import mixed_judges
from alpacaflow.io import read_parquet
from alpacaflow.metrics.winrate import model_metrics
from alpacaflow.testing.judge_server import LocalServer
from conftest import DEMO_GAMED, judge_cache
from test_judge import annotate_cli, judge_cfg, model_outputs, prompts  # noqa: F401  (fixture)

CANARY_KEY = "sk-alpacaflow-canary-7f3e9c"


RATE_LIMIT = (429, {"error": {"message": "Rate limit reached for requests", "type": "requests"}})
SERVER_ERROR = (500, {"error": {"message": "The server had an error", "type": "server_error"}})
QUOTA = (
    429,
    {
        "error": {
            "message": "You exceeded your current quota, please check your plan and billing details.",
            "type": "insufficient_quota",
            "code": "insufficient_quota",
        }
    },
)
# The real API echoes (part of) a wrong key in its 401 message; this double echoes all of it.
BAD_KEY = (
    401,
    lambda auth: {
        "error": {"message": f"Incorrect API key provided: {auth.removeprefix('Bearer ')}.", "code": "invalid_api_key"}
    },
)


class FakeOpenAIServer(LocalServer):
    """Test double: a minimal OpenAI chat-completions endpoint with logprobs."""

    def __init__(self, failures: dict[int, tuple[int, dict]] | None = None, quota_after: int | None = None,
                 port: int = 0, reported_model: str | None = None) -> None:  # fmt: skip
        """`failures`: HTTP request number (1-based) -> (status, error body) to answer instead;
        `quota_after`: answer insufficient_quota to every request after that many judgments;
        `port`: 0 for any free one; `reported_model`: the model responses say answered (default: the one asked)."""
        self.requests: list[dict] = []
        self.auth_headers: list[str] = []
        self.failures = {1: RATE_LIMIT} if failures is None else failures
        self.quota_after = quota_after
        self.received = 0
        self.failed: list[int] = []
        self.reported_model = reported_model
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):  # keep test output quiet
                pass

            def do_POST(self):
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                owner.auth_headers.append(self.headers.get("Authorization", ""))
                owner.received += 1
                failure = owner.failures.get(owner.received)
                if failure is None and owner.quota_after is not None and len(owner.requests) >= owner.quota_after:
                    failure = QUOTA
                if failure is not None:
                    owner.failed.append(failure[0])
                    status, payload = failure
                    if callable(payload):
                        payload = payload(self.headers.get("Authorization", ""))
                    self._send(status, payload, retry=True)
                    return
                owner.requests.append(body)
                self._send(200, {**owner.completion(body), "model": owner.reported_model or body["model"]})

            def _send(self, status, payload, retry=False):
                data = json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                if retry:
                    self.send_header("retry-after-ms", "10")
                self.end_headers()
                self.wfile.write(data)

        super().__init__(Handler, port)

    @staticmethod
    def completion(body: dict) -> dict:
        text = "\n".join(m["content"] for m in body["messages"])
        outputs = re.findall(r'"output": """(.*?)"""', text, re.S)
        first_better = "GOOD" in outputs[0] or ("GOOD" not in outputs[1] and outputs[1] == "bad")
        lp_m, lp_big_m = (math.log(0.8), math.log(0.2)) if first_better else (math.log(0.2), math.log(0.8))
        token = "m" if first_better else "M"
        top = [{"token": "m", "logprob": lp_m, "bytes": [109]}, {"token": "M", "logprob": lp_big_m, "bytes": [77]}]
        return {
            "id": "chatcmpl-test",
            "object": "chat.completion",
            "created": 0,
            "model": body["model"],
            "choices": [
                {
                    "index": 0,
                    "finish_reason": "length",
                    "message": {"role": "assistant", "content": token},
                    "logprobs": {
                        "content": [
                            {"token": token, "logprob": max(lp_m, lp_big_m), "bytes": [109], "top_logprobs": top}
                        ]
                    },
                }
            ],
            "usage": {"prompt_tokens": 300, "completion_tokens": 1, "total_tokens": 301},
        }


def test_openai_judge_end_to_end(tmp_path, prompts):  # noqa: F811
    outputs = model_outputs(prompts, tmp_path)
    out = tmp_path / "annotations.json"
    with FakeOpenAIServer() as server:
        judge = judge_cfg(backend="openai", method="weighted", base_url=server.base_url)
        result = annotate_cli(judge, prompts, outputs, tmp_path, OPENAI_API_KEY=CANARY_KEY, OPENAI_MAX_CONCURRENCY="1")
    assert result.returncode == 0, result.stderr[-3000:]
    n = len(read_parquet(prompts))
    assert server.failed == [429] and len(server.requests) == n  # the 429 was retried
    assert set(server.auth_headers) == {f"Bearer {CANARY_KEY}"}
    assert all(r["model"] == "gpt-4-1106-preview" and r["max_tokens"] == 1 and r["logprobs"] for r in server.requests)
    assert re.search(
        r"cost estimate for 8 judgments with gpt-4-1106-preview: ~\d+ input \+ 8 output tokens", result.stdout
    )
    annotations = json.loads(out.read_text())
    for row in annotations:
        assert row["annotator"] == "weighted_alpaca_eval_gpt4_turbo"
        expected = 1.8 if row["output_2"].startswith("GOOD") else 1.2
        assert row["preference"] == pytest.approx(expected, abs=1e-9)
    written = "".join(p.read_text(errors="replace") for p in tmp_path.rglob("*") if p.is_file())
    assert CANARY_KEY not in written + result.stdout + result.stderr


def test_the_model_the_api_reports_is_kept_and_a_change_is_said_in_one_line(tmp_path, prompts):  # noqa: F811
    """Each judgment keeps the model its response reported; a judge that now reports another model is said."""
    outputs = model_outputs(prompts, tmp_path)
    with FakeOpenAIServer(failures={}, reported_model="gpt-4-1106-preview-0001") as server:
        judge = judge_cfg(backend="openai", method="weighted", base_url=server.base_url)
        first = annotate_cli(judge, prompts, outputs, tmp_path, OPENAI_API_KEY=CANARY_KEY)  # two requests at once
    assert first.returncode == 0, first.stderr[-3000:]
    rows = json.loads((tmp_path / "annotations.json").read_text())
    assert {r["preference_reported_model"] for r in rows} == {"gpt-4-1106-preview-0001"}
    assert {r["judge_identity"] for r in rows} == {f"gpt-4-1106-preview-0001 at {server.base_url}"}
    assert "judge: the API reported" not in first.stdout

    records = json.loads(outputs.read_text())
    for record in records[:2]:
        record["output"] = "GOOD, and new"
    outputs.write_text(json.dumps(records))
    with FakeOpenAIServer(failures={}, port=server.port, reported_model="gpt-4-1106-preview-0002") as again:
        second = annotate_cli(judge, prompts, outputs, tmp_path, OPENAI_API_KEY=CANARY_KEY)
    assert second.returncode == 0, second.stderr[-3000:]
    assert len(again.requests) == 2  # the other judgments come from the cache, with the model they recorded
    cache = judge_cache(tmp_path / "judge_cache", judge)
    assert (
        f"judge: the API reported gpt-4-1106-preview-0002 for judgments made now, but earlier judgments in {cache} "
        "recorded gpt-4-1106-preview-0001; the leaderboard's judge_identity and the report show both"
    ) in second.stdout.splitlines()
    rows = json.loads((tmp_path / "annotations.json").read_text())
    reported = [r["preference_reported_model"] for r in rows]
    assert reported == ["gpt-4-1106-preview-0002"] * 2 + ["gpt-4-1106-preview-0001"] * (len(rows) - 2)
    # The leaderboard lists both judges of the pair, and the report opens with a warning naming the pair.
    identity = model_metrics(rows, DEMO_GAMED, "annotations.json")["judge_identity"]
    assert identity == f"gpt-4-1106-preview-0001 at {server.base_url}, gpt-4-1106-preview-0002 at {server.base_url}"
    every = pd.DataFrame([{"model": "m", "reference": "prompts", "judge_identity": identity},
                          {"model": "m", "reference": "sft", "judge_identity": identity}])  # fmt: skip
    assert mixed_judges(every) == ["m", "m (vs sft)"]
    note = [line for line in warning_lines([], [], prompts, every) if "more than one judge" in line]
    assert note[0].startswith("> **Warning: more than one judge.** The judgments of m, m (vs sft) come from more")


def test_server_errors_are_retried_with_backoff(tmp_path, prompts):  # noqa: F811
    outputs = model_outputs(prompts, tmp_path)
    with FakeOpenAIServer(failures={1: SERVER_ERROR, 2: RATE_LIMIT, 3: SERVER_ERROR}) as server:
        judge = judge_cfg(backend="openai", method="weighted", base_url=server.base_url)
        result = annotate_cli(judge, prompts, outputs, tmp_path, OPENAI_API_KEY=CANARY_KEY, OPENAI_MAX_CONCURRENCY="1")
    assert result.returncode == 0, result.stderr[-3000:]
    assert server.failed == [500, 429, 500]
    assert json.loads(result.stdout.strip().splitlines()[-1])["unparsed"] == 0


def test_exhausted_quota_stops_with_finished_judgments_saved(tmp_path, prompts):  # noqa: F811
    outputs = model_outputs(prompts, tmp_path)
    n = len(read_parquet(prompts))
    with FakeOpenAIServer(failures={}, quota_after=5) as server:
        judge = judge_cfg(backend="openai", method="weighted", base_url=server.base_url, checkpoint_every=2,
                          api_max_retries=1)  # fmt: skip
        cache = judge_cache(tmp_path / "judge_cache", judge)
        result = annotate_cli(judge, prompts, outputs, tmp_path, OPENAI_API_KEY=CANARY_KEY, OPENAI_MAX_CONCURRENCY="1")
    assert result.returncode == 1
    saved = len(json.loads(cache.read_text()))
    assert saved == 4  # two full chunks of 2; the chunk that hit the quota is redone
    assert result.stderr.strip().splitlines()[-1] == (
        "error: OpenAI API quota exhausted (insufficient_quota): add credit or use another key; "
        f"{saved}/{n} judgments saved in {cache}; rerun to resume"
    )
    assert not (tmp_path / "annotations.json").exists()
    with FakeOpenAIServer(failures={}, port=server.port) as server:  # the same URL: the same judge
        result = annotate_cli(judge, prompts, outputs, tmp_path, OPENAI_API_KEY=CANARY_KEY, OPENAI_MAX_CONCURRENCY="1")
    assert result.returncode == 0, result.stderr[-3000:]
    assert len(server.requests) == n - saved
    assert json.loads(result.stdout.strip().splitlines()[-1])["reused_from_cache"] == saved


def test_api_error_that_echoes_the_key_is_redacted(tmp_path, prompts):  # noqa: F811
    outputs = model_outputs(prompts, tmp_path)
    with FakeOpenAIServer(failures={i: BAD_KEY for i in range(1, 50)}) as server:
        judge = judge_cfg(backend="openai", method="weighted", base_url=server.base_url, api_max_retries=0)
        result = annotate_cli(judge, prompts, outputs, tmp_path, OPENAI_API_KEY=CANARY_KEY, OPENAI_MAX_CONCURRENCY="1")
    assert result.returncode == 1
    last = result.stderr.strip().splitlines()[-1]
    assert last.startswith("error: OpenAI API error 401 (AuthenticationError): Incorrect API key provided: [REDACTED]")
    assert CANARY_KEY not in result.stdout + result.stderr


@pytest.mark.slow
def test_whole_openai_run_never_writes_a_secret(tmp_path, tiny_models):
    """The demo workflow with the OpenAI judge and canary secrets; every file it wrote is searched."""
    from conftest import DEMO_GAMED, DEMO_PROMPTS, REPO, subprocess_env

    hf_canary = "hf_alpacaflowCanaryToken0123456789"
    generation = {"backend": "transformers", "device": "cpu", "dtype": "float32", "max_new_tokens": 16,
                  "max_model_len": 512}  # fmt: skip
    with FakeOpenAIServer() as server:
        config = {
            "prompts": {"source": str(DEMO_PROMPTS), "df_gamed": str(DEMO_GAMED), "max_instances": 6},
            "generation": generation,
            "judge": {"backend": "openai", "method": "weighted", "base_url": server.base_url},
            "error_sample": {"n": 2},
            "models": {
                "zero_shot": {"path": str(tiny_models["base"]), "prompt_format": "alpaca"},
                "sft": {"path": str(tiny_models["chat"]), "prompt_format": "chat"},
            },
        }
        (tmp_path / "config.yaml").write_text(yaml.safe_dump(config))
        env = subprocess_env(OPENAI_API_KEY=CANARY_KEY, HF_TOKEN=hf_canary, OPENAI_MAX_CONCURRENCY="1")
        cmd = [sys.executable, "-m", "snakemake", "--snakefile", str(REPO / "Snakefile"), "--configfile",
               "config.yaml", "--cores", "2"]  # fmt: skip
        run = subprocess.run(cmd, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=900)
    assert run.returncode == 0, run.stderr[-3000:]
    assert (tmp_path / "results" / "report.md").exists() and len(server.requests) == 12
    written = [p for p in tmp_path.rglob("*") if p.is_file()]
    assert any(".snakemake" in p.parts for p in written) and any("logs" in p.parts for p in written)
    for secret in (CANARY_KEY, hf_canary):
        leaks = [p for p in written if secret.encode() in p.read_bytes()]
        assert not leaks, leaks
        assert secret not in run.stdout + run.stderr
