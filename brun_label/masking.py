"""Opaque ids, so nothing on a platform tells a gold (control) item from the others.

Pure core. Platforms show the task data that brun-label stores (Label Studio's Data Manager lists
``brun_sample_id`` and ``brun_order``), so a gold item named ``gold-7`` with candidates ``g7-a`` would
give itself away. When a project mixes gold in, every sample (gold or not) is pushed *masked*:

* its id becomes ``t-`` + 16 hex of HMAC-SHA256(project salt, sample id);
* each candidate id becomes ``c-`` + 12 hex of HMAC-SHA256(salt, sample id + candidate id);
* judge answers that name a candidate (the preference) and the judge's order are masked alike.

The keys are stable (the same salt gives the same keys, so pushes stay idempotent) and cannot be
reversed without the salt; :func:`unmask_table` maps a pulled table back with the :class:`KeyMap`
built from the project's own files.

Examples
--------
>>> from brun_label.model import sample_from_dict
>>> from brun_label.rubrics import load_rubric
>>> s = sample_from_dict({"id": "gold-7", "prompt": "Refund!", "judge": {"preference": "g7-a"},
...     "candidates": [{"id": "g7-a", "text": "I can help."}, {"id": "g7-b", "text": "No."}]})
>>> masked, keys = mask_samples([s], "salt")
>>> masked[0].id, [c.id for c in masked[0].candidates], masked[0].judge["preference"] == masked[0].candidates[0].id
('t-0394f7ad44021a48', ['c-2532992b339c', 'c-1e45a4d8dc91'], True)
>>> keys.items[masked[0].id], keys.candidates[masked[0].candidates[1].id]
('gold-7', 'g7-b')
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import pandas as pd

from brun_label.model import Sample
from brun_label.rubric import Rubric


def _digest(salt: str, text: str, n: int) -> str:
    return hmac.new(salt.encode("utf-8"), text.encode("utf-8"), hashlib.sha256).hexdigest()[:n]


def item_key(salt: str, sample_id: str) -> str:
    """The opaque id a sample is pushed under."""
    return "t-" + _digest(salt, "item\x00" + sample_id, 16)


def candidate_key(salt: str, sample_id: str, candidate_id: str) -> str:
    """The opaque id a candidate is pushed under."""
    return "c-" + _digest(salt, "cand\x00" + sample_id + "\x00" + candidate_id, 12)


@dataclass
class KeyMap:
    """Opaque key -> real id, for items and candidates."""

    items: dict[str, str] = field(default_factory=dict)
    candidates: dict[str, str] = field(default_factory=dict)


def _mask_answers(answers: Mapping[str, Any] | None, rubric: Rubric | None, cmap: Mapping[str, str]) -> Any:
    if answers is None:
        return None
    out = dict(answers)
    for name, value in out.items():
        if isinstance(value, str) and value in cmap and (rubric is None or _is_preference(rubric, name)):
            out[name] = cmap[value]
    return out


def _is_preference(rubric: Rubric, name: str) -> bool:
    try:
        return rubric.question(name).type == "preference"
    except KeyError:
        return False


def mask_samples(samples: Sequence[Sample], salt: str, rubric: Rubric | None = None) -> tuple[list[Sample], KeyMap]:
    """Return the samples under opaque ids and the map back (see the module docs)."""
    if not salt:
        raise ValueError("masking needs the project's salt")
    keys = KeyMap()
    out: list[Sample] = []
    for s in samples:
        key = item_key(salt, s.id)
        cmap = {c.id: candidate_key(salt, s.id, c.id) for c in s.candidates}
        keys.items[key] = s.id
        keys.candidates.update({v: k for k, v in cmap.items()})
        out.append(replace(
            s, id=key,
            candidates=tuple(replace(c, id=cmap[c.id]) for c in s.candidates),
            judge=_mask_answers(s.judge, rubric, cmap),
            judge_order=tuple(cmap.get(c, c) for c in s.judge_order) if s.judge_order is not None else None,
        ))
    return out, keys


def unmask_table(table: pd.DataFrame, keys: KeyMap, rubric: Rubric) -> tuple[pd.DataFrame, int]:
    """Map a pulled table's opaque ids back; returns the table and the rows whose item is unknown (dropped)."""
    out = table.copy()
    known = out["item_id"].isin(keys.items)
    dropped = int((~known).sum())
    out = out[known].copy()
    out["item_id"] = out["item_id"].map(keys.items)
    cand = out["candidate_id"].astype(str)
    out["candidate_id"] = cand.map(lambda c: keys.candidates.get(c, c))
    prefs = {q.name for q in rubric.questions if q.type == "preference"}
    is_pref = out["question"].isin(prefs)
    if is_pref.any():
        out.loc[is_pref, "value"] = out.loc[is_pref, "value"].map(
            lambda v: keys.candidates.get(v, v) if isinstance(v, str) else v)
    if "shown_order" in out.columns:
        def unmask_order(text: Any) -> Any:
            if not isinstance(text, str) or not text:
                return text
            try:
                ids = json.loads(text)
            except ValueError:
                return text
            return json.dumps([keys.candidates.get(i, i) for i in ids]) if isinstance(ids, list) else text
        out["shown_order"] = out["shown_order"].map(unmask_order)
    return out.reset_index(drop=True), dropped
