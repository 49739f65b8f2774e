"""A synthetic prompt set of AlpacaEval's shape, for tests and benchmarks at the real workload's size.

The real AlpacaEval set cannot be downloaded here (the hub is unreachable), so
the realistic test tier and ``bench/realistic.py`` use a seeded, generated one
with the same shape: 805 prompts in AlpacaEval's order and subset counts
(`SUBSETS`), instructions from 12 to 1,900 characters (median about 100),
reference answers from a few characters to 6,600 (mean about 2,050), in
English-like text with lists, code, numbers and some non-ASCII characters, so
that a real tokenizer sees realistic token counts. The words mean nothing.

`write_synthetic_set` writes ``prompts.json`` (AlpacaEval format), a
matching ``df_gamed.csv`` shaped like alpaca_eval's (two made-up "gamed"
baselines, a made-up difficulty per prompt) that also carries each index's
``instruction``, so that the length-controlled win rate accepts this set as
the one its indices describe (`leaderboard.lc_check`), and
``official_annotations.json``, a stand-in for published official annotations
of some prompts (for ``validate_judge``). Their numbers mean nothing.

Usage: ``python -m alpacaflow.synthetic OUT_DIR [--n 805] [--seed 0]``.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:  # pandas is imported where a table is built (the GPU benchmark runs without it)
    import pandas as pd


#: AlpacaEval's subsets, in its order, with their prompt counts (805 in all).
SUBSETS = [("helpful_base", 129), ("koala", 156), ("oasst", 188), ("selfinstruct", 252), ("vicuna", 80)]
INSTRUCTION_CHARS = (12, 1900)  # shortest and longest instruction
REFERENCE_CHARS = (4, 6600)  # shortest and longest reference answer
REFERENCE_GENERATOR = "synthetic_reference"

_WORDS = (
    "the of and to in is that for it as with was on be by this are from or at an have not which but they "
    "you all can more one will there their what about would so if when up out other many some time these "
    "people water could first make like been number way new system data model answer question example "
    "results process value simple common small large important different following given using without "
    "between because during should each every where while before after through under again however "
    "therefore although research history science language market energy health design method problem "
    "result service quality student teacher family friend city country government company product "
    "customer network software function variable string list table file image sound color weather "
    "recipe garden travel music story poem letter email essay summary review plan budget schedule "
    "explain describe compare create write improve consider provide include suggest choose imagine "
    "calculate translate identify classify generate analyze evaluate organize prepare support develop "
    "quickly carefully clearly usually often always never probably especially directly easily together "
    "bright quiet ancient modern careful honest useful strong gentle curious rapid steady rich narrow"
).split()
_OPENERS = [
    "Write a {n} about {t}.",
    "Explain how {t} works.",
    "What is the difference between {t} and {u}?",
    "Give me a list of {n}s related to {t}.",
    "How do I {v} a {t}?",
    "Can you {v} this {n} for me?",
    "Describe the {n} of {t} in simple terms.",
    "Why is {t} important for {u}?",
    "I need help with {t}.",
    "Summarize the following {n}.",
]
_EXTRAS = ["café", "naïve", "über", "résumé", "日本語", "中文", "—", "€", "°C", "→", "🙂", "½"]


def _words(rng: np.random.Generator, n: int) -> list[str]:
    return [str(w) for w in rng.choice(_WORDS, size=n)]


def _sentence(rng: np.random.Generator) -> str:
    words = _words(rng, int(rng.integers(6, 18)))
    if rng.random() < 0.08:
        words.insert(int(rng.integers(0, len(words))), str(rng.choice(_EXTRAS)))
    if rng.random() < 0.15:
        words.insert(int(rng.integers(0, len(words))), str(int(rng.integers(0, 5000))))
    text = " ".join(words)
    return text[0].upper() + text[1:] + str(rng.choice([".", ".", ".", "?", "!"]))


def _block(rng: np.random.Generator) -> str:
    """A paragraph, a bulleted or numbered list, or a code block."""
    kind = rng.random()
    if kind < 0.6:
        return " ".join(_sentence(rng) for _ in range(int(rng.integers(2, 6))))
    if kind < 0.85:
        items = [_sentence(rng) for _ in range(int(rng.integers(3, 7)))]
        numbered = rng.random() < 0.5
        return "\n".join(f"{i + 1}. {s}" if numbered else f"- {s}" for i, s in enumerate(items))
    names = _words(rng, 4)
    body = [f"def {names[0]}_{names[1]}({names[2]}, {names[3]}=None):"]
    pairs = zip(_words(rng, 3), _words(rng, 3), strict=True)
    body += [f"    {w} = {names[2]}.get('{v}', {int(rng.integers(0, 99))})" for w, v in pairs]
    body.append(f"    return {names[2]}")
    return "```python\n" + "\n".join(body) + "\n```"


def _text(rng: np.random.Generator, chars: int, opener: str = "") -> str:
    """English-like text of exactly `chars` characters (cut there), starting with `opener`."""
    parts = [opener] if opener else []
    while len("\n\n".join(parts)) < chars:
        parts.append(_block(rng) if parts else _sentence(rng))
    text = "\n\n".join(parts)[:chars]
    return text[:-1] + "." if text[-1].isspace() else text


def _lengths(rng: np.random.Generator, n: int) -> tuple[np.ndarray, np.ndarray]:
    """Instruction and reference lengths with AlpacaEval's spread (seeded)."""
    instructions = np.clip(np.exp(rng.normal(np.log(100), 0.95, n)), *INSTRUCTION_CHARS).astype(int)
    references = np.clip(rng.gamma(2.4, 2050 / 2.4, n), *REFERENCE_CHARS).astype(int)
    # The extremes occur once each, at places that differ by subset.
    instructions[[int(rng.integers(0, n)), int(rng.integers(0, n))]] = INSTRUCTION_CHARS
    references[[int(rng.integers(0, n)), int(rng.integers(0, n))]] = REFERENCE_CHARS
    return instructions, references


def synthetic_prompts(n: int = 805, seed: int = 0) -> list[dict[str, Any]]:
    """`n` prompt records (instruction, output, generator, dataset) in AlpacaEval's subset order."""
    rng = np.random.default_rng(seed)
    total = sum(count for _, count in SUBSETS)
    datasets = [name for name, count in SUBSETS for _ in range(count)]
    datasets = [datasets[int(i * total / n)] for i in range(n)]  # the same proportions for other sizes
    instruction_chars, reference_chars = _lengths(rng, n)
    seen: set[str] = set()
    records = []
    for i in range(n):
        instruction = ""
        while not instruction or instruction in seen:  # unique instructions, as AlpacaEval's are
            t, u = _words(rng, 2)
            opener = str(rng.choice(_OPENERS)).format(n=rng.choice(_WORDS), t=t, u=u, v=rng.choice(_WORDS))
            instruction = _text(rng, int(instruction_chars[i]), opener)
        seen.add(instruction)
        output = _text(rng, int(reference_chars[i]))
        records.append(
            {"instruction": instruction, "output": output, "generator": REFERENCE_GENERATOR, "dataset": datasets[i]}
        )
    return records


def synthetic_df_gamed(records: list[dict[str, Any]], seed: int = 0) -> pd.DataFrame:
    """A df_gamed.csv table for `records`: alpaca_eval's columns plus each index's instruction."""
    import pandas as pd

    rng = np.random.default_rng(seed + 1)
    n = len(records)
    difficulty = rng.normal(0, 1, n)
    frames = []
    for model, shift in (("synthetic_gamed_verbose", 1.5), ("synthetic_gamed_concise", -1.5)):
        std_delta_len = rng.normal(shift, 0.5, n)
        p = 1 / (1 + np.exp(-(np.tanh(std_delta_len) + difficulty)))
        frames.append(
            pd.DataFrame(
                {
                    "model": model,
                    "index": np.arange(n),
                    "preference": (rng.random(n) < p).astype(float),
                    "std_delta_len": std_delta_len.round(6),
                    "instruction_difficulty": difficulty.round(6),
                    "not_gamed_baseline": False,
                    "instruction": [r["instruction"] for r in records],
                }
            )
        )
    return pd.concat(frames, ignore_index=True)


def synthetic_official_annotations(records: list[dict[str, Any]], n: int = 50, seed: int = 0) -> list[dict[str, Any]]:
    """Made-up "official" annotations of `n` of the prompts (every 16th), as alpaca_eval publishes them."""
    rng = np.random.default_rng(seed + 2)
    picked = records[:: max(1, len(records) // n)][:n]
    return [
        {
            "instruction": r["instruction"],
            "output_1": r["output"],
            "generator_1": r["generator"],
            "dataset": r["dataset"],
            "output_2": _text(rng, int(rng.integers(20, 3000))),
            "generator_2": "synthetic_published_model",
            "annotator": "synthetic_stand_in_official_judge",
            "preference": round(float(rng.uniform(1.0, 2.0)), 4),
        }
        for r in picked
    ]


def write_synthetic_set(out_dir: Path, n: int = 805, seed: int = 0) -> dict[str, Path]:
    """Write ``prompts.json``, ``df_gamed.csv`` and ``official_annotations.json`` into `out_dir`."""
    from ..io import write_json, write_text  # io needs pandas; the prompts alone do not

    out_dir = Path(out_dir)
    records = synthetic_prompts(n, seed)
    paths = {name: out_dir / name for name in ("prompts.json", "df_gamed.csv", "official_annotations.json")}
    write_json(paths["prompts.json"], records)
    write_text(paths["df_gamed.csv"], synthetic_df_gamed(records, seed).to_csv(index=False))
    write_json(paths["official_annotations.json"], synthetic_official_annotations(records, seed=seed))
    return paths


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out_dir", type=Path)
    parser.add_argument("--n", type=int, default=805)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    for path in write_synthetic_set(args.out_dir, args.n, args.seed).values():
        print(f"wrote {path}")


if __name__ == "__main__":
    main()
