"""Figures: matplotlib without a display, and PNGs written atomically (the plots and sweep steps)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from .io import atomic_path


def pyplot() -> Any:
    """matplotlib.pyplot on the Agg backend (no display on compute nodes)."""
    import matplotlib

    matplotlib.use("Agg")  # no display on compute nodes
    import matplotlib.pyplot as plt

    return plt


def save_figure(fig: Any, out: Path) -> None:
    """Write `fig` as a PNG, atomically, and close it."""
    with atomic_path(out) as tmp:
        fig.savefig(tmp, format="png", dpi=120, bbox_inches="tight")
    pyplot().close(fig)
