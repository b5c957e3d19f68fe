"""What changed in an Argilla dataset since the last pull, and the rows of just those records.

Adapter (HTTP through the SDK's client, like :mod:`brun_label.backends.argilla`). Measured on
argilla-server 2.8.0 (its source: ``contexts/datasets.py``, ``bulk/records_bulk.py``,
``models/mixins.py``):

* a response's own ``updated_at`` changes on every create, update and upsert (bulk upserts force
  it); a deleted response is gone from its record;
* a record's ``updated_at`` changes only when its fields or metadata change, or its status flips
  (pending/completed), *not* when a response is added or edited; the dataset's
  ``last_activity_at`` is touched by the response endpoints but not by bulk record upserts
  carrying responses, nor by deletions;
* ``GET /api/v1/datasets/{id}/records`` has no filter (offset and limit only), and the search
  endpoint filters records by their own ``updated_at`` but not by their responses'.

So no server-side filter finds every changed response, and the correct fallback is used: the
records are listed as a full pull lists them, and each record's **fingerprint** (its own
``updated_at``, and the user, status and ``updated_at`` of each response and suggestion) is
compared with the one the last pull stored. Only records whose fingerprint changed (or that are
new) are decoded; records no longer listed were deleted. The listing costs what a full pull's
does; decoding (the larger part on large datasets) is paid only for what changed.

Both the full and the incremental read decode with :func:`rows_for_record`, the backend's own
row reader, and build the table like ``ArgillaBackend.pull`` does (the tests compare the two).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from brun_label.backends.argilla_records import (
    PLATFORM,
    RecordError,
    record_judge_order,
    record_order,
    rows_for_record,
    utc_timestamps,
)
from brun_label.backends.base import ProgressFn, PullOptions, pulled_table, recorded_rubric
from brun_label.incremental import ChangeSet
from brun_label.layout import RUBRIC_KEY
from brun_label.rubric import Rubric

STATE_VERSION = 1


@dataclass
class Probe:
    """The dataset as the server sees it now, with its own counts."""

    dataset: dict[str, Any]
    counts: dict[str, int]
    users: dict[str, dict[str, int]]
    siblings: list[str] = field(default_factory=list)
    """Datasets holding the samples of other candidate counts (then the dataset is pulled in full)."""




def fingerprint(record: Mapping[str, Any]) -> str:
    """A short digest of everything on a record that a pull's rows depend on.

    >>> a = {"id": "r1", "updated_at": "t0", "responses": [{"user_id": "u", "status": "draft", "updated_at": "t1"}]}
    >>> b = {**a, "responses": [{"user_id": "u", "status": "submitted", "updated_at": "t2"}]}
    >>> fingerprint(a) == fingerprint(dict(a)), fingerprint(a) == fingerprint(b)
    (True, False)
    """
    responses = sorted((str(r.get("user_id")), str(r.get("status")), str(r.get("updated_at") or r.get("inserted_at")))
                       for r in record.get("responses") or [] if isinstance(r, Mapping))
    suggestions = sorted((str(s.get("question_id")), str(s.get("agent")), str(s.get("updated_at") or s.get("inserted_at")))
                         for s in record.get("suggestions") or [] if isinstance(s, Mapping))
    key = [str(record.get("updated_at") or record.get("inserted_at")), responses, suggestions]
    return hashlib.sha256(json.dumps(key).encode("utf-8")).hexdigest()[:20]


def probe(backend: Any, options: PullOptions) -> Probe:
    """Find the dataset and read the server's own progress counts (records, and responses per user)."""
    from brun_label.layout import sibling_counts

    dataset, workspace = backend._find_dataset(options.target, options.workspace)
    dataset = {**dataset, "_workspace": workspace}
    siblings = sorted(sibling_counts(options.target, backend._target_names(options.target, options)).values())
    progress = backend._request("GET", f"/api/v1/datasets/{dataset['id']}/progress", "read the dataset's progress")
    users_raw = backend._request("GET", f"/api/v1/datasets/{dataset['id']}/users/progress",
                                 "read the annotators' progress")
    counts = {"records": int(progress.get("total") or 0), "completed": int(progress.get("completed") or 0),
              "pending": int(progress.get("pending") or 0)}
    users: dict[str, dict[str, int]] = {}
    for u in (users_raw or {}).get("users") or []:
        mine = users.setdefault(str(u.get("username")), {"submitted": 0, "discarded": 0, "draft": 0})
        for part in ("completed", "pending"):
            for status in mine:
                mine[status] += int(((u.get(part) or {}).get(status)) or 0)
    for status in ("submitted", "discarded", "draft"):
        counts[status] = sum(u[status] for u in users.values())
    return Probe(dataset=dataset, counts=counts, users=users, siblings=siblings)


def _options_key(rubric: Rubric, options: PullOptions) -> dict[str, Any]:
    return {"rubric": rubric.identity, "include_judge": options.include_judge, "target": options.target,
            "workspace": options.workspace}


def _decode(records: Sequence[Mapping[str, Any]], rubric: Rubric, usernames: Mapping[str, str],
            question_names: Mapping[str, str], include_judge: bool
            ) -> tuple[pd.DataFrame, list[str], dict[str, tuple[str, str]]]:
    """Rows of ``records`` built as ``ArgillaBackend.pull`` builds them.

    Also returns the answers that do not fit, and record id -> (item, fingerprint).
    """
    rows: list[dict[str, Any]] = []
    invalid: list[str] = []
    orders: dict[str, list[str]] = {}
    judge_orders: dict[str, list[str]] = {}
    seen: dict[str, tuple[str, str]] = {}
    for record in records:
        try:
            got, bad = rows_for_record(record, rubric, usernames, question_names, include_judge=include_judge)
            sample_id, order = record_order(record)
        except RecordError as exc:
            invalid.append(f"record:{record.get('id')}\x00{exc}")
            seen[str(record.get("id"))] = ("", fingerprint(record))
            continue
        orders[sample_id] = order
        judge_order = record_judge_order(record)
        if judge_order is not None:
            judge_orders[sample_id] = judge_order
        rows += got
        invalid += bad
        seen[str(record.get("id"))] = (sample_id, fingerprint(record))
    utc_timestamps(rows)
    table = pulled_table(rubric, rows, orders, judge_orders, invalid)
    return table, invalid, seen


def _key(message: str) -> tuple[str, str]:
    """(key, message): the record a message is about (marked by :func:`_decode`), else its item."""
    from brun_label.backends.label_studio_changes import invalid_key

    if message.startswith("record:") and "\x00" in message:
        key, _, text = message.partition("\x00")
        return key, text
    return invalid_key(message, {}), message


def _records_ok(records: Any) -> bool:
    """Whether a state's record map is record id -> [item id, fingerprint]."""
    return isinstance(records, dict) and all(
        isinstance(v, list) and len(v) == 2 and all(isinstance(x, str) for x in v) for v in records.values())


def pull(backend: Any, rubric: Rubric, options: PullOptions, state: dict[str, Any] | None, found: Probe,
         progress: ProgressFn | None = None) -> ChangeSet:
    """Read the dataset: every record when ``state`` is None (a full pull), else what changed since it."""
    dataset = found.dataset
    if state is not None and (state.get("version") != STATE_VERSION or state.get("dataset_id") != dataset["id"]
                              or any(state.get(k) != v for k, v in _options_key(rubric, options).items())
                              or not _records_ok(state.get("records")) or not isinstance(state.get("invalid", {}), dict)):
        state = None  # not this dataset, other options, or unreadable: read everything
    question_names = {str(q["id"]): str(q["name"]) for q in backend._questions(dataset["id"])}
    usernames = backend._usernames(dataset["_workspace"])
    records: list[dict[str, Any]] = []
    for page, total in backend._records(dataset["id"], include=("responses", "suggestions")):
        records += page
        if progress is not None:
            progress(len(page), total)
    known: dict[str, list[str]] = dict(state["records"]) if state is not None else {}
    values = {(r.get("metadata") or {}).get(RUBRIC_KEY) for r in records}
    if not records:
        values.add((dataset.get("metadata") or {}).get(RUBRIC_KEY))
    rubric, notes = recorded_rubric((v for v in values if isinstance(v, str)), rubric,
                                    f"Argilla dataset {options.target!r}")
    todo = [r for r in records
            if state is None or known.get(str(r.get("id")), ["", ""])[1] != fingerprint(r)
            or not known.get(str(r.get("id")), [""])[0]]
    table, invalid_now, seen = _decode(todo, rubric, usernames, question_names, options.include_judge)
    listed = {str(r.get("id")) for r in records}
    replaced = {item for item, _fp in seen.values() if item} | {known[rid][0] for rid in seen if rid in known
                                                                 and known[rid][0]}
    gone = set(known) - listed
    deleted = {known[rid][0] for rid in gone if known[rid][0]} - replaced
    records_now = {rid: v for rid, v in known.items() if rid in listed}
    records_now.update({rid: [item, fp] for rid, (item, fp) in seen.items()})
    n_items = sum(1 for item, _fp in records_now.values() if item)
    gone_keys = {f"item:{i}" for i in replaced | deleted} | {f"record:{rid}" for rid in set(seen) | gone}
    invalid_by = {k: list(v) for k, v in (state or {}).get("invalid", {}).items() if k not in gone_keys}
    for message in invalid_now:
        key, text = _key(message)
        invalid_by.setdefault(key, []).append(text)
    flat = sorted(m for msgs in invalid_by.values() for m in msgs)
    new_state = {"version": STATE_VERSION, "platform": PLATFORM, **_options_key(rubric, options),
                 "dataset_id": dataset["id"], "records": records_now, "invalid": invalid_by}
    return ChangeSet(table=table, replaced=replaced, deleted=deleted, state=new_state,
                invalid=flat, counts=dict(found.counts), n_items=n_items, items_read=len(todo),
                notes=notes)
