"""The pure merge of an incremental pull: replacing changed items and dropping deleted ones gives
exactly the table a full pull of the new state gives (property-based)."""

from __future__ import annotations

from typing import Any

import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from brun_label.incremental import canonical_order, merge_changes
from brun_label.table import make_table

ITEMS = [f"s{i}" for i in range(8)]
row = st.fixed_dictionaries({
    "candidate_id": st.sampled_from(["", "c1", "c2"]),
    "question": st.sampled_from(["tone_zone", "preference", "liability_flags"]),
    "annotator": st.sampled_from(["ana", "ben", "judge:m"]),
    "value": st.one_of(st.integers(-2, 2), st.sampled_from(["c1", "tie"]), st.lists(st.sampled_from(["x", "y"]))),
    "status": st.sampled_from(["submitted", "draft", "skipped"]),
    "submitted_at": st.one_of(st.none(), st.sampled_from(["2026-01-01T00:00:00Z", "2026-01-02T00:00:00Z"])),
})
# each item's rows as a platform would give them (None: the item does not exist)
state = st.fixed_dictionaries({item: st.one_of(st.none(), st.lists(row, max_size=4)) for item in ITEMS})


def table_of(items: dict[str, list[dict[str, Any]] | None]) -> pd.DataFrame:
    rows = [{"item_id": item, "platform": "p", **r} for item, rs in items.items() for r in rs or []]
    return make_table(rows)


@settings(max_examples=200, deadline=None)
@given(old=state, new=state, extra=st.sets(st.sampled_from(ITEMS)))
def test_merging_the_changed_items_gives_the_full_table_of_the_new_state(old, new, extra) -> None:
    changed = {i for i in ITEMS if new[i] is not None and new[i] != old[i]} | {i for i in extra if new[i] is not None}
    deleted = {i for i in ITEMS if new[i] is None and old[i] is not None}
    fresh = table_of({i: new[i] for i in changed})
    merged = merge_changes(canonical_order(table_of(old)), fresh, replaced=changed, deleted=deleted)
    pd.testing.assert_frame_equal(merged, canonical_order(table_of(new)))


def test_rows_of_items_not_reported_as_changed_are_refused() -> None:
    t = table_of({"s1": [{"question": "preference", "annotator": "ana", "value": "c1"}]})
    with pytest.raises(ValueError, match="s1"):
        merge_changes(t, t, replaced={"s2"})


def test_ties_keep_the_platforms_order() -> None:
    same = {"question": "preference", "annotator": "ana", "status": "submitted", "submitted_at": None}
    t = make_table([{"item_id": "s1", **same, "value": "first"}, {"item_id": "s1", **same, "value": "second"}])
    assert canonical_order(t)["value"].tolist() == ["first", "second"]
