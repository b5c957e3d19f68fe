"""Adjudicated items: a named adjudicator's decision is final, for the pairs and their provenance.

Pure core. Rows whose annotator starts with :data:`ADJUDICATOR_PREFIX` (``adjudicator:<name>``,
written by the project pull from the adjudication project) are decisions, not votes:

* an item with a submitted decision is selected from the decision alone (the adjudicator's own
  verdicts and preference, under the same definitions as :mod:`.pairs`, one voter suffices); the
  annotators' votes on it are not used;
* its pairs carry ``adjudicated_by`` (the adjudicator's name) and its item reason is
  ``adjudicated`` when a pair came out;
* every other item is selected exactly as :func:`.pairs.select_pairs` does; adjudicators never vote
  on items they did not decide.

Examples
--------
>>> from brun_label.rubrics import load_rubric
>>> from brun_label.table import make_table
>>> from brun_label.exporters.pairs import candidates_frame
>>> rows = [{"item_id": "s1", "candidate_id": c, "question": "tone_zone", "annotator": a, "value": v}
...         for a, vals in {"ana": (0, -2), "bo": (-2, 0), "cy": (0, 0)}.items() for c, v in zip("ab", vals)]
>>> rows += [{"item_id": "s1", "candidate_id": "a", "question": "tone_zone", "annotator": "adjudicator:Dee", "value": 0},
...          {"item_id": "s1", "candidate_id": "b", "question": "tone_zone", "annotator": "adjudicator:Dee", "value": -2},
...          {"item_id": "s1", "question": "preference", "annotator": "adjudicator:Dee", "value": "a"}]
>>> sel = select_with_adjudication(make_table(rows), candidates_frame([("s1", ["a", "b"])]), load_rubric("de-escalation"))
>>> sel.pairs[["item_id", "chosen_id", "rejected_id", "adjudicated_by"]].values.tolist(), sel.items["reason"].tolist()
([['s1', 'a', 'b', 'Dee']], ['adjudicated'])
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pandas as pd

from brun_label.exporters.pairs import Anchors, Gates, Pairing, Selection, select_pairs
from brun_label.rubric import Rubric

#: Annotator prefix of an adjudicator's decisions in the annotation table.
ADJUDICATOR_PREFIX = "adjudicator:"


def adjudicated_items(table: pd.DataFrame) -> dict[str, str]:
    """Items with a submitted decision -> the adjudicator's name (the latest decision wins)."""
    rows = table[(table["status"] == "submitted") & table["annotator"].astype(str).str.startswith(ADJUDICATOR_PREFIX)]
    if rows.empty:
        return {}
    rows = rows.assign(_t=pd.to_datetime(rows["submitted_at"], errors="coerce", utc=True))
    latest = rows.sort_values("_t", na_position="first", kind="stable").groupby("item_id").tail(1)
    return {str(i): str(a)[len(ADJUDICATOR_PREFIX):] for i, a in zip(latest["item_id"], latest["annotator"], strict=True)}


def _merge_counts(a: Mapping[str, Any], b: Mapping[str, Any]) -> dict[str, Any]:
    """Add the counts of two selections key by key (nested mappings too; other values: the first's).

    >>> _merge_counts({"pairs": 2, "verdicts": {"good": 1}, "x": "a"}, {"pairs": 1, "verdicts": {"good": 2, "bad": 1}})
    {'pairs': 3, 'verdicts': {'good': 3, 'bad': 1}, 'x': 'a'}
    """
    out: dict[str, Any] = dict(a)
    for key, value in b.items():
        mine = out.get(key)
        if isinstance(value, Mapping) and isinstance(mine, Mapping | type(None)):
            out[key] = _merge_counts(mine or {}, value)
        elif isinstance(value, int | float) and not isinstance(value, bool) and isinstance(mine, int | float | None):
            out[key] = (mine or 0) + value
        elif key not in out:
            out[key] = value
    return out


def select_with_adjudication(table: pd.DataFrame, candidates: pd.DataFrame, rubric: Rubric,
                             gates: Gates | None = None, pairing: Pairing | None = None,
                             anchors: Anchors | None = None) -> Selection:
    """:func:`.pairs.select_pairs`, with adjudicated items decided by their adjudicator (see module docs)."""
    decided = adjudicated_items(table)
    is_adj = table["annotator"].astype(str).str.startswith(ADJUDICATOR_PREFIX)
    if not decided:
        return select_pairs(table[~is_adj], candidates, rubric, gates, pairing, anchors)
    gates = gates or Gates()
    in_decided = table["item_id"].isin(set(decided))
    normal = select_pairs(table[~is_adj & ~in_decided], candidates[~candidates["item_id"].isin(set(decided))],
                          rubric, gates, pairing, anchors)
    # the adjudicator's latest decision only, as a single voter
    decision_rows = table[is_adj & in_decided]
    decision_rows = decision_rows[decision_rows.apply(
        lambda r: str(r["annotator"])[len(ADJUDICATOR_PREFIX):] == decided[str(r["item_id"])], axis=1)]
    one = Gates(min_annotators=1, min_share=gates.min_share, max_flag_share=gates.max_flag_share)
    adj = select_pairs(decision_rows, candidates[candidates["item_id"].isin(set(decided))], rubric, one, pairing)
    adj_pairs = adj.pairs.assign(adjudicated_by=adj.pairs["item_id"].map(decided))
    adj_items = adj.items.copy()
    adj_items.loc[adj_items["reason"] == "exported", "reason"] = "adjudicated"
    order = {item: i for i, item in enumerate(pd.unique(candidates["item_id"]))}

    def in_sample_order(frame: pd.DataFrame) -> pd.DataFrame:
        if frame.empty:
            return frame.reset_index(drop=True)
        return frame.sort_values("item_id", key=lambda s: s.map(order), kind="stable").reset_index(drop=True)

    pairs = in_sample_order(pd.concat([normal.pairs.assign(adjudicated_by=None), adj_pairs], ignore_index=True))
    counts = {**_merge_counts(normal.counts, adj.counts), "adjudicated_items": len(decided),
              "adjudicated_pairs": len(adj_pairs)}
    return Selection(
        pairs=pairs,
        kto=in_sample_order(pd.concat([normal.kto, adj.kto], ignore_index=True)),
        items=in_sample_order(pd.concat([normal.items, adj_items], ignore_index=True)),
        candidates=in_sample_order(pd.concat([normal.candidates, adj.candidates], ignore_index=True)),
        counts=counts,
    )
