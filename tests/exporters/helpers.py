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
