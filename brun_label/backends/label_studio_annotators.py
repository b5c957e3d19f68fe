"""Annotator users on Label Studio, and annotations submitted on their behalf through the API.

Used by the demo's simulated annotators and the end-to-end test. The open-source edition has no
roles and no per-user tokens we could read, so the admin creates each annotation with
``completed_by`` set to the annotator (the same request the UI makes, attributed to them).
Idempotent: tasks the annotator already annotated are skipped.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence
from typing import Any

from brun_label.backends.label_studio import LabelStudioBackend
from brun_label.backends.label_studio_errors import sdk_errors
from brun_label.backends.label_studio_format import ConfigIndex, _region
from brun_label.errors import NotFoundError
from brun_label.layout import ORDER_KEY, SAMPLE_ID_KEY, encode_answer, sibling_counts
from brun_label.rubric import Rubric, slot_name


def ensure_annotator(backend: LabelStudioBackend, email: str) -> int:
    """Create (once) a user with this email in the admin's organisation; return the user id."""
    client = backend.client
    with sdk_errors(backend.url, "listing users"):
        for user in client.users.list():
            if (user.email or "").lower() == email.lower():
                return int(user.id)
        org = client.users.whoami().active_organization
        name = email.split("@")[0]
        user = client.users.create(username=name, email=email, first_name=name, active_organization=org)
    return int(user.id)


def submit_answers(
    backend: LabelStudioBackend,
    rubric: Rubric,
    project_title: str,
    email: str,
    answers: Sequence[Mapping[str, Any]],
) -> int:
    """Submit ``answers`` as annotations by ``email`` in the project and its siblings (other candidate counts)."""
    known = backend._target_names(project_title, None)
    titles = [project_title, *sorted(sibling_counts(project_title, known).values())]
    return sum(_submit_one(backend, rubric, title, email, answers) for title in titles)


def _submit_one(
    backend: LabelStudioBackend,
    rubric: Rubric,
    project_title: str,
    email: str,
    answers: Sequence[Mapping[str, Any]],
) -> int:
    """Submit ``answers`` (annotation-table rows of one annotator) as annotations by ``email``.

    Returns the number of tasks annotated now (tasks they had already annotated are skipped).
    """
    project = backend.find_project(project_title)
    if project is None:
        raise NotFoundError(f"no Label Studio project titled {project_title!r} at {backend.url}")
    user_id = ensure_annotator(backend, email)
    config = ConfigIndex(project.label_config)
    by_item: dict[str, list[Mapping[str, Any]]] = defaultdict(list)
    for row in answers:
        by_item[str(row["item_id"])].append(row)
    client = backend.client
    done = 0
    with sdk_errors(backend.url, f"annotating as {email}"):
        tasks = list(client.tasks.list(project=project.id, fields="task_only", include="id,data", page_size=1000))
        for task in tasks:
            data = task.data or {}
            rows = by_item.get(str(data.get(SAMPLE_ID_KEY)))
            order = data.get(ORDER_KEY)
            if not rows or not isinstance(order, list):
                continue
            if any(_completed_by(a) == user_id for a in client.annotations.list(id=task.id)):
                continue
            result = []
            for row in rows:
                q = rubric.question(str(row["question"]))
                if q.type == "flags" and not row["value"]:
                    continue  # no flag ticked: the UI leaves the question unanswered, so do we
                slot = q.name if q.scope == "item" else slot_name(q.name, order.index(str(row["candidate_id"])))
                tag, to_name = config.controls[slot]
                result.append(_region(tag, slot, to_name, encode_answer(q, row["value"], order)))
            client.annotations.create(id=task.id, result=result, completed_by=user_id)
            done += 1
    return done


def _completed_by(annotation: Any) -> int | None:
    raw = getattr(annotation, "completed_by", None)
    if isinstance(raw, dict):
        raw = raw.get("id")
    return int(raw) if isinstance(raw, int) else None
