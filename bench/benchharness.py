"""The benchmark's timing protocol: long-lived worker processes, an interleaved schedule, medians.

Each engine (a transformers model, a vLLM engine, a judge) lives in its own
worker process (`bench/benchworker.py`) for the whole run: it is loaded once, then
answers timing requests one JSON line at a time, idle in between. The driver
walks a `schedule`: one warm-up round, then the timed repeats, every
round visiting every case and variant, the variants in a rotated order each
round, so that machine noise and position in the round hit all variants alike.
`summarize` turns the timed repeats into medians and spreads; on a GPU it
also keeps each variant's first (cold) call, the warm-up round, apart.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO

BENCH = Path(__file__).resolve().parent
REPO = BENCH.parent


@dataclass(frozen=True)
class Step:
    """One call of a variant on a case in one round (round 0 is the warm-up)."""

    round: int
    case: Any
    variant: str

    @property
    def warm_up(self) -> bool:
        return self.round == 0


def schedule(cases: Sequence[Any], variants: Sequence[str], repeats: int) -> list[Step]:
    """Warm-up round, then `repeats` timed rounds (0: the warm-up alone); each round every case, variants rotated."""
    if repeats < 0:
        raise ValueError("no negative repeats")
    steps = []
    for r in range(repeats + 1):
        shift = r % len(variants)
        order = list(variants[shift:]) + list(variants[:shift])
        steps += [Step(r, case, v) for case in cases for v in order]
    return steps


def spread(values: Sequence[float]) -> dict[str, float]:
    """Median, min and max of timed repeats."""
    return {"median": statistics.median(values), "min": min(values), "max": max(values), "n": len(values)}


def summarize(
    records: list[dict[str, Any]], key: tuple[str, ...], value: str = "wall_s", *, first_call: bool = False
) -> list[dict[str, Any]]:
    """Records grouped by `key` fields: the first timed record's fields plus `value`'s spread over the timed ones.

    Warm-ups are left out; with `first_call` (GPU) the warm-up, a variant's
    first call, is kept as ``first_call_s`` beside ``warm_calls`` (how many
    timed calls followed), and a variant with none is summarized by its first
    call alone.
    """
    groups: dict[tuple, list[dict[str, Any]]] = {}
    for rec in records:
        if first_call or not rec.get("warm_up"):
            groups.setdefault(tuple(rec[k] for k in key), []).append(rec)
    out = []
    for rows in groups.values():
        timed = [r for r in rows if not r.get("warm_up")]
        row = dict((timed or rows)[0])
        row.pop("warm_up", None)
        row[value] = spread([r[value] for r in timed or rows])
        if first_call:
            cold = [r[value] for r in rows if r.get("warm_up")]
            row.update(first_call_s=cold[0] if cold else None, warm_calls=len(timed))
        out.append(row)
    return out


class WorkerError(RuntimeError):
    """A worker process failed (its log holds the traceback)."""


class Worker:
    """A `bench/benchworker.py` process holding one engine; `call` sends one request and waits for its answer."""

    def __init__(self, spec: dict[str, Any], log: Path) -> None:
        self.spec, self.log = spec, log
        log.parent.mkdir(parents=True, exist_ok=True)
        self._log_file: TextIO = log.open("a", encoding="utf-8")
        # Local models only: nothing may reach the hub.
        # (and any PYTHONPATH of the caller's after ours: `make bench-gpu-local` puts the carried wheels there)
        path = os.pathsep.join(p for p in (str(REPO / "scripts"), str(BENCH), os.environ.get("PYTHONPATH")) if p)
        env = {**os.environ, "PYTHONPATH": path, "HF_HUB_OFFLINE": "1"}
        self.proc = subprocess.Popen(
            [sys.executable, str(BENCH / "benchworker.py"), json.dumps(spec)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self._log_file,
            text=True,
            env=env,
        )
        self.ready = self._read()  # the engine is loaded: load_s, device name, ...

    def _read(self) -> dict[str, Any]:
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline()
        if not line:
            self.proc.wait(timeout=60)
            raise WorkerError(f"worker {self.spec.get('kind')} exited ({self.proc.returncode}): {self._tail()}")
        answer = json.loads(line)
        if "error" in answer:
            raise WorkerError(f"worker {self.spec.get('kind')}: {answer['error']} (log: {self.log})")
        return answer

    def _tail(self) -> str:
        self._log_file.flush()
        lines = self.log.read_text(encoding="utf-8", errors="replace").strip().splitlines()
        return " | ".join(lines[-3:]) + f" (log: {self.log})"

    def call(self, **request: Any) -> dict[str, Any]:
        """Send one request (``op`` and its arguments); its answer."""
        assert self.proc.stdin is not None
        self.proc.stdin.write(json.dumps(request) + "\n")
        self.proc.stdin.flush()
        return self._read()

    def take_turn(self, last: Worker | None) -> Worker:
        """Before timing in this worker: if another worker ran last, one untimed prompt here first.

        A worker idle while another had the CPU finds its threads asleep and its
        caches cold; without this its first call after a switch is slower (measured
        1.5x on a 0.1 s call), which would fall on whichever variant the schedule
        puts first after the switch.
        """
        if last is not self:
            self.call(op="wake")
        return self

    def close(self) -> dict[str, Any]:
        """Stop the worker (its engine shut down); its last answer (peak RSS)."""
        try:
            last = self.call(op="stop") if self.proc.poll() is None else {}
            self.proc.wait(timeout=120)
            return last
        finally:
            self.kill()

    def __enter__(self) -> Worker:
        return self

    def kill(self) -> None:
        """Stop the worker now, whatever it is doing (after an error; `close` is the orderly way)."""
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        if not self._log_file.closed:
            self._log_file.close()

    def __exit__(self, *exc: object) -> None:
        self.kill()
