"""The pure parts of Label Studio's change detection: finding deleted tasks by counting, and the
keys invalid-answer messages are kept under (the real-server behaviour is tested in
tests/project/test_incremental_pull.py)."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from brun_label.backends.label_studio_changes import (
    NeedFullPull,
    config_hash,
    find_missing,
    invalid_key,
    keyed,
)


@settings(max_examples=300, deadline=None)
@given(known=st.sets(st.integers(1, 400), min_size=1, max_size=120), data=st.data())
def test_bisection_finds_exactly_the_deleted_tasks_with_few_counts(known: set[int], data: st.DataObject) -> None:
    ids = sorted(known)
    deleted = set(data.draw(st.lists(st.sampled_from(ids), max_size=8, unique=True)))
    new = set(data.draw(st.sets(st.integers(401, 500), max_size=5)))  # created since: always higher ids
    present = (known - deleted) | new
    calls: list[tuple[int, int]] = []

    def count(lo: int, hi: int) -> int:
        calls.append((lo, hi))
        return sum(lo <= i <= hi for i in present)

    assert sorted(find_missing(ids, new, len(deleted), count)) == sorted(deleted)
    # about 2 log2(n) counts per deleted task, never one per task
    assert len(calls) <= max(1, len(deleted)) * 2 * (len(ids).bit_length() + 1)


def test_a_count_that_does_not_add_up_asks_for_a_full_pull() -> None:
    with pytest.raises(NeedFullPull):
        find_missing([1, 2, 3, 4], [], 1, lambda lo, hi: 0)  # everything vanished meanwhile


def test_messages_are_kept_under_their_item() -> None:
    tasks = {"7": "s2"}
    messages = ["item s1, ana: value: bad", "task 7 annotation 3 (sample s2) by a: bad", "task 9: no brun_sample_id"]
    assert keyed(messages, tasks) == {"item:s1": [messages[0]], "item:s2": [messages[1]], "task:9": [messages[2]]}
    assert invalid_key("something else", tasks) == "_other"
    assert config_hash("<View/>\n") == config_hash("<View/>")
