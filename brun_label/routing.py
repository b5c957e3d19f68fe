"""Adaptive overlap: which items need one more annotator, decided by the export's own gates.

Pure core. After a pull, every item is in one of four states:

``waiting``
    fewer people have submitted it than its current overlap target: its round is not done;
``clear``
    the export's gates reach a decision (a pair is exported, or every candidate is clearly bad,
    ``both_bad``, or clearly good, ``tie``): asking more people would change nothing;
``extend``
    its round is done, there is no clear decision, and its target is below ``max_overlap``: it gets
    exactly one more annotator (target + 1);
``exhausted``
    no clear decision at ``max_overlap``: left for adjudication.

Only the table and the gates decide (never any knowledge of the truth); a person excluded by the
gold filter is not counted. Gold items are never routed (their overlap is fixed).

Examples
--------
>>> import pandas as pd
>>> items = pd.DataFrame({"item_id": ["s1", "s2", "s3", "s4"],
...                       "reason": ["exported", "split", "split", "too_few_annotators"]})
>>> voters = {"s1": 2, "s2": 2, "s3": 5, "s4": 1}
>>> plan = plan_routing(items, voters, {"s1": 2, "s2": 2, "s3": 5, "s4": 2}, max_overlap=5)
>>> plan.extend, plan.clear, plan.exhausted, plan.waiting
(['s2'], ['s1'], ['s3'], ['s4'])
>>> plan.targets
{'s2': 3}
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from brun_label.model import JUDGE_PREFIX

#: Export reasons that mean "decided": more annotators would not change the outcome's kind.
CLEAR_REASONS = frozenset({"exported", "both_bad", "tie"})


@dataclass
class RoutePlan:
    """The routing decision for one round."""

    extend: list[str] = field(default_factory=list)
    clear: list[str] = field(default_factory=list)
    exhausted: list[str] = field(default_factory=list)
    waiting: list[str] = field(default_factory=list)
    targets: dict[str, int] = field(default_factory=dict)
    """New overlap target of every extended item."""

    def to_dict(self) -> dict[str, Any]:
        """Counts and ids, JSON-able."""
        return {"extend": self.extend, "clear": self.clear, "exhausted": self.exhausted,
                "waiting": self.waiting, "targets": self.targets,
                "counts": {k: len(getattr(self, k)) for k in ("extend", "clear", "exhausted", "waiting")}}


def voters_per_item(table: pd.DataFrame, *, exclude: Collection[str] = ()) -> dict[str, int]:
    """Distinct people (not judges, not ``exclude``) with a submitted answer, per item.

    >>> from brun_label.table import make_table
    >>> t = make_table([{"item_id": "s1", "question": "q", "annotator": a, "value": 1} for a in ("x", "y", "judge:m")])
    >>> voters_per_item(t), voters_per_item(t, exclude={"y"})
    ({'s1': 2}, {'s1': 1})
    """
    rows = table[(table["status"] == "submitted") & table["value"].notna()]
    rows = rows[~rows["annotator"].astype(str).str.startswith(JUDGE_PREFIX)]
    if exclude:
        rows = rows[~rows["annotator"].isin(set(exclude))]
    counts = rows.groupby("item_id")["annotator"].nunique()
    return {str(k): int(v) for k, v in counts.items()}


def plan_routing(items: pd.DataFrame, voters: Mapping[str, int], targets: Mapping[str, int], *,
                 max_overlap: int, gold_items: Collection[str] = ()) -> RoutePlan:
    """Decide the next round from the export's per-item ``reason`` (:func:`select_pairs`'s ``items``).

    ``voters`` is the number of people who submitted each item, ``targets`` its current overlap.
    """
    if max_overlap < 1:
        raise ValueError(f"max_overlap must be at least 1, got {max_overlap}")
    plan = RoutePlan()
    gold = set(gold_items)
    for item, reason in zip(items["item_id"].astype(str), items["reason"].astype(str), strict=True):
        if item in gold:
            continue
        target = int(targets.get(item, 1))
        if voters.get(item, 0) < target:
            plan.waiting.append(item)
        elif reason in CLEAR_REASONS:
            plan.clear.append(item)
        elif target < max_overlap:
            plan.extend.append(item)
            plan.targets[item] = target + 1
        else:
            plan.exhausted.append(item)
    return plan


def assign_rounds(table: pd.DataFrame, start: int) -> pd.Series:
    """Number each person's answers to an item by the routing round that asked for them.

    Round 1 holds the first ``start`` people to submit an item; each round after it adds exactly one
    person (:func:`plan_routing` extends by one), so the ``start + k``-th person is round ``k + 1``.
    People are ordered by their first submission to the item; judges' rows and rows of people who
    never submitted get round 1.

    >>> from brun_label.table import make_table
    >>> t = make_table([{"item_id": "s1", "question": "q", "annotator": a, "value": 1, "submitted_at": at}
    ...                 for a, at in [("x", "2026-01-01"), ("y", "2026-01-02"), ("z", "2026-01-05"), ("x", "2026-01-06")]])
    >>> assign_rounds(t, start=2).tolist()
    [1, 1, 2, 1]
    """
    if table.empty:
        return pd.Series([], dtype="int64", index=table.index)
    people = (table["status"] == "submitted") & ~table["annotator"].astype(str).str.startswith(JUDGE_PREFIX)
    when = pd.to_datetime(table["submitted_at"], errors="coerce", utc=True)
    sub = pd.DataFrame({"item_id": table["item_id"], "annotator": table["annotator"], "t": when})[people]
    first = sub.groupby(["item_id", "annotator"], sort=False)["t"].min().reset_index()
    first["i"] = first.sort_values(["item_id", "t"], na_position="last", kind="stable").groupby("item_id").cumcount()
    first["round"] = (first["i"] - start + 2).clip(lower=1)
    rounds = table[["item_id", "annotator"]].merge(first[["item_id", "annotator", "round"]],
                                                   on=["item_id", "annotator"], how="left")["round"]
    return pd.Series(rounds.fillna(1).astype("int64").to_numpy(), index=table.index)
