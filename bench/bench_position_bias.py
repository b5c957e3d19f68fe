"""Position bias speed: :func:`position_bias` against the rest of the agreement summary, same table.

A table of ``n_items`` pairs rated by 5 annotators (a preference and the tone zone of both
candidates, each row with its ``position`` and ``shown_order``: 1,050,000 rows at full size, 10×
fewer with ``--quick``), one annotator planted with a first-position bias. Ours: the position-bias
block alone; baseline: :func:`~brun_label.agreement.summary.summarize` on the same table without
the position columns (every other coefficient, consensus and drift check), best of two rounds.
The target: the position-bias block costs at most half of the rest of the summary. The planted
annotator must be the only one flagged before the timing counts.
"""

from __future__ import annotations

import json

import numpy as np
import pandas as pd

from bench.common import Result, timed


def make_table(n_items: int, seed: int = 0) -> pd.DataFrame:
    """The benchmark's table (see the module docstring); ``a2`` picks the first slot 70% of the time."""
    rng = np.random.default_rng(seed)
    anns = np.array(["a1", "a2", "a3", "a4", "a5"])
    items = np.repeat(np.arange(n_items), len(anns))
    ann = np.tile(anns, n_items)
    flip = rng.integers(0, 2, len(items)).astype(bool)
    c0 = np.char.add(np.char.add("s", items.astype(str)), "-c0").astype(object)
    c1 = np.char.add(np.char.add("s", items.astype(str)), "-c1").astype(object)
    first, second = np.where(flip, c1, c0), np.where(flip, c0, c1)
    shown = np.array([json.dumps([a, b]) for a, b in zip(first, second, strict=True)], dtype=object)
    iid = np.char.add("s", items.astype(str)).astype(object)
    best_is_c0 = (items % 3 != 0)
    best = np.where(best_is_c0, c0, c1)
    pick = np.where(rng.uniform(size=len(items)) < 0.85, best, np.where(best_is_c0, c1, c0))
    biased = (ann == "a2") & (rng.uniform(size=len(items)) < 0.7)
    pick = np.where(biased, first, pick)
    frames = [pd.DataFrame({"item_id": iid, "candidate_id": "", "question": "preference", "annotator": ann,
                            "value": pick, "position": np.where(pick == first, 0, 1), "shown_order": shown})]
    for slot, cid in ((0, first), (1, second)):
        frames.append(pd.DataFrame({"item_id": iid, "candidate_id": cid, "question": "tone_zone", "annotator": ann,
                                    "value": rng.integers(-2, 3, len(items)), "position": slot, "shown_order": shown}))
    table = pd.concat(frames, ignore_index=True)
    table["value"] = table["value"].astype(object)
    table["status"], table["platform"], table["submitted_at"] = "submitted", None, None
    return table


def run(quick: bool) -> list[Result]:
    from brun_label.agreement.position_bias import position_bias
    from brun_label.agreement.summary import summarize
    from brun_label.rubrics import load_rubric

    rubric = load_rubric("de-escalation")
    n_items = 7_000 if quick else 70_000
    table = make_table(n_items)
    ours, pb = timed(lambda: position_bias(table, rubric=rubric), repeat=2)
    flagged = [f["rater"] for f in pb["flagged"]]
    if flagged != ["a2"]:
        raise AssertionError(f"position bias flagged {flagged}, expected ['a2']")
    plain = table.drop(columns=["position", "shown_order"])
    baseline, _ = timed(lambda: summarize(plain, rubric=rubric), repeat=2)
    return [Result(name=f"position bias, {len(table):,} rows", ours=ours, baseline=baseline, unit="s", target=0.5,
                   note="vs the rest of the agreement summary on the same table")]
