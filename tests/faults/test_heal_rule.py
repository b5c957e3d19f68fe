"""The heal step's survivor rule (:func:`brun_label.backends.label_studio.duplicate_tasks`), for any
set of duplicates: one task per sample when possible, never a person's work deleted, and the same
answer whatever order the tasks were listed in (so concurrent healers agree)."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from brun_label.backends.label_studio import TaskRef, duplicate_tasks

_groups = st.dictionaries(
    st.text(alphabet="abcdef", min_size=1, max_size=3),
    st.lists(st.tuples(st.integers(min_value=1, max_value=10_000), st.booleans()), min_size=1, max_size=6,
             unique_by=lambda t: t[0]),
    max_size=8,
).filter(lambda d: len({i for ts in d.values() for i, _ in ts}) == sum(len(ts) for ts in d.values()))


@given(_groups, st.randoms(use_true_random=False))
def test_the_survivor_rule(groups, rnd):
    by_sample = {sid: [TaskRef(i, a) for i, a in tasks] for sid, tasks in groups.items()}
    doomed, conflicts = duplicate_tasks(by_sample)
    assert len(doomed) == len(set(doomed))
    for sid, tasks in by_sample.items():
        left = [t for t in tasks if t.id not in doomed]
        annotated = [t for t in tasks if t.annotated]
        assert all(t in left for t in annotated)  # a person's work is never deleted
        if len(annotated) <= 1:
            assert len(left) == 1  # exactly one task per sample
            assert left[0] == (annotated[0] if annotated else min(tasks, key=lambda t: t.id))
            assert sid not in conflicts
        else:
            assert left == annotated and sid in conflicts
    shuffled = {sid: rnd.sample(tasks, len(tasks)) for sid, tasks in by_sample.items()}
    again, again_conflicts = duplicate_tasks(shuffled)
    assert sorted(again) == sorted(doomed) and sorted(again_conflicts) == sorted(conflicts)


@given(_groups, st.integers(min_value=1, max_value=50))
def test_tasks_a_racing_push_adds_later_never_change_the_survivor(groups, n_new):
    """New tasks get higher ids than every existing one: healing before or after they land keeps
    the same survivor for every sample."""
    by_sample = {sid: [TaskRef(i, a) for i, a in tasks] for sid, tasks in groups.items()}
    doomed, _ = duplicate_tasks(by_sample)
    top = max([t.id for ts in by_sample.values() for t in ts], default=0)
    later = {sid: [*tasks, *(TaskRef(top + 1 + n * 100 + k, False) for k in range(n_new % 4 + 1))]
             for n, (sid, tasks) in enumerate(by_sample.items())}
    doomed_later, _ = duplicate_tasks(later)
    for tasks in by_sample.values():
        assert [t for t in tasks if t.id not in doomed] == [t for t in tasks if t.id not in doomed_later]
