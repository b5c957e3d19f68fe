"""Annotator users on Argilla, and answers submitted *as* them through the server's API.

Used by the demo's simulated annotators and the end-to-end test: each answer goes through the
same endpoint the annotation UI uses (``POST /api/v1/records/{id}/responses`` with the
annotator's own API key), so the server sees exactly what a person's submission would be.
Idempotent: records the annotator already answered are skipped.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence
from types import SimpleNamespace
from typing import Any

from brun_label.backends.argilla import ArgillaBackend
from brun_label.backends.argilla_errors import argilla_errors
from brun_label.backends.argilla_records import argilla_value, record_order
from brun_label.errors import NotFoundError
from brun_label.layout import sibling_counts
from brun_label.rubric import Rubric, slot_name


def ensure_annotator(backend: ArgillaBackend, username: str, password: str, workspace: str | None = None) -> str:
    """Create (once) an annotator user in the workspace; return their API key (owner access needed)."""
    ws = backend._workspace(workspace)
    users = backend._request("GET", "/api/v1/users", "list users")["items"]
    user = next((u for u in users if u["username"] == username), None)
    if user is None:
        user = backend._request("POST", "/api/v1/users", f"create user {username!r}", json={
            "username": username, "first_name": username, "password": password, "role": "annotator"})
    members = backend._request("GET", f"/api/v1/workspaces/{ws['id']}/users", "list workspace users")["items"]
    if not any(m["id"] == user["id"] for m in members):
        backend._request("POST", f"/api/v1/workspaces/{ws['id']}/users", f"add {username!r} to the workspace",
                         json={"user_id": user["id"]})
    full = backend._request("GET", f"/api/v1/users/{user['id']}", f"read user {username!r}")
    return str(full["api_key"])


def submit_answers(
    backend: ArgillaBackend,
    rubric: Rubric,
    dataset_name: str,
    username: str,
    api_key: str,
    answers: Sequence[Mapping[str, Any]],
    *,
    workspace: str | None = None,
) -> int:
    """Submit ``answers`` as that annotator in the dataset and its siblings (other candidate counts).

    Returns the number of records answered now (records they had already answered are skipped).
    """
    known = backend._target_names(dataset_name, SimpleNamespace(workspace=workspace))
    names = [dataset_name, *sorted(sibling_counts(dataset_name, known).values())]
    return sum(_submit_one(backend, rubric, name, username, api_key, answers, workspace=workspace) for name in names)


def _submit_one(
    backend: ArgillaBackend,
    rubric: Rubric,
    dataset_name: str,
    username: str,
    api_key: str,
    answers: Sequence[Mapping[str, Any]],
    *,
    workspace: str | None = None,
) -> int:
    """Submit ``answers`` (annotation-table rows of one annotator) as that annotator.

    Returns the number of records answered now (records they had already answered are skipped).
    """
    ws = backend._workspace(workspace)
    dataset = backend._dataset(dataset_name, ws)
    if dataset is None:
        raise NotFoundError(f"Argilla at {backend.url}: no dataset {dataset_name!r}")
    me = backend._request("GET", "/api/v1/me", "read the annotator", headers={"X-Argilla-Api-Key": api_key})
    by_item: dict[str, list[Mapping[str, Any]]] = defaultdict(list)
    for row in answers:
        by_item[str(row["item_id"])].append(row)
    done = 0
    for page, _total in backend._records(dataset["id"], include=("responses",)):
        for record in page:
            sample_id, order = record_order(record)
            rows = by_item.get(sample_id)
            if not rows or any(r.get("user_id") == me["id"] for r in record.get("responses") or []):
                continue
            values: dict[str, dict[str, Any]] = {}
            for row in rows:
                q = rubric.question(str(row["question"]))
                if q.type == "flags" and not row["value"]:
                    continue  # no flag ticked: the UI leaves the question unanswered, so do we
                slot = q.name if q.scope == "item" else slot_name(q.name, order.index(str(row["candidate_id"])))
                values[slot] = {"value": argilla_value(q, row["value"], order)}
            with argilla_errors(backend.url, f"submit {username}'s answers"):
                response = backend.client.http_client.post(
                    f"/api/v1/records/{record['id']}/responses",
                    json={"status": "submitted", "values": values},
                    headers={"X-Argilla-Api-Key": api_key},
                )
                response.raise_for_status()
            done += 1
    return done
