"""Merge what changed on a platform into the table of the previous pull (pure core, pandas).

An incremental pull (:mod:`brun_label.project_pull`) asks each platform which of its items
(a Label Studio task, an Argilla record) were created, updated or deleted since the last pull,
reads those items again *whole* (every response, draft, skip and judge answer on them) and
merges them in here:

* every row of a re-read item is replaced by the rows read now (so a response that changed,
  was deleted, or turned from draft to submitted leaves no stale row behind);
* every row of a deleted item is dropped;
* the result is put in :func:`canonical_order`, which a full pull's table is also put in, so the
  two are identical row for row.

Replacing whole items (rather than single responses) is what makes the merge exact: a
platform reports changes per item, and re-reading the item gives exactly the rows a full pull
would give for it, whatever changed inside.

Examples
--------
>>> from brun_label.table import make_table
>>> old = make_table([
...     {"item_id": "s1", "question": "preference", "annotator": "ana", "value": "c1"},
...     {"item_id": "s2", "question": "preference", "annotator": "ana", "value": "c3"},
...     {"item_id": "s3", "question": "preference", "annotator": "ben", "value": "tie"}])
>>> fresh = make_table([{"item_id": "s2", "question": "preference", "annotator": "ana", "value": "c4"},
...                     {"item_id": "s4", "question": "preference", "annotator": "cy", "value": "c7"}])
>>> out = merge_changes(old, fresh, replaced={"s2", "s4"}, deleted={"s3"})
>>> out[["item_id", "annotator", "value"]].values.tolist()
[['s1', 'ana', 'c1'], ['s2', 'ana', 'c4'], ['s4', 'cy', 'c7']]
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

#: The columns a table is sorted by (stably: rows equal on all of them keep the platform's order).
ORDER_COLUMNS = ("item_id", "candidate_id", "question", "annotator", "status", "submitted_at")


@dataclass
class ChangeSet:
    """What one platform's incremental read found: the rows of the items read again, what to
    replace and drop in the previous table, the next state, and the counts it saw."""

    table: pd.DataFrame
    replaced: set[str]
    deleted: set[str]
    state: dict[str, Any]
    invalid: list[str]
    counts: dict[str, int]
    n_items: int
    items_read: int
    """Tasks (Label Studio) or records (Argilla) decoded again."""
    notes: list[str] = field(default_factory=list)


def canonical_order(table: pd.DataFrame) -> pd.DataFrame:
    """Return ``table`` sorted by :data:`ORDER_COLUMNS` (stable), with a fresh index.

    Rows that tie on every one of them (one person's two answers of one instant) keep the order
    the platform gave them, which is the same in a full and an incremental pull: both read an
    item's answers in one request, in the platform's order.

    >>> from brun_label.table import make_table
    >>> t = make_table([{"item_id": "s2", "question": "q", "annotator": "a", "value": 1},
    ...                 {"item_id": "s1", "question": "q", "annotator": "b", "value": 2},
    ...                 {"item_id": "s1", "question": "q", "annotator": "a", "value": 3}])
    >>> canonical_order(t)["value"].tolist()
    [3, 2, 1]
    """
    if table.empty:
        return table.reset_index(drop=True)
    keys = [c for c in ORDER_COLUMNS if c in table.columns]
    return table.sort_values(keys, kind="stable", na_position="first").reset_index(drop=True)


def merge_changes(cached: pd.DataFrame, fresh: pd.DataFrame, *, replaced: Iterable[str],
                  deleted: Iterable[str] = ()) -> pd.DataFrame:
    """Return the table after a change: ``cached`` without the rows of ``replaced`` and ``deleted``
    items, plus ``fresh`` (the rows read now for the replaced items), in :func:`canonical_order`.

    ``fresh`` may only hold rows of ``replaced`` items (anything else would be a row the platform
    did not report as changed); a ``ValueError`` says so.

    >>> from brun_label.table import make_table
    >>> t = make_table([{"item_id": "s1", "question": "q", "annotator": "a", "value": 1}])
    >>> merge_changes(t, make_table([]), replaced=set(), deleted={"s1"}).empty
    True
    >>> merge_changes(t, t, replaced=set())
    Traceback (most recent call last):
    ...
    ValueError: fresh rows for items not reported as changed: s1
    """
    gone = {str(i) for i in replaced} | {str(i) for i in deleted}
    replaced_set = {str(i) for i in replaced}
    if not fresh.empty:
        stray = sorted(set(fresh["item_id"].astype(str)) - replaced_set)
        if stray:
            raise ValueError(f"fresh rows for items not reported as changed: {', '.join(stray[:5])}")
    if cached.empty:
        return canonical_order(fresh) if not fresh.empty else cached.reset_index(drop=True)
    items = cached["item_id"].to_numpy(dtype=object)
    keep = np.flatnonzero(~pd.Series(items).isin(gone).to_numpy()) if gone else np.arange(len(cached))
    if fresh.empty:
        return cached.iloc[keep].reset_index(drop=True) if len(keep) < len(cached) else cached
    # ``cached`` is in canonical order, so its kept rows are too; every fresh item is absent from
    # them, so the fresh rows (sorted alone) go in as whole blocks at their item's place: one take.
    fresh_sorted = canonical_order(fresh)
    at = np.searchsorted(items[keep], fresh_sorted["item_id"].to_numpy(dtype=object), side="left")
    order = np.insert(keep, at, np.arange(len(cached), len(cached) + len(fresh_sorted)))
    both = pd.concat([cached, fresh_sorted], ignore_index=True)
    return both.take(order).reset_index(drop=True)
