"""Label Studio's own mechanism for adaptive overlap: a per-task ``overlap`` its label stream honours.

Adapter. Measured on Label Studio 1.23.2 (open-source edition): ``PATCH /api/tasks/{id}`` accepts
``overlap`` and ``is_labeled``; the label stream (``projects/functions/next_task.py``) serves only
tasks with ``is_labeled`` false, and never to a person who already annotated the task; the server
sets ``is_labeled`` again when ``total_annotations >= overlap`` after each annotation. So raising a
task's overlap by one and clearing ``is_labeled`` gives it exactly one more annotator slot.

Saving the project's "annotations per task" setting in the UI (or a push with another
``--annotators-per-item``) rewrites every task's overlap: ``brun-label route`` therefore re-applies
every routed target from its state on each run.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from brun_label.backends.label_studio import LabelStudioBackend
from brun_label.backends.label_studio_errors import sdk_errors
from brun_label.errors import NotFoundError, ServerError
from brun_label.layout import sibling_counts


def _patch(backend: LabelStudioBackend, task_id: int, body: dict[str, Any]) -> None:
    with sdk_errors(backend.url, f"setting task {task_id}'s overlap"):
        response = backend.client._client_wrapper.httpx_client.request(
            f"api/tasks/{task_id}/", method="PATCH", json=body)
    if not 200 <= response.status_code < 300:
        raise ServerError(f"Label Studio at {backend.url} refused to change task {task_id} "
                          f"(HTTP {response.status_code})")


def _projects(backend: LabelStudioBackend, title: str) -> list[Any]:
    """The project and its siblings holding other candidate counts (:func:`brun_label.layout.count_target`)."""
    project = backend.find_project(title)
    if project is None:
        raise NotFoundError(f"no Label Studio project titled {title!r} at {backend.url}")
    out = [project]
    for name in sibling_counts(title, backend._target_names(title, None)).values():
        sibling = backend.find_project(name)
        if sibling is not None:
            out.append(sibling)
    return out


def _tasks(backend: LabelStudioBackend, title: str, include: str) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for project in _projects(backend, title):
        with sdk_errors(backend.url, "listing tasks"):
            for t in backend.client.tasks.list(project=project.id, fields="task_only", include=include,
                                               page_size=1000):
                out[str((t.data or {}).get("brun_sample_id"))] = t
    return out


def set_overlaps(backend: LabelStudioBackend, title: str, targets: Mapping[str, int], *,
                 dry_run: bool = False) -> dict[str, int]:
    """Give each sample's task the overlap ``targets[sample_id]``; returns how many tasks changed per target.

    A task whose overlap already equals its target is left alone (re-running changes nothing);
    a sample with no task is an error naming it.
    """
    changed: dict[str, int] = {}
    if not targets:
        return changed
    tasks = _tasks(backend, title, "id,data,overlap,total_annotations")
    missing = sorted(set(targets) - set(tasks))
    if missing:
        raise NotFoundError(f"Label Studio project {title!r} has no task for sample {missing[0]!r} "
                            f"({len(missing)} missing): push the project first")
    for sample_id, target in targets.items():
        task = tasks[sample_id]
        if int(getattr(task, "overlap", 1) or 1) == target:
            continue
        done = int(getattr(task, "total_annotations", 0) or 0)
        if not dry_run:
            _patch(backend, int(task.id), {"overlap": int(target), "is_labeled": done >= target})
        changed[str(target)] = changed.get(str(target), 0) + 1
    return changed


def task_overlaps(backend: LabelStudioBackend, title: str) -> dict[str, int]:
    """Each sample's current task overlap (what the label stream works towards)."""
    return {sid: int(getattr(t, "overlap", 1) or 1) for sid, t in _tasks(backend, title, "id,data,overlap").items()}
