"""The OpenAI judge path against a local chat-completions server on 127.0.0.1.

`FakeOpenAIServer` is a test double for the OpenAI API (unreachable from CI):
it speaks the chat-completions protocol with log-probabilities, answers the
first request with HTTP 429, and prefers whichever output contains GOOD. The
code under test is alpaca_eval's real `openai_completions` decoder and
`logprob_parser` (weighted_alpaca_eval_gpt4_turbo), driven by our annotate step.
"""

from __future__ import annotations

import json
import math
import re
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pandas as pd
import pytest
from test_judge import annotate_cli, judge_cfg, model_outputs, prompts  # noqa: F401  (fixture)

CANARY_KEY = "sk-alpacaflow-canary-7f3e9c"


class FakeOpenAIServer:
    """Test double: a minimal OpenAI chat-completions endpoint with logprobs."""

    def __init__(self) -> None:
        self.requests: list[dict] = []
        self.auth_headers: list[str] = []
        self.rate_limited = 0
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):  # keep test output quiet
                pass

            def do_POST(self):
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                owner.auth_headers.append(self.headers.get("Authorization", ""))
                if owner.rate_limited == 0:
                    owner.rate_limited += 1
                    self._send(429, {"error": {"message": "Rate limit reached", "type": "requests"}}, retry=True)
                    return
                owner.requests.append(body)
                self._send(200, owner.completion(body))

            def _send(self, status, payload, retry=False):
                data = json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                if retry:
                    self.send_header("retry-after-ms", "10")
                self.end_headers()
                self.wfile.write(data)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/v1"

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

    def __enter__(self) -> FakeOpenAIServer:
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.server.shutdown()
        self.server.server_close()


def test_openai_judge_end_to_end(tmp_path, prompts):  # noqa: F811
    outputs = model_outputs(prompts, tmp_path)
    out = tmp_path / "annotations.json"
    with FakeOpenAIServer() as server:
        judge = judge_cfg(backend="openai", method="weighted", base_url=server.base_url)
        result = annotate_cli(judge, prompts, outputs, tmp_path, OPENAI_API_KEY=CANARY_KEY, OPENAI_MAX_CONCURRENCY="1")
    assert result.returncode == 0, result.stderr[-3000:]
    n = len(pd.read_parquet(prompts))
    assert server.rate_limited == 1 and len(server.requests) == n  # the 429 was retried
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
