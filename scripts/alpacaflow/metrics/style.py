r"""Arena-Hard-Auto's style control: answers' style metadata, and the style-controlled score per model.

As the official pipeline computes them (github.com/lmarena/arena-hard-auto at
the pinned revision: utils/add_markdown_info.py, show_result.py
``print_leaderboard_with_style_features`` with ``-f markdown length``, and
utils/math_utils.py):

* `answer_metadata`: ``token_len``, the answer's tokens under tiktoken's
  ``o200k_base`` (``encoding_for_model("gpt-4o")``, special tokens encoded as
  text), then the header (h1-h6), list (ordered, unordered) and bold (``**``,
  ``__``) counts of the answer with code removed. The official removal keeps
  a quirk, kept here: ``re.findall("```([^`]*)```")`` yields each block's
  *inside*, and each inside is replaced by "" everywhere in the answer (the
  fences stay);
* `style_features`: per battle, from the model's and the baseline's
  metadata (each count group summed): the length feature
  ``(Lm - Lb) / (Lm + Lb)``, and per markdown group its density
  ``count / (token_len + 1)`` turned into ``(dm - db) / (dm + db + 1)``; each
  column then standardised over the battles (mean, and ``torch.std``'s
  unbiased standard deviation);
* `style_scores`: a Bradley-Terry model over every model of the category at
  once: one column per model (+1 for the battle's model, -1 for the
  baseline) and the four style columns, fitted by torch's L-BFGS (logits
  initialised to 0.5, lr 0.1, 50 iterations, tolerances 1e-9) on the summed
  binary cross-entropy of the battles' outcomes; 100 bootstrap resamples of
  the battles; a model's win rate against the baseline
  ``exp(c_m) / (exp(c_m) + exp(c_b))`` per resample; the score is the median,
  the interval the 5% and 95% quantiles. Seeded here (the official one is not).

Where a style column has no spread over the battles (the official script
stops on the NaN), the style-controlled score is NaN.
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from .arena import LOWER, ROUNDS, UPPER, record_battles

#: What the official code fence removal finds: each fenced block's inside (not the fences).
CODE_BLOCK = re.compile("```([^`]*)```")
#: The Bradley-Terry fit's settings (math_utils.fit_pairwise_model's defaults).
LR, MAX_ITER, TOLERANCE, INIT = 0.1, 50, 1e-9, 0.5


def markdown_counts(answer: str) -> dict[str, dict[str, int]]:
    """The header, list and bold counts of an answer, its code blocks' insides removed as the official code does."""
    for block in CODE_BLOCK.findall(answer):
        answer = answer.replace(block, "")
    count = lambda pattern, flags=0: len(re.findall(pattern, answer, flags))  # noqa: E731
    return {
        "header_count": {f"h{n}": count(rf"^#{{{n}}}\s", re.MULTILINE) for n in range(1, 7)},
        "list_count": {
            "ordered": count(r"^\s*\d+\.\s", re.MULTILINE),
            "unordered": count(r"^\s*[-*+]\s", re.MULTILINE),
        },
        "bold_count": {"**": count(r"\*\*[^*\n]+\*\*"), "__": count(r"__[^_\n]+__")},
    }


def tiktoken_encoder(cache_dir: str | Path) -> Any:
    """The tiktoken encoding for ``gpt-4o`` (o200k_base), read from `cache_dir` (tiktoken's cache; no download).

    The folder holds the encoding file under tiktoken's cache name (see
    `arena_hard.ENCODING_URL`); tiktoken checks its SHA-256 itself.
    """
    import tiktoken

    os.environ["TIKTOKEN_CACHE_DIR"] = str(cache_dir)
    return tiktoken.encoding_for_model("gpt-4o")


def answer_metadata(answer: str, encoder: Any) -> dict[str, Any]:
    """An answer's style metadata as the official ``model_answer`` files carry it: token_len, then the counts."""
    return {"token_len": len(encoder.encode(answer, disallowed_special=())), **markdown_counts(answer)}


def folder_metadata(folder: Path) -> dict[str, dict[str, dict[str, Any]]]:
    """Each answer's metadata in an official ``model_answer`` folder: model -> uid -> metadata (the official lookup)."""
    found: dict[str, dict[str, dict[str, Any]]] = {}
    for path in sorted(folder.glob("*.jsonl")):
        for line in path.read_text(encoding="utf-8").split("\n"):  # not splitlines: answers may hold U+2028
            if line.strip():
                record = json.loads(line)
                found.setdefault(record["model"], {})[record["uid"]] = record["metadata"]
    return found


def feature_vector(metadata: dict[str, Any]) -> list[float]:
    """A metadata dict as the official fit reads it: each value in order, a count group summed."""
    return [float(v) if isinstance(v, int | float) else float(sum(v.values())) for v in metadata.values()]


def style_features(model: np.ndarray, baseline: np.ndarray) -> np.ndarray:
    """The battles' standardised style columns from the model's and the baseline's feature vectors (rows)."""
    out = np.zeros_like(model, dtype=np.float32)
    model, baseline = model.astype(np.float32), baseline.astype(np.float32)
    with np.errstate(divide="ignore", invalid="ignore"):
        out[:, 0] = (model[:, 0] - baseline[:, 0]) / (model[:, 0] + baseline[:, 0])
        dm = model[:, 1:] / (model[:, :1] + 1)
        db = baseline[:, 1:] / (baseline[:, :1] + 1)
        out[:, 1:] = (dm - db) / (dm + db + 1)
        std = out.std(axis=0, ddof=1) if len(out) > 1 else np.full(out.shape[1], np.nan, dtype=np.float32)
        return (out - out.mean(axis=0)) / std


def fit_bradley_terry(features: Any, outcomes: Any) -> Any:
    """One Bradley-Terry fit (torch L-BFGS on the summed BCE-with-logits), as the official ``fit_pairwise_model``."""
    import torch

    logits = torch.nn.Parameter(torch.full((features.shape[1],), INIT))
    optimizer = torch.optim.LBFGS([logits], lr=LR, max_iter=MAX_ITER, tolerance_grad=TOLERANCE,
                                  tolerance_change=TOLERANCE)  # fmt: skip

    def closure() -> Any:
        optimizer.zero_grad()
        loss = torch.nn.functional.binary_cross_entropy_with_logits(features @ logits, outcomes, reduction="sum")
        loss.backward()
        return loss

    optimizer.step(closure)
    return logits.detach()


def style_scores(battles: pd.DataFrame, baseline: str, *, rounds: int = ROUNDS, seed: int = 0) -> pd.DataFrame:
    """Each model's style-controlled score (%) and interval against `baseline`, fitted jointly.

    `battles` has one row per battle: ``model``, ``outcome`` (the model's: 1,
    0.5 or 0), ``model_features`` and ``baseline_features`` (`feature_vector`s).
    """
    import torch

    style = style_features(np.stack(battles["model_features"].to_list()),
                           np.stack(battles["baseline_features"].to_list()))  # fmt: skip
    models = sorted(set(battles["model"]) | {baseline})
    if np.isnan(style).any():
        return pd.DataFrame({"model": [m for m in models if m != baseline], "style_score": np.nan,
                             "style_ci_low": np.nan, "style_ci_high": np.nan})  # fmt: skip
    onehot = np.zeros((len(battles), len(models)), dtype=np.float32)
    onehot[np.arange(len(battles)), [models.index(m) for m in battles["model"]]] = 1
    onehot[:, models.index(baseline)] = -1
    features = torch.tensor(np.concatenate([onehot, style], axis=1))
    outcomes = torch.tensor(battles["outcome"].to_numpy(dtype=np.float32))
    samples = np.random.default_rng(seed).integers(0, len(battles), size=(rounds, len(battles)))
    coefs = torch.stack([fit_bradley_terry(features[idx], outcomes[idx]) for idx in samples])[:, : len(models)]
    rates = torch.exp(coefs) / (torch.exp(coefs) + torch.exp(coefs[:, models.index(baseline)]).unsqueeze(1))
    table = pd.DataFrame(rates.numpy().astype(float), columns=models).drop(columns=baseline)
    return pd.DataFrame({"model": table.columns, "style_score": 100 * table.quantile(0.5).to_numpy(),
                         "style_ci_low": 100 * table.quantile(LOWER).to_numpy(),
                         "style_ci_high": 100 * table.quantile(UPPER).to_numpy()})  # fmt: skip


def battle_table(records: list[dict[str, Any]], metadata: dict[str, dict[str, dict[str, Any]]]) -> pd.DataFrame:
    """The battles of judgment records (any models, one category) with both answers' style feature vectors.

    `metadata` maps an answer file's model (the records' ``model`` and
    ``baseline``) to its metadata per question ``uid``; questions left out of
    the score (a game without a label) are left out here too.
    """
    rows = []
    for record in records:
        outcomes = record_battles(record)
        if outcomes is None:
            continue
        own = feature_vector(metadata[record["model"]][record["uid"]])
        base = feature_vector(metadata[record["baseline"]][record["uid"]])
        rows += [{"model": record["model"], "outcome": o, "model_features": own, "baseline_features": base}
                 for o in outcomes]  # fmt: skip
    return pd.DataFrame(rows, columns=["model", "outcome", "model_features", "baseline_features"])
