"""A stand-in Arena-Hard and MT-Bench judge for the offline demo and the tests: an OpenAI-compatible server.

A test double, named as such: the official judges (GPT-4-1106-preview,
GPT-4.1) are API models that the demo and CI cannot reach, and a tiny
random model writes no verdict. This server answers chat completions like
the real API (the code under test is alpacaflow's real OpenAI judge path)
with a verdict that depends on the two answers, so that models' scores
differ: it finds them with the version's user-prompt template (from the
config file given) and draws the verdict from a hash of the pair, the same
whichever answer is shown first (`verdict`). An MT-Bench grading (the
stand-in prompts of test/demo/mt_bench/ mark the graded answer with
`GRADED`) gets a rating drawn from a hash of the answer (`rating`), none
for an empty answer (an unparsable grading). Every response reports the
model asked for.

``python -m alpacaflow.testing.judge_server --config CONFIG.yaml [--port N]``
serves until stopped (SIGTERM, Ctrl-C) and prints its base URL.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import re
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import yaml


def answer_pattern(template: str) -> re.Pattern[str]:
    """A pattern that finds the two answers in a user prompt filled from `template`."""
    parts = re.split(r"(\{QUESTION\}|\{ANSWER_A\}|\{ANSWER_B\})", template)
    groups = {"{QUESTION}": "(?P<q>.*)", "{ANSWER_A}": "(?P<a>.*)", "{ANSWER_B}": "(?P<b>.*)"}
    return re.compile("".join(groups.get(p, re.escape(p)) for p in parts), re.S)


#: The verdicts a stand-in draws from, the first answer's view: much better, better, tie, worse, much worse.
VERDICTS = (">>", ">", "=", "<", "<<")


def verdict(answer_a: str, answer_b: str) -> str:
    """A verdict drawn from a hash of the two answers, the same for the pair in either order (no position bias).

    Any change of either answer can change it, so models with other answers get other scores.
    """
    first, second = sorted((answer_a.strip(), answer_b.strip()))
    drawn = VERDICTS[hashlib.sha256(f"{first}\0{second}".encode()).digest()[0] % len(VERDICTS)]
    if first == second or drawn == "=":
        return "A=B"
    better = first if drawn.startswith(">") else second
    label = "A" if better == answer_a.strip() else "B"
    return f"{label}{'>>' if len(drawn) == 2 else '>'}{'B' if label == 'A' else 'A'}"


#: Where the stand-in MT-Bench grading prompts put the answer to grade.
GRADED = re.compile(r"### Answer to grade\n(?P<answer>.*)\n### End of answer", re.S)


def rating(answer: str) -> int | None:
    """A rating 1-10 drawn from a hash of the answer; None for an empty one (no rating written)."""
    if not answer.strip():
        return None
    return 1 + hashlib.sha256(answer.strip().encode()).digest()[0] % 10


def reply(content: str, pattern: re.Pattern[str]) -> str:
    """The stand-in's judgment of a user prompt: an Arena-Hard verdict, an MT-Bench rating, or none ("?")."""
    found = pattern.fullmatch(content)
    if found:
        label = verdict(found["a"], found["b"])
        return f"A stand-in's verdict, drawn from the two answers. My final verdict is: [[{label}]]"
    graded = GRADED.search(content)
    score = rating(graded["answer"]) if graded else None
    return f"A stand-in's grade, drawn from the answer. Rating: [[{score}]]" if score is not None else "?"


class LocalServer:
    """An HTTP server on 127.0.0.1 (any free port by default), served from a daemon thread inside its context.

    The plumbing of the test doubles of the OpenAI API: this module's and the tests' own.
    """

    def __init__(self, handler: type[BaseHTTPRequestHandler], port: int = 0) -> None:
        self.server = ThreadingHTTPServer(("127.0.0.1", port), handler)

    @property
    def port(self) -> int:
        return self.server.server_address[1]

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    def __enter__(self) -> Any:
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()


class StandinJudgeServer(LocalServer):
    """The server: start with a context manager (or `serve`); `port` once started."""

    def __init__(self, template: str, port: int = 0) -> None:
        pattern = answer_pattern(template)
        self.requests: list[dict[str, Any]] = []
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:  # quiet
                pass

            def do_POST(self) -> None:  # noqa: N802 (http.server's name)
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                owner.requests.append(body)
                text = reply(body["messages"][-1]["content"], pattern)
                payload = {"id": "standin", "object": "chat.completion", "created": 0, "model": body["model"],
                           "choices": [{"index": 0, "finish_reason": "stop",
                                        "message": {"role": "assistant", "content": text}}],
                           "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2}}  # fmt: skip
                data = json.dumps(payload).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        super().__init__(Handler, port)


def template_of(config: Path) -> str:
    """The user-prompt template of an Arena-Hard version's config file."""
    return yaml.safe_load(Path(config).read_text(encoding="utf-8"))["prompt_template"]


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", type=Path, required=True, help="the version's config/arena-hard-<v>.yaml")
    parser.add_argument("--port", type=int, default=0, help="the port on 127.0.0.1 (0: any free one)")
    args = parser.parse_args(argv)
    server = StandinJudgeServer(template_of(args.config), port=args.port)
    print(f"stand-in Arena-Hard judge at {server.base_url}", flush=True)
    try:
        server.server.serve_forever()
    finally:
        server.server.server_close()


if __name__ == "__main__":
    main()
