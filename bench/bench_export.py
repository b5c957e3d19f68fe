"""Exporting DPO pairs from 1,000,000 annotation rows: under 30 s and 2 GB peak memory (issue 6).

The measured command is the real CLI, as a child process (so peak RSS is the whole process):
``brun-label export dpo ann.parquet --samples samples.jsonl -o pairs.jsonl --format trl
--test-size 0.1 --json``, agreement gate included. The table has 66,667 items x 2 candidates x 3
annotators x (zone + flags) + 3 preference votes per item (+ some judge and draft rows), with a
realistic mix of unanimous, split, flagged, both-bad and tied items.

Baseline, same run, same table: the pair selection written as a plain Python loop over the rows
(dicts of votes, the obvious way), against our vectorised :func:`select_pairs`; the ratio shows
what the ``groupby`` design buys. The pass/fail lines are the wall time against the 30 s budget
and the peak RSS against the 2 GB budget.
"""

from __future__ import annotations

import json
import os
import random
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from typing import Any

import pandas as pd

from bench.common import Result, peak_rss_mb_of, timed


def make_data(n_items: int, seed: int = 0) -> tuple[pd.DataFrame, list[dict[str, Any]]]:
    """Return (annotation table, sample dicts) with about 15 rows per item."""
    rng = random.Random(seed)
    items, cands, questions, anns, values, statuses = [], [], [], [], [], []
    samples = []

    def add(item: str, cand: str, q: str, ann: str, value: Any, status: str = "submitted") -> None:
        items.append(item)
        cands.append(cand)
        questions.append(q)
        anns.append(ann)
        values.append(value)
        statuses.append(status)

    for i in range(n_items):
        item = f"s{i:07d}"
        a, b = f"{item}-a", f"{item}-b"
        if i % 2:  # the good reply ("a" below) is the first candidate id in half the items
            a, b = b, a
        samples.append({
            "id": item, "category": ("customer_complaint", "hr_grievance", "pr_crisis")[i % 3],
            "prompt": f"Order #{i} arrived broken and nobody answers my emails. Fix this today.",
            "candidates": [
                {"id": a, "text": f"I understand how frustrating this is. Replacement request #{i} is open."},
                {"id": b, "text": f"We are so sorry, this is entirely our fault; full refund for #{i} today."},
            ],
        })
        kind = rng.random()
        for k in range(3):
            ann = f"ann{k + 1}"
            za = 0 if kind < 0.6 or rng.random() < 0.7 else rng.choice([-1, 1])
            zb = -2 if kind < 0.8 else rng.choice([0, -1, -2])
            add(item, a, "tone_zone", ann, za)
            add(item, b, "tone_zone", ann, zb)
            add(item, a, "liability_flags", ann, [] if rng.random() < 0.97 else ["admits_fault"])
            add(item, b, "liability_flags", ann, ["admits_fault", "promises_compensation"])
            add(item, "", "preference", ann, a if rng.random() < 0.95 else rng.choice([b, "tie", "both_bad"]))
        if i % 20 == 0:
            add(item, a, "tone_zone", "judge:gpt-4o", 0)
        if i % 50 == 0:
            add(item, b, "tone_zone", "ann4", 0, "draft")
    table = pd.DataFrame({
        "item_id": items, "candidate_id": cands, "question": questions, "annotator": anns,
        "value": values, "status": statuses, "platform": "argilla", "submitted_at": None,
    })
    return table, samples


def loop_selection(table: pd.DataFrame, items: dict[str, list[str]]) -> int:
    """The obvious per-row loop (the baseline): same rules as select_pairs, default gates."""
    zone: dict[tuple[str, str, str], Any] = {}
    flagged: dict[tuple[str, str, str], bool] = {}
    pref: dict[str, dict[str, Any]] = defaultdict(dict)
    for item, cand, q, ann, value, status in zip(
        table["item_id"], table["candidate_id"], table["question"], table["annotator"], table["value"],
        table["status"], strict=True,
    ):
        if status != "submitted" or ann.startswith("judge:"):
            continue
        if q == "tone_zone":
            zone[(item, cand, ann)] = value
        elif q == "liability_flags":
            flagged[(item, cand, ann)] = bool(len(value))
        elif q == "preference":
            pref[item][ann] = value
    voters: dict[tuple[str, str], set[str]] = defaultdict(set)
    for key in list(zone) + list(flagged):
        voters[(key[0], key[1])].add(key[2])
    n_pairs = 0
    for item, cs in items.items():
        verdict = {}
        for c in cs:
            anns = voters.get((item, c), set())
            n = len(anns)
            good = sum(zone.get((item, c, x)) == 0 and not flagged.get((item, c, x)) for x in anns)
            bad = sum(zone.get((item, c, x)) not in (None, 0) or bool(flagged.get((item, c, x))) for x in anns)
            fl = sum(bool(flagged.get((item, c, x))) for x in anns)
            verdict[c] = ("thin" if n < 3 else "good" if good >= 0.8 * n and fl == 0
                          else "bad" if bad >= 0.8 * n else "split")
        votes = list(pref.get(item, {}).values())
        for c in cs:
            for r in cs:
                if verdict[c] == "good" and verdict[r] == "bad":
                    contra = sum(v in (r, "tie", "both_bad") for v in votes)
                    n_pairs += contra <= 0.2 * len(votes) + 1e-9
    return n_pairs


def run(quick: bool = False) -> list[Result]:
    from brun_label.exporters.pairs import candidates_frame, select_pairs
    from brun_label.exporters.tables import write_annotations
    from brun_label.rubrics import load_rubric

    n_items = 6_667 if quick else 66_667
    table, samples = make_data(n_items)
    n_rows = len(table)
    items = {s["id"]: [c["id"] for c in s["candidates"]] for s in samples}
    rubric = load_rubric("de-escalation")
    ours_sel, sel = timed(lambda: select_pairs(table, candidates_frame(items.items()), rubric))
    base_sel, n_loop = timed(lambda: loop_selection(table, items))
    if n_loop != len(sel.pairs):
        raise RuntimeError(f"baseline found {n_loop} pairs, select_pairs {len(sel.pairs)}")
    with tempfile.TemporaryDirectory() as tmp:
        ann = os.path.join(tmp, "ann.parquet")
        write_annotations(table, ann)
        sp = os.path.join(tmp, "samples.jsonl")
        with open(sp, "w", encoding="utf-8") as fh:
            for s in samples:
                fh.write(json.dumps(s) + "\n")
        out = os.path.join(tmp, "out", "pairs.jsonl")
        cmd = [sys.executable, "-m", "brun_label", "export", "dpo", ann, "--samples", sp, "-o", out,
               "--rubric", "de-escalation", "--format", "trl", "--test-size", "0.1", "--json"]
        t0 = time.perf_counter()
        check = subprocess.run(cmd, capture_output=True, text=True)
        if check.returncode != 0:
            raise RuntimeError(f"export failed ({check.returncode}): {check.stderr.strip()[-500:]}")
        first_wall = time.perf_counter() - t0
        summary = json.loads(check.stdout)
        wall, rss = peak_rss_mb_of(cmd)
    exported = sum(summary["examples"].values())
    note = f"{n_rows:,} rows, {exported:,} pairs, {n_rows / wall:,.0f} rows/s (first run {first_wall:.1f} s)"
    return [
        Result(f"export dpo {n_rows:,} rows: wall vs 30 s budget", wall, 30.0, "s", 1.0, note=note),
        Result(f"export dpo {n_rows:,} rows: peak RSS vs 2 GB budget", rss, 2048.0, "MB", 1.0),
        Result(f"pair selection {n_rows:,} rows: vectorised vs Python loop", ours_sel, base_sel, "s", 1.0,
               note=f"{len(sel.pairs):,} pairs, same as the loop"),
    ]


if __name__ == "__main__":
    for r in run("--quick" in sys.argv):
        print(f"{r.name}: {r.ours:.3g} {r.unit} vs {r.baseline:.3g} (ratio {r.ratio:.3f}, "
              f"{'ok' if r.passed else 'FAILED'}) {r.note}")
