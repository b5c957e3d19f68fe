"""Builders for small, readable annotation tables and samples used by the exporter tests."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import pandas as pd

from brun_label.model import Sample, sample_from_dict
from brun_label.table import make_table


def item_rows(
    item: str,
    zone: Mapping[str, Sequence[int | None]],
    *,
    flags: Mapping[str, Sequence[Sequence[str] | None]] | None = None,
    pref: Sequence[str | None] | None = None,
    annotators: Sequence[str] | None = None,
    zone_q: str = "tone_zone",
    flag_q: str = "liability_flags",
    pref_q: str = "preference",
    status: str = "submitted",
) -> list[dict[str, Any]]:
    """Rows for one item: ``zone[cand][i]`` is annotator i's zone value (None: no answer)."""
    n = max(len(v) for v in zone.values())
    anns = list(annotators or [f"ann{i + 1}" for i in range(n)])
    rows: list[dict[str, Any]] = []
    for cand, values in zone.items():
        for ann, value in zip(anns, values, strict=False):
            if value is not None:
                rows.append({"item_id": item, "candidate_id": cand, "question": zone_q,
                             "annotator": ann, "value": value, "status": status})
    for cand, per_ann in (flags or {}).items():
        for ann, fl in zip(anns, per_ann, strict=False):
            if fl is not None:
                rows.append({"item_id": item, "candidate_id": cand, "question": flag_q,
                             "annotator": ann, "value": sorted(fl), "status": status})
    for ann, p in zip(anns, pref or [], strict=False):
        if p is not None:
            rows.append({"item_id": item, "candidate_id": "", "question": pref_q,
                         "annotator": ann, "value": p, "status": status})
    return rows


def table(*row_lists: list[dict[str, Any]]) -> pd.DataFrame:
    """Concatenate row lists into a normalized annotation table."""
    return make_table([r for rows in row_lists for r in rows])


def sample(item: str, cands: Sequence[str], *, category: str = "complaint", prompt: Any = None,
           scenario: str | None = None) -> Sample:
    """A sample with these candidate ids (texts derived from the ids)."""
    obj: dict[str, Any] = {
        "id": item,
        "category": category,
        "prompt": prompt if prompt is not None else f"Customer message for {item}: where is my refund?",
        "candidates": [{"id": c, "text": f"Reply {c} to {item}."} for c in cands],
    }
    if scenario is not None:
        obj["metadata"] = {"scenario": scenario}
    return sample_from_dict(obj)


#: Kinds of items in :func:`unambiguous_dataset`; only ``clean`` ones may become pairs.
KINDS = ("clean", "clean_flags_answered", "flagged_chosen", "split", "both_bad", "tie", "thin",
         "judge_third", "draft_third", "pref_contradicts", "pref_tie")


def unambiguous_dataset(n_items: int = 60, seed: int = 0) -> tuple[list[Sample], pd.DataFrame, dict[str, str]]:
    """Samples, a table and ``{item: kind}`` where the right answer for each item is obvious.

    A ``clean`` item has three annotators unanimous that candidate ``<item>-good`` is in the zone
    with no flag and ``<item>-bad`` is out of it (and preferring the good one); every other kind is
    disputed, tied, flagged, or thinly annotated in one specific way.
    """
    import random

    rng = random.Random(seed)
    samples: list[Sample] = []
    rows: list[dict[str, Any]] = []
    kinds: dict[str, str] = {}
    cats = ["customer_complaint", "hr_grievance", "pr_crisis"]
    for i in range(n_items):
        item = f"item-{i:03d}"
        kind = KINDS[i % len(KINDS)] if i < len(KINDS) else rng.choice(KINDS)
        kinds[item] = kind
        good, bad = f"{item}-good", f"{item}-bad"
        cands = [good, bad] if rng.random() < 0.5 else [bad, good]
        samples.append(sample(item, cands, category=cats[i % 3]))
        off = rng.choice([-2, -1, 1, 2])
        z: dict[str, list[int | None]] = {good: [0, 0, 0], bad: [off, off, rng.choice([-2, 2])]}
        flags: dict[str, Any] = {}
        pref: list[str | None] = [good, good, good]
        if kind == "clean_flags_answered":
            flags = {good: [[], [], []], bad: [["admits_fault"], [], []]}
        elif kind == "flagged_chosen":
            flags = {good: [[], [], [rng.choice(["admits_fault", "promises_compensation"])]]}
        elif kind == "split":
            z[good] = [0, 0, off]
        elif kind == "both_bad":
            z[good] = [off, off, off]
            pref = ["both_bad"] * 3
        elif kind == "tie":
            z[bad] = [0, 0, 0]
            pref = ["tie", "tie", good]
        elif kind == "thin":
            z = {good: [0, 0], bad: [off, off]}
            pref = [good, good]
        elif kind == "pref_contradicts":
            pref = [good, bad, good]
        elif kind == "pref_tie":
            pref = [good, "tie", good]
        rows += item_rows(item, z, flags=flags, pref=pref)
        if kind == "judge_third":
            rows = [r for r in rows if not (r["item_id"] == item and r["annotator"] == "ann3")]
            rows += item_rows(item, {good: [0], bad: [off]}, pref=[good], annotators=["judge:gpt-4o"])
        if kind == "draft_third":
            rows = [r for r in rows if not (r["item_id"] == item and r["annotator"] == "ann3")]
            rows += item_rows(item, {good: [0], bad: [off]}, pref=[good], annotators=["ann3"], status="draft")
    return samples, make_table(rows), kinds


def is_clean(kind: str) -> bool:
    """Whether an item kind of :func:`unambiguous_dataset` must become exactly one pair."""
    return kind in ("clean", "clean_flags_answered")
