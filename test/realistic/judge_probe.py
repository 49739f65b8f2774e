"""Judge pairs through alpacaflow's real judge path and print the token ids vLLM itself decoded from.

Used by test/test_realistic.py: ``python judge_probe.py JUDGE_JSON PAIRS_JSON CACHE_DIR``. It wraps
``vllm.LLM.generate`` to record each request's ``prompt`` and ``prompt_token_ids`` (what the engine tokenized,
or was given), runs `alpacaflow.judge.judge_pairs`, and prints the records as one JSON line. A script,
not an import: code that builds `vllm.LLM` runs under the ``__main__`` guard.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pandas as pd


def main() -> None:
    import vllm
    from alpacaflow.judge import judge_pairs

    judge, pairs_path, cache_dir = json.loads(sys.argv[1]), Path(sys.argv[2]), Path(sys.argv[3])
    seen: list[dict] = []
    generate = vllm.LLM.generate

    def recording_generate(self, *args, **kwargs):  # noqa: ANN001, ANN002, ANN003, ANN202
        outputs = generate(self, *args, **kwargs)
        seen.extend({"prompt": o.prompt, "prompt_token_ids": list(o.prompt_token_ids)} for o in outputs)
        return outputs

    vllm.LLM.generate = recording_generate
    records = json.loads(pairs_path.read_text(encoding="utf-8"))
    pairs = pd.DataFrame(
        {
            "prompt_index": range(len(records)),
            "instruction": [r["instruction"] for r in records],
            "dataset": "probe",
            "output_1": [r["output_1"] for r in records],
            "generator_1": "reference",
            "output_2": [r["output_2"] for r in records],
            "generator_2": "model",
        }
    )
    judge_pairs(pairs, judge, cache_dir / "cache.json")
    print(json.dumps(seen))


if __name__ == "__main__":
    main()
