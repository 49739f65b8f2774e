"""Profile one benchmark variant after its warm-up: py-spy on the worker process, warmed-up calls only.

Usage (after ``make bench`` has built bench/models/)::

    python bench/benchprofile.py vllm bench/models/chat-2l --tokens 64 --prompts 256 --calls 3

It starts the variant's worker (`benchharness.Worker`), runs one untimed warm-up
call, attaches ``py-spy record`` (``pip install py-spy``) to the worker for
``--calls`` more calls, and prints the functions with the most samples, by
own time and including callees (``--top``). The raw profile is kept
(``--out``, py-spy's collapsed-stack text) for a flame graph. bench/NOTES.md
quotes such profiles.
"""

from __future__ import annotations

import argparse
import collections
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

BENCH = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH.parent / "scripts"))
from benchharness import Worker  # noqa: E402

from bench import OWNER, cpu_plan, worker_spec  # noqa: E402


def frames(line: str) -> tuple[list[str], int]:
    """One collapsed stack line: its frames (outermost first) and its sample count."""
    stack, _, count = line.rpartition(" ")
    return stack.split(";"), int(count)


def top_functions(collapsed: Path, top: int) -> tuple[list[tuple[str, float]], list[tuple[str, float]]]:
    """(own, inclusive) shares of samples for the `top` functions of a py-spy collapsed profile."""
    own: collections.Counter[str] = collections.Counter()
    inclusive: collections.Counter[str] = collections.Counter()
    total = 0
    for line in collapsed.read_text(encoding="utf-8").splitlines():
        if not line.strip():
            continue
        stack, count = frames(line)
        total += count
        own[stack[-1]] += count
        for frame in set(stack):
            inclusive[frame] += count
    share = max(total, 1)
    return (
        [(f, n / share) for f, n in own.most_common(top)],
        [(f, n / share) for f, n in inclusive.most_common(top)],
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("variant", choices=sorted(OWNER))
    parser.add_argument("model", type=Path)
    parser.add_argument("--tokens", type=int, default=64)
    parser.add_argument("--prompts", type=int, default=256)
    parser.add_argument("--calls", type=int, default=3)
    parser.add_argument("--top", type=int, default=15)
    parser.add_argument("--out", type=Path, default=BENCH / "logs" / "profile.txt")
    args = parser.parse_args()
    if shutil.which("py-spy") is None:
        raise SystemExit("profile: py-spy not found (pip install py-spy)")
    spec = worker_spec(cpu_plan(1, [], [], 100), OWNER[args.variant], args.model, "demo")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    with Worker(spec, BENCH / "logs" / f"profile-{args.variant}.log") as worker:
        request = {"op": "time", "variant": args.variant, "tokens": args.tokens, "prompts": args.prompts}
        worker.call(**request)  # warm-up, not profiled
        spy = subprocess.Popen(
            ["py-spy", "record", "--pid", str(worker.proc.pid), "--format", "raw", "--output", str(args.out),
             "--rate", "200", "--nonblocking"],
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
        )  # fmt: skip
        time.sleep(1.0)  # py-spy attaches
        walls = [worker.call(**request)["wall_s"] for _ in range(args.calls)]
        spy.send_signal(signal.SIGINT)
        spy.wait(timeout=60)
        worker.close()
    own, inclusive = top_functions(args.out, args.top)
    print(f"{args.variant}, {args.tokens} tokens x {args.prompts} prompts, {args.calls} warmed-up calls: "
          + ", ".join(f"{w:.2f} s" for w in walls))  # fmt: skip
    print("\nown time:")
    for name, share in own:
        print(f"  {share:6.1%}  {name}")
    print("\nincluding callees:")
    for name, share in inclusive:
        print(f"  {share:6.1%}  {name}")


if __name__ == "__main__":
    main()
