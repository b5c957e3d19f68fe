"""One project/dataset per candidate count: push routes samples, pull reads the base and its siblings.

Neither platform shows a different number of candidate slots per task: Label Studio's
``visibleWhen`` reacts only to the annotator's own choices (never to task data), and Argilla's
fields and questions belong to the dataset. A 3-candidate sample in a 4-slot project would show an
empty "Candidate D" whose answers mean nothing, and could be submitted with C unrated. So each
candidate count gets its own target (:func:`brun_label.layout.route_by_count`): the one the
``--project``/``--dataset`` name was created with keeps that name, the others are siblings named
``"<name> (3)"`` (3 candidates). Every slot there is a real candidate, every shown candidate's
required questions are required, and the preference offers exactly the shown candidates.

The backends provide three methods: ``_push_one`` and ``_pull_one`` (one target), and
``_target_slots(name, options)`` (the slot count of an existing target, None when absent) and
``_target_names(base, options)`` (names that may be siblings).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from typing import Any, Protocol

import pandas as pd

from brun_label.backends.base import ProgressFn, PullOptions, PullResult, PushOptions, PushResult
from brun_label.layout import route_by_count, sibling_counts
from brun_label.model import Sample
from brun_label.rubric import Rubric


class _PerTarget(Protocol):
    def _push_one(self, samples: Sequence[Sample], rubric: Rubric, options: PushOptions,
                  progress: ProgressFn | None = None) -> PushResult: ...

    def _pull_one(self, rubric: Rubric | None, options: PullOptions,
                  progress: ProgressFn | None = None) -> PullResult: ...

    def _target_slots(self, name: str, options: Any) -> int | None: ...

    def _target_names(self, base: str, options: Any) -> list[str]: ...


def push_by_count(backend: _PerTarget, samples: Sequence[Sample], rubric: Rubric, options: PushOptions,
                  progress: ProgressFn | None = None) -> PushResult:
    """Push each candidate-count group to its own target; return one result for them all."""
    base_slots = options.n_candidates or backend._target_slots(options.target, options)
    groups = route_by_count(samples, options.target, base_slots)
    if list(groups) == [options.target]:
        return backend._push_one(samples, rubric, options, progress)
    results = []
    for target, group in groups.items():
        opts = replace(options, target=target, n_candidates=None if target != options.target else options.n_candidates)
        results.append(backend._push_one(group, rubric, opts, progress))
    first = next((r for r in results if r.target == options.target), results[0])
    notes = ["samples with different candidate counts go to separate targets: "
             + ", ".join(f"{r.target!r} ({r.n_samples})" for r in results)]
    for r in results:
        notes += [f"{r.target}: {n}" for n in r.notes]
    return PushResult(
        platform=first.platform, target=options.target, created=any(r.created for r in results),
        n_samples=sum(r.n_samples for r in results), n_existing=sum(r.n_existing for r in results),
        n_added=sum(r.n_added for r in results), config_changed=any(r.config_changed for r in results),
        dry_run=options.dry_run, url=first.url, notes=notes,
    )


def pull_by_count(backend: _PerTarget, rubric: Rubric | None, options: PullOptions,
                  progress: ProgressFn | None = None) -> PullResult:
    """Pull the target and every sibling holding another candidate count, as one table."""
    main = backend._pull_one(rubric, options, progress)
    siblings = sibling_counts(options.target, backend._target_names(options.target, options))
    if not siblings:
        return main
    results = [main] + [backend._pull_one(rubric, replace(options, target=name), progress)
                        for _, name in sorted(siblings.items())]
    tables = [r.table for r in results]
    table = pd.concat(tables, ignore_index=True) if len(tables) > 1 else tables[0]
    sort = [c for c in ("item_id", "candidate_id", "question", "annotator") if c in table.columns]
    table = table.sort_values(sort, kind="stable").reset_index(drop=True)
    out = PullResult(table=table, invalid=[x for r in results for x in r.invalid],
                     n_items=sum(r.n_items for r in results), notes=[x for r in results for x in r.notes])
    for r in results:
        out.item_keys.update(r.item_keys)
    out.notes.append("read " + ", ".join(repr(n) for n in [options.target, *sorted(siblings.values())])
                     + " (one per candidate count)")
    return out
