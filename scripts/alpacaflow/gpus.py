"""GPU device allocation for concurrent jobs on one machine.

Snakemake's ``--resources gpu=2`` only counts GPUs; it does not say which
GPU a job gets, so two generate jobs would both land on GPU 0. Before vLLM or
torch starts, each job calls `claim_gpus`:

* when ``CUDA_VISIBLE_DEVICES`` is already set (SLURM and other schedulers
  set it for the job), it is respected as is;
* otherwise free device ids are picked with one file lock per device
  (``fcntl.flock`` on ``<lock dir>/gpu<i>.lock``), held for the life of the
  process, and ``CUDA_VISIBLE_DEVICES`` is set to them. A job that needs
  more devices than are free waits until enough are. The kernel drops a
  flock when its process dies, so a killed job never leaves a device taken.

The device count comes from ``ALPACAFLOW_GPU_COUNT`` when set (tests fake
devices with it), else from ``nvidia-smi -L``. The lock folder is
``ALPACAFLOW_GPU_LOCK_DIR``, by default ``/tmp/alpacaflow-gpu-locks``.
"""

from __future__ import annotations

import fcntl
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import IO

from .errors import AlpacaflowError

DEFAULT_LOCK_DIR = "/tmp/alpacaflow-gpu-locks"

#: Open lock files of this process; kept referenced so the locks live as long as it does.
_HELD: list[IO[str]] = []


def device_count() -> int:
    """GPUs on this machine (``ALPACAFLOW_GPU_COUNT`` overrides)."""
    forced = os.environ.get("ALPACAFLOW_GPU_COUNT")
    if forced is not None:
        return int(forced)
    if shutil.which("nvidia-smi") is None:
        return 0
    result = subprocess.run(["nvidia-smi", "-L"], capture_output=True, text=True, check=False)
    return sum(1 for line in result.stdout.splitlines() if line.startswith("GPU "))


def _try_lock(path: Path) -> IO[str] | None:
    handle = path.open("a+")
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        handle.close()
        return None
    return handle


def _try_claim(n: int, total: int, lock_dir: Path) -> list[tuple[int, IO[str]]]:
    """Lock `n` free devices at once, or none."""
    claimed: list[tuple[int, IO[str]]] = []
    for device in range(total):
        handle = _try_lock(lock_dir / f"gpu{device}.lock")
        if handle is not None:
            claimed.append((device, handle))
            if len(claimed) == n:
                return claimed
    for _, handle in claimed:
        handle.close()  # releases the lock
    return []


def claim_gpus(n: int, poll_seconds: float = 1.0, timeout: float | None = None) -> list[int]:
    """Give this process `n` GPUs and set ``CUDA_VISIBLE_DEVICES``; returns the device ids.

    Call before anything initializes CUDA. With n = 0 nothing happens.
    """
    if n <= 0:
        return []
    preset = os.environ.get("CUDA_VISIBLE_DEVICES")
    if preset:
        return [int(d) if d.isdigit() else d for d in preset.split(",")]  # type: ignore[misc]
    total = device_count()
    if total < n:
        raise AlpacaflowError(f"this job needs {n} GPU(s) but the machine has {total}")
    lock_dir = Path(os.environ.get("ALPACAFLOW_GPU_LOCK_DIR", DEFAULT_LOCK_DIR))
    lock_dir.mkdir(parents=True, exist_ok=True)
    start = time.monotonic()
    announced = False
    while True:
        claimed = _try_claim(n, total, lock_dir)
        if claimed:
            break
        if timeout is not None and time.monotonic() - start > timeout:
            raise AlpacaflowError(f"no {n} free GPU(s) within {timeout:.0f} s (locks in {lock_dir})")
        if not announced:
            print(f"waiting for {n} free GPU(s) (locks in {lock_dir})", file=sys.stderr, flush=True)
            announced = True
        time.sleep(poll_seconds)
    _HELD.extend(handle for _, handle in claimed)
    devices = [device for device, _ in claimed]
    os.environ["CUDA_VISIBLE_DEVICES"] = ",".join(str(d) for d in devices)
    print(f"using GPU(s) {os.environ['CUDA_VISIBLE_DEVICES']}", file=sys.stderr, flush=True)
    return devices
