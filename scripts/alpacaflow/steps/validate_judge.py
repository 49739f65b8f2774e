"""The validate_judge step: our judge against the official GPT-4 Turbo judge on published pairs.

The official annotations come from the fetch_official step; the annotate
step judged the same pairs, restricted to our prompt set, with the
configured judge in the run's one judge load (``results/validation/annotations.json``,
each with the official preference beside ours). This step loads no judge:
it writes the agreement (`metrics.agreement.judge_agreement`): share of pairs with the same
winner, Pearson and Spearman correlation of the two preferences, and both
win rates (alpaca_eval's `get_winrate`) side by side.
"""

from __future__ import annotations

import json
from pathlib import Path

from ..errors import AlpacaflowError
from ..io import read_records, write_json
from ..metrics.agreement import judge_agreement
from ..official import official_pairs


def run(*, official: Path, official_meta: Path, annotations: Path, agreement: Path) -> None:
    """The validate_judge step: the agreement of our judge's validation annotations with the official ones."""
    published = official_pairs(read_records(official), str(official))
    ours = read_records(annotations)
    if not ours or any("official_preference" not in r for r in ours):
        raise AlpacaflowError(f"{annotations}: no official_preference in these annotations; rerun annotate")
    meta = json.loads(Path(official_meta).read_text())
    result = {
        "judge": ", ".join(sorted({str(r.get("annotator")) for r in ours})),
        "judge_identity": ", ".join(sorted({str(r["judge_identity"]) for r in ours if r.get("judge_identity")})),
        "official_judge": str(published["annotator"].iloc[0]) if "annotator" in published else "official",
        "published_model": str(ours[0].get("generator_2")),
        "source": meta["source"],
        "sha256": meta["sha256"],
        **judge_agreement([r["official_preference"] for r in ours], [r["preference"] for r in ours]),
        "truncated_for_judge": sum(bool(r.get("truncated_for_judge")) for r in ours),
    }
    write_json(agreement, result)
    print(json.dumps(result), flush=True)
