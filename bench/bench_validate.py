"""Validating a 1,000,000-sample JSONL file keeps peak memory under 300 MB (issue 2).

Baseline, same run: a naive reader that loads every line into a list first (what a
``json.loads`` comprehension or ``pandas.read_json(lines=True)`` does), so the ratio shows what
streaming saves. The pass/fail line is our peak RSS against the 300 MB budget.
"""

from __future__ import annotations

import json
import os
import sys
import tempfile

from bench.common import Result, peak_rss_mb_of

_NAIVE = """
import json, sys
from brun_label.model import sample_from_dict
rows = [json.loads(line) for line in open(sys.argv[1], encoding="utf-8")]
samples = [sample_from_dict(r) for r in rows]
print(len(samples))
"""


def make_file(path: str, n: int) -> None:
    with open(path, "w", encoding="utf-8") as fh:
        for i in range(n):
            fh.write(json.dumps({
                "id": f"s{i:07d}", "category": ("customer_complaint", "hr_complaint", "pr_crisis")[i % 3],
                "prompt": f"Order #{i} arrived broken and nobody answers my emails. Fix this today.",
                "candidates": [
                    {"id": "a", "text": "I understand how frustrating this is. I've opened a replacement request.",
                     "persona": "Diplomatic_Firmness"},
                    {"id": "b", "text": "We are so sorry, this is entirely our fault; full refund today.",
                     "persona": "Over_Apologetic_Doormat"},
                ],
            }) + "\n")


def run(quick: bool = False) -> list[Result]:
    n = 100_000 if quick else 1_000_000
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "big.jsonl")
        make_file(path, n)
        wall, ours = peak_rss_mb_of([sys.executable, "-m", "brun_label", "validate", path])
        naive_script = os.path.join(tmp, "naive.py")
        with open(naive_script, "w") as fh:
            fh.write(_NAIVE)
        naive_wall, naive = peak_rss_mb_of([sys.executable, naive_script, path])
    return [
        Result(f"validate {n:,} samples: peak RSS vs 300 MB budget", ours, 300.0, "MB", 1.0,
               note=f"{wall:.1f} s, {n / wall:,.0f} samples/s"),
        Result(f"validate {n:,} samples: peak RSS vs load-all baseline", ours, naive, "MB", 1.0,
               note=f"baseline {naive_wall:.1f} s"),
    ]
