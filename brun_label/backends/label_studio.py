"""The Label Studio backend: push samples as tasks, pull every annotation back as the long table.

Adapter over ``label-studio-sdk`` 2.x, selected by ``--to/--from label-studio``; it reads
``LABEL_STUDIO_URL`` and ``LABEL_STUDIO_API_KEY`` (a legacy token or a personal access token)
when not given them. The task format lives in :mod:`brun_label.backends.label_studio_format`.

push
    Creates the project (rubric config, guidelines as instructions, predictions hidden from
    annotators unless the project turns them on) or reuses the one with that title. A different
    config is refused unless ``update_config``, and even then only if the server's validate
    endpoint says no existing annotation would be orphaned. Each task carries the stable sample
    id, so samples already in the project are skipped: a re-push adds nothing, a push of an
    extended file adds only the new samples, and a push killed midway (even one whose last
    request reached the server but whose answer was lost) resumes on re-run with exactly one
    task per sample. Tasks go in chunked ``import_tasks`` calls with their judge predictions
    inside (no extra requests), never retried blindly (a retry could duplicate a chunk).
    Concurrent pushes of the same file (one machine or several) end exact by check-and-heal, as
    the server has no lock and no idempotency: see :func:`duplicate_tasks` for the rule and
    :meth:`LabelStudioBackend.heal` for when it runs.
pull
    One JSON export of the project (the fastest read path), plus the predictions when asked for
    judge rows; every region is validated against the project config and the rubric, and the
    ones that do not fit are reported in ``PullResult.invalid`` rather than used.
"""

from __future__ import annotations

import contextlib
import gc
import json
import os
import socket
import time
from collections import Counter
from collections.abc import Iterable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlparse

import httpx

from brun_label.backends.base import (
    ProgressFn,
    PullOptions,
    PullResult,
    PushOptions,
    PushResult,
    pulled_table,
    recorded_rubric,
    rubric_change_note,
)
from brun_label.backends.by_count import pull_by_count, push_by_count
from brun_label.backends.label_studio_errors import detail, sdk_errors
from brun_label.backends.label_studio_format import (
    ANNOTATOR_COLUMNS,
    BLINDING_NOTE,
    PLATFORM,
    ConfigIndex,
    TaskReader,
    chunks,
    instructions_html,
    judge_models,
    slot_count,
    task_payload,
    user_names,
)
from brun_label.errors import BackendError, ConflictError, InputError, NotFoundError, ServerError
from brun_label.layout import (
    RUBRIC_KEY,
    SAMPLE_ID_KEY,
    candidate_order,
)
from brun_label.model import JUDGE_PREFIX, Sample
from brun_label.render_label_studio import render_label_studio
from brun_label.rubric import Rubric
from brun_label.secrets import register_secret

#: Tasks per import request, and a byte cap far below the server's 250 MB request limit
#: (measured: 10 requests of 1,000 tasks cost the same as one of 10,000).
CHUNK_TASKS = 1000
CHUNK_BYTES = 16 * 2**20
#: Seconds to wait for one answer (a 10k-task export takes ≈ 20 s); connecting gets 10 s.
READ_TIMEOUT = 600.0
CONNECT_TIMEOUT = 10.0
#: Project fields read by push and pull.
PROJECT_FIELDS = "id,title,label_config,task_number,maximum_annotations,show_collab_predictions"
#: The Data Manager's columns that show predictions (hidden on the tab push creates).
PREDICTION_COLUMNS = ("total_predictions", "predictions_score", "predictions_model_versions", "predictions_results")
#: Label Studio refuses longer project titles (HTTP 400).
MAX_TITLE = 50
#: The most candidate slots a config can have (letters a..z).
MAX_SLOTS = 26
#: Reads are retried once (after 1 s) on a 5xx or a dropped connection; a wrong URL fails fast.
READ_RETRIES = 1
#: Never retry a write: the server may have applied it before the answer was lost.
NO_RETRY: dict[str, Any] = {"max_retries": 0}
#: Task ids per ``delete_tasks`` action when healing duplicates.
DELETE_CHUNK = 1000
#: Up to this many duplicates, each is asked for its annotations and drafts before it is deleted
#: (one request each, ≈ 50 ms); more come from a race seconds old, trusted to the listing's counts.
VERIFY_MAX = 200
#: Listings of a title that names several projects before calling it a conflict (0.5 s apart).
SETTLE_TRIES = 6
#: How often a deletion of duplicates that the server failed (HTTP 5xx) is sent again.
DELETE_RETRIES = 3
#: Seconds between polls of an export snapshot still being built (a server with Redis builds
#: it in the background).
EXPORT_POLL_SECONDS = 0.5


#: The title of a pull's export snapshot: ``brun-label pull <host> <pid> <unix time>``.
SNAPSHOT_PREFIX = "brun-label pull"


def snapshot_title(host: str, pid: int, when: float) -> str:
    """The title a pull gives its export snapshot, naming who made it and when.

    >>> snapshot_title("lab-3", 4242, 1700000000.7)
    'brun-label pull lab-3 4242 1700000000'
    """
    return f"{SNAPSHOT_PREFIX} {host.replace(' ', '_')} {pid} {int(when)}"


def stale_snapshot(title: str, host: str, now: float) -> bool:
    """Whether a pull's snapshot was left by a pull that died (SIGKILL, power loss) before deleting it.

    One from this host whose process is gone, or one older than twice the read timeout (no
    pull waits that long for its download).

    >>> old = snapshot_title("lab-3", 4242, 1700000000)
    >>> stale_snapshot(old, "other-host", 1700000060), stale_snapshot(old, "other-host", 1700002000)
    (False, True)
    >>> stale_snapshot("an export someone made in the UI", "lab-3", 1800000000)
    False
    """
    parts = title.split(" ")
    if len(parts) != 5 or " ".join(parts[:2]) != SNAPSHOT_PREFIX or not (parts[3].isdigit() and parts[4].isdigit()):
        return False
    if now - int(parts[4]) > 2 * READ_TIMEOUT:
        return True
    pid = int(parts[3])
    if parts[2] != host.replace(" ", "_") or pid == os.getpid():
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False
    return False


@dataclass
class TaskRef:
    """One task of a project as the heal step sees it."""

    id: int
    annotated: bool
    """It holds an annotation, a skip or a draft: a person's work, never deleted."""


@dataclass
class TaskIndex:
    """The project's tasks by sample id (``n_tasks`` also counts tasks without one)."""

    by_sample: dict[str, list[TaskRef]] = field(default_factory=dict)
    n_tasks: int = 0
    rubrics: set[str] = field(default_factory=set)
    """The rubric identities the tasks record."""


def duplicate_tasks(by_sample: dict[str, list[TaskRef]]) -> tuple[list[int], list[str]]:
    """The tasks to delete so that each sample keeps one task, and the samples that cannot.

    The rule is deterministic, so concurrent healers agree: per sample, the survivor is the
    lowest task id among the annotated tasks, or the lowest id when none is annotated (a new
    task always gets a higher id than every existing one, so the survivor never changes while
    a racing push is still importing); unannotated duplicates are deleted; a sample with
    several annotated tasks keeps all of them and is reported (merging people's work is not a
    tool's call).

    >>> dup = {"s1": [TaskRef(7, False), TaskRef(3, False)], "s2": [TaskRef(4, False), TaskRef(9, True)],
    ...        "s3": [TaskRef(5, True), TaskRef(8, True), TaskRef(10, False)], "s4": [TaskRef(6, False)]}
    >>> duplicate_tasks(dup)
    ([7, 4, 10], ['s3'])
    """
    doomed: list[int] = []
    conflicts: list[str] = []
    for sid, tasks in by_sample.items():
        if len(tasks) < 2:
            continue
        annotated = sorted(t.id for t in tasks if t.annotated)
        keep = set(annotated) if annotated else {min(t.id for t in tasks)}
        if len(annotated) > 1:
            conflicts.append(sid)
        doomed.extend(t.id for t in tasks if t.id not in keep)
    return doomed, conflicts


@contextlib.contextmanager
def gc_paused() -> Iterator[None]:
    """Pause the cyclic garbage collector while building millions of small, acyclic objects.

    With a 50 MB export parsed, every collection rescans all of it: measured on 10k tasks, the
    JSON parse went from 1.5 s to 0.3 s and the mapping from 2.3 s to 0.9 s with it paused.
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def _same_config(a: str | None, b: str) -> bool:
    return (a or "").strip() == b.strip()


class LabelStudioBackend:
    """Push to and pull from a Label Studio project (open-source 1.23 or later)."""

    name = PLATFORM

    def __init__(self, url: str | None = None, api_key: str | None = None) -> None:
        url = url or os.environ.get("LABEL_STUDIO_URL")
        api_key = api_key or os.environ.get("LABEL_STUDIO_API_KEY")
        if not url:
            raise InputError("no Label Studio URL: set LABEL_STUDIO_URL or pass --url", field="--url")
        parsed = urlparse(url)
        if parsed.scheme not in ("http", "https") or not parsed.netloc:
            raise InputError(f"not an http(s) URL: {url!r} (e.g. http://localhost:8080)", field="--url")
        if not api_key:
            raise InputError(
                "no Label Studio API key: set LABEL_STUDIO_API_KEY (or name another variable with --api-key-env)",
                field="--api-key-env",
            )
        register_secret(api_key)
        self.url = url.rstrip("/")
        self._api_key = api_key
        self._client: Any = None

    # -- connection -------------------------------------------------------------------------

    @property
    def client(self) -> Any:
        """The SDK client (created on first use; creating it checks a JWT key's expiry)."""
        if self._client is None:
            from label_studio_sdk import LabelStudio

            http = httpx.Client(timeout=httpx.Timeout(READ_TIMEOUT, connect=CONNECT_TIMEOUT), follow_redirects=True)
            with sdk_errors(self.url, "connecting"):
                self._client = LabelStudio(base_url=self.url, api_key=self._api_key, httpx_client=http,
                                           timeout=READ_TIMEOUT, max_retries=READ_RETRIES)
        return self._client

    def find_project(self, title: str) -> Any | None:
        """Return the project with exactly this title (None if there is none)."""
        for attempt in range(SETTLE_TRIES):
            with sdk_errors(self.url, "listing projects"):
                # Only the fields used: the default also counts annotations, predictions… per project.
                found = [p for p in self.client.projects.list(title=title, include=PROJECT_FIELDS)
                         if p.title == title]
            # Pushes that created a project each at the same time settle on one within a request
            # or two (:meth:`_settle_project`): look again before calling it a conflict.
            if len(found) < 2 or attempt == SETTLE_TRIES - 1:
                break
            time.sleep(0.5)
        if len(found) > 1:
            ids = ", ".join(str(p.id) for p in found)
            raise ConflictError(f"{len(found)} Label Studio projects are titled {title!r} (ids {ids}); rename all but one")
        # The listing already holds the config and the task count: no second request.
        return found[0] if found else None

    def existing_sample_ids(self, project_id: int) -> set[str]:
        """Return the sample ids of the project's tasks (one paged listing of ids and data)."""
        return set(self.task_index(project_id).by_sample)

    def task_index(self, project_id: int) -> TaskIndex:
        """List the project's tasks once: id, sample id, and whether a person worked on it."""
        index = TaskIndex()
        with sdk_errors(self.url, "listing existing tasks"):
            for task in self.client.tasks.list(project=project_id, fields="task_only",
                                               include="id,data,total_annotations,cancelled_annotations,drafts",
                                               page_size=1000):
                index.n_tasks += 1
                sid = (task.data or {}).get(SAMPLE_ID_KEY)
                recorded = (task.data or {}).get(RUBRIC_KEY)
                if isinstance(recorded, str):
                    index.rubrics.add(recorded)
                if isinstance(sid, str):
                    worked = bool(getattr(task, "total_annotations", 0) or getattr(task, "cancelled_annotations", 0)
                                  or getattr(task, "drafts", None))
                    index.by_sample.setdefault(sid, []).append(TaskRef(int(task.id), worked))
        return index

    def task_count(self, project_id: int) -> int | None:
        """The number of tasks in the project now (one small request); None when it is gone."""
        with sdk_errors(self.url, "counting tasks"):
            found = [p for p in self.client.projects.list(ids=str(project_id), include="id,task_number")
                     if int(p.id) == project_id]
        return int(getattr(found[0], "task_number", 0) or 0) if found else None

    def heal(self, project_id: int, index: TaskIndex, notes: list[str], *, dry_run: bool = False,
             why: str = "") -> set[int]:
        """Delete the duplicate tasks :func:`duplicate_tasks` names; note what was done; return their ids.

        Runs on every push that lists the project (so a re-push reports and heals duplicates left
        by an older race instead of hiding them) and after an import whenever the project's task
        count shows that someone else imported at the same time. Of several racing pushes, the
        last to finish its import sees every task and heals what is left; concurrent healers
        delete the same tasks (a task already gone is not an error).
        """
        doomed, conflicts = duplicate_tasks(index.by_sample)
        if doomed and len(doomed) <= VERIFY_MAX:
            doomed, conflicts = self._verified(index, doomed)
        if conflicts:
            notes.append(f"{len(conflicts)} sample(s) have annotations on more than one task (e.g. {conflicts[0]}); "
                         "all of those tasks were kept: merge them by hand")
        if not doomed:
            return set()
        n_samples = sum(1 for tasks in index.by_sample.values() if {t.id for t in tasks} & set(doomed))
        if dry_run:
            notes.append(f"would remove {len(doomed)} duplicate task(s) of {n_samples} sample(s){why}")
            return set()
        for start in range(0, len(doomed), DELETE_CHUNK):
            chunk = doomed[start:start + DELETE_CHUNK]
            self._delete_tasks(project_id, chunk)
        notes.append(f"removed {len(doomed)} duplicate task(s) of {n_samples} sample(s){why} "
                     "(kept the annotated task, else the lowest task id)")
        return set(doomed)

    def _delete_tasks(self, project_id: int, ids: list[int]) -> None:
        """Delete these tasks (idempotent: ids already gone are skipped by the server).

        Two healers deleting the same tasks at once can make the server answer 500; the same
        deletion is then sent again, a few times.
        """
        for attempt in range(DELETE_RETRIES + 1):
            try:
                with sdk_errors(self.url, "removing duplicate tasks"):
                    self.client.actions.create(id="delete_tasks", project=project_id,
                                               selected_items={"all": False, "included": ids},
                                               request_options=NO_RETRY)
                return
            except ServerError as exc:
                if attempt == DELETE_RETRIES:
                    raise ServerError(f"{exc}; re-run the same push to finish removing duplicates") from None
                time.sleep(0.5 * (attempt + 1))

    def _verified(self, index: TaskIndex, doomed: list[int]) -> tuple[list[int], list[str]]:
        """Ask each doomed task for its annotations and drafts (not the listing's counters) and
        recompute, so that a person's work is never deleted on a stale count."""
        http = self.client._client_wrapper.httpx_client
        worked: set[int] = set()
        checked: set[int] = set()
        while True:
            for tid in set(doomed) - checked:
                for part in ("annotations/", "drafts"):  # the server's own spellings
                    with sdk_errors(self.url, "checking a duplicate task before removing it"):
                        response = http.request(f"api/tasks/{tid}/{part}", method="GET")
                        if response.status_code == 404:
                            continue
                        if not 200 <= response.status_code < 300:
                            raise ServerError(f"Label Studio at {self.url} answered HTTP {response.status_code} "
                                              f"listing the {part.strip('/')} of task {tid}")
                        if response.json():
                            worked.add(tid)
                checked.add(tid)
            by_sample = {sid: [TaskRef(t.id, t.annotated or t.id in worked) for t in tasks]
                         for sid, tasks in index.by_sample.items()}
            again, conflicts = duplicate_tasks(by_sample)
            if set(again) <= checked:
                return again, conflicts
            doomed = again

    def _settle_project(self, title: str, project: Any, xml: str) -> Any:
        """After creating a project, make racing creators agree on one project with this title.

        Survivor: the lowest project id. A project this push created and that lost is deleted if
        it is still empty (the racer that created the survivor is importing there).
        """
        with sdk_errors(self.url, "listing projects"):
            same = sorted((p for p in self.client.projects.list(title=title, include=PROJECT_FIELDS)
                           if p.title == title), key=lambda p: int(p.id))
        if not same or int(same[0].id) == int(project.id):
            return project
        survivor = same[0]
        if not _same_config(survivor.label_config, xml):
            raise ConflictError(f"another push created Label Studio project {title!r} (id {survivor.id}) at the "
                                "same time with a different labeling config; nothing was imported")
        # Empty, or holding only tasks a racing push imported before it saw the survivor (its
        # ids can commit before a lower one): nobody's work. That push imports again (see push).
        mine = self.task_index(int(project.id))
        if not any(t.annotated for tasks in mine.by_sample.values() for t in tasks):
            with sdk_errors(self.url, "removing the project a racing push made redundant"):
                self.client.projects.delete(id=project.id, request_options=NO_RETRY)
        return survivor

    def project_url(self, project_id: int) -> str:
        """The project's page in the Label Studio UI."""
        return f"{self.url}/projects/{project_id}/data"

    # -- push -------------------------------------------------------------------------------

    def _slots(self, samples: Sequence[Sample], options: PushOptions, rubric: Rubric, current: str | None) -> int:
        needed = max([2, *(len(s.candidates) for s in samples)])
        if options.n_candidates is not None:
            if options.n_candidates < needed:
                raise InputError(
                    f"--candidates {options.n_candidates} is fewer than the {needed} candidates some samples have",
                    field="--candidates",
                )
            return options.n_candidates
        if needed > MAX_SLOTS:
            raise InputError(f"a sample has {needed} candidates; at most {MAX_SLOTS} can be shown", field="candidates")
        if current:  # keep an existing project's slot count when it fits
            for n in range(needed, MAX_SLOTS + 1):
                if _same_config(current, render_label_studio(rubric, n_candidates=n)):
                    return n
        return needed

    def _check_config_change(self, project: Any, xml: str, title: str) -> None:
        """Ask the server whether ``xml`` would orphan existing annotations; refuse if so."""
        from label_studio_sdk.core.api_error import ApiError

        with sdk_errors(self.url, "validating the new config"):
            try:
                self.client.projects.validate_label_config(id=project.id, label_config=xml)
            except ApiError as exc:
                if exc.status_code != 400:
                    raise
                raise ConflictError(
                    f"--update-config refused for project {title!r}: Label Studio says the new config does not fit "
                    f"its existing annotations ({detail(exc.body)}); nothing was changed"
                ) from None

    def push(
        self, samples: Sequence[Sample], rubric: Rubric, options: PushOptions, progress: ProgressFn | None = None
    ) -> PushResult:
        """Push to the project, samples with another candidate count to its siblings (see ``by_count``)."""
        result = push_by_count(self, samples, rubric, options, progress)
        result.notes.append(BLINDING_NOTE)
        return result

    def _target_slots(self, name: str, options: Any) -> int | None:
        """The candidate slots of the project titled ``name`` (None if there is none)."""
        project = self.find_project(name)
        return slot_count(ConfigIndex(project.label_config)) if project is not None else None

    def _target_names(self, base: str, options: Any) -> list[str]:
        """Titles of the projects whose title contains ``base`` (its possible siblings)."""
        with sdk_errors(self.url, "listing projects"):
            return [str(p.title) for p in self.client.projects.list(title=base, include="id,title")]

    def _push_one(
        self, samples: Sequence[Sample], rubric: Rubric, options: PushOptions, progress: ProgressFn | None = None,
        *, rerouted: bool = False,
    ) -> PushResult:
        """Create or reuse the project and import the samples that are not in it yet."""
        title = options.target
        if not title.strip() or len(title) > MAX_TITLE:
            raise InputError(f"a Label Studio project title needs 1 to {MAX_TITLE} characters, got {len(title)}",
                             field="--project")
        unique: dict[str, Sample] = {}
        for s in samples:
            unique.setdefault(s.id, s)
        notes: list[str] = []
        if len(unique) < len(samples):
            notes.append(f"{len(samples) - len(unique)} sample(s) repeat an earlier sample id and were left out")
        project = self.find_project(title)
        n_slots = self._slots(list(unique.values()), options, rubric, project.label_config if project else None)
        xml = render_label_studio(rubric, n_candidates=n_slots)
        config = ConfigIndex(xml)
        created = project is None
        config_changed = False
        existing: set[str] = set()
        n_before = 0  # tasks in the project before this push imports (after healing)
        if project is not None:
            if not _same_config(project.label_config, xml):
                config_changed = True
                if not options.update_config:
                    raise ConflictError(
                        f"Label Studio project {title!r} has a different labeling config than rubric "
                        f"{rubric.name} with {n_slots} candidate slots; re-run with --update-config to replace it "
                        "(refused if existing annotations would be orphaned), or push to a new project"
                    )
                self._check_config_change(project, xml, title)
                if not options.dry_run:
                    with sdk_errors(self.url, "updating the labeling config"):
                        self.client.projects.update(id=project.id, label_config=xml, request_options=NO_RETRY)
                notes.append(("would replace" if options.dry_run else "replaced") + " the project's labeling config")
            if int(getattr(project, "task_number", 0) or 0) > 0:
                index = self.task_index(project.id)
                existing = set(index.by_sample)
                if len(existing) < len(unique):
                    change = rubric_change_note(index.rubrics, rubric, f"project {title!r}")
                    if change:
                        notes.append(change)
                n_before = index.n_tasks - len(self.heal(project.id, index, notes, dry_run=options.dry_run))
        todo = [s for sid, s in unique.items() if sid not in existing]
        n_existing = len(unique) - len(todo)
        result = PushResult(
            platform=PLATFORM, target=title, created=created, n_samples=len(unique), n_existing=n_existing,
            n_added=len(todo), config_changed=config_changed, dry_run=options.dry_run,
            url=self.project_url(project.id) if project is not None else None, notes=notes,
        )
        if options.dry_run:
            if created:
                notes.append(f"would create project {title!r} with rubric {rubric.name} ({n_slots} candidate slots)")
            return result
        if project is None:
            project = self._settle_project(title, self._create_project(title, rubric, xml, options), xml)
            result.url = self.project_url(project.id)
        elif options.annotators_per_item and getattr(project, "maximum_annotations", None) != options.annotators_per_item:
            with sdk_errors(self.url, "setting annotations per task"):
                self.client.projects.update(id=project.id, maximum_annotations=options.annotators_per_item,
                                            request_options=NO_RETRY)
            notes.append(f"annotations per task set to {options.annotators_per_item}")
        ours = self._import(project.id, todo, rubric, config, n_slots, options, notes, progress)
        self._apply_judge_mode(project.id, options.show_judge, unique.values(), notes)
        count = self.task_count(project.id) if todo else None
        if todo and count is None and not rerouted:
            # A racing push created the same title first, and removed this one after the import.
            again = self._push_one(samples, rubric, options, progress, rerouted=True)
            again.notes.insert(0, "the project this push first used was a duplicate that a racing push removed; "
                                  "pushed again into the one that stays")
            return again
        if todo and count != n_before + len(ours):
            # Someone imported (or deleted) at the same time: list once more and heal.
            removed = self.heal(project.id, self.task_index(project.id), notes,
                                why=" left by another push running at the same time")
            lost = len(set(ours) & removed)
            if lost:
                result.n_added -= lost
                result.n_existing += lost
        return result

    def _apply_judge_mode(self, project_id: int, show_judge: bool, samples: Iterable[Sample],
                          notes: list[str]) -> None:
        """Pre-label the project's tasks with the judge's predictions only if ``show_judge``.

        Label Studio pre-labels with the predictions of the project's ``model_version`` (set by
        the first import of predictions, cleared when pre-labelling is turned off), so turning it
        on also names the judge model most samples were judged by. The setting is the project's:
        it applies to every task from now on.
        """
        with sdk_errors(self.url, "reading the project's settings"):
            project = self.client.projects.get(id=project_id)
        update: dict[str, Any] = {}
        if bool(project.show_collab_predictions) != show_judge:
            update["show_collab_predictions"] = show_judge
        if show_judge and not project.model_version:
            models = Counter(judge_models(samples))
            if models:
                update["model_version"] = models.most_common(1)[0][0]
        if not update:
            return
        with sdk_errors(self.url, "setting whether annotators see the judge's predictions"):
            self.client.projects.update(id=project_id, **update, request_options=NO_RETRY)
        if "show_collab_predictions" in update:
            notes.append("tasks are now pre-labelled with the judge's predictions (--show-judge)" if show_judge else
                         "tasks are no longer pre-labelled with the judge's predictions (push without --show-judge)")

    def _create_project(self, title: str, rubric: Rubric, xml: str, options: PushOptions) -> Any:
        kwargs: dict[str, Any] = {
            "title": title,
            "label_config": xml,
            "description": f"{rubric.title} (brun-label rubric {rubric.identity} v{rubric.version})",
            # The guidelines and this config's hotkeys, opened with the label stream.
            "expert_instruction": instructions_html(rubric, slot_count(ConfigIndex(xml))),
            "show_instruction": True,
            # Judge answers are stored as predictions. "Use predictions to pre-label tasks": off
            # unless push --show-judge, so the label stream opens tasks without them (showing
            # them would anchor the human answers).
            "show_collab_predictions": bool(options.show_judge),
        }
        if options.annotators_per_item:
            kwargs["maximum_annotations"] = options.annotators_per_item
        with sdk_errors(self.url, f"creating project {title!r}"):
            project = self.client.projects.create(**kwargs, request_options=NO_RETRY)
        self._hide_prediction_columns(int(project.id), predictions=not options.show_judge)
        return project

    def _hide_prediction_columns(self, project_id: int, *, predictions: bool = True) -> None:
        """Open the project's Data Manager on a tab whose prediction columns are hidden.

        Label Studio's community edition shows the Data Manager's prediction columns (results,
        scores, model versions) to every member and has no roles to stop it; a tab that hides
        them keeps the judge's answers out of sight by default (a member can still show them).
        """
        from label_studio_sdk.core.api_error import ApiError

        # Who answered what is hidden too (no blinding in the community edition: BLINDING_NOTE).
        columns = [f"tasks:{c}" for c in (PREDICTION_COLUMNS if predictions else ()) + ANNOTATOR_COLUMNS]
        body = {"project": project_id, "data": {"title": "Tasks", "hiddenColumns": {"explore": columns,
                                                                                    "labeling": columns}}}
        with sdk_errors(self.url, "hiding the Data Manager's prediction columns"):
            response = self.client._client_wrapper.httpx_client.request(
                "api/dm/views/", method="POST", json=body, request_options=NO_RETRY)
            if not 200 <= response.status_code < 300:
                raise ApiError(status_code=response.status_code, headers=dict(response.headers), body=response.text)

    def _import(
        self, project_id: int, todo: list[Sample], rubric: Rubric, config: ConfigIndex, n_slots: int,
        options: PushOptions, notes: list[str], progress: ProgressFn | None,
    ) -> list[int]:
        """Import ``todo`` in chunks; return the ids of the tasks created."""
        problems: list[str] = []

        def payloads() -> Any:
            for s in todo:
                task, bad = task_payload(s, rubric, candidate_order(s, seed=options.seed), config, n_slots)
                problems.extend(bad)
                yield task

        ids: list[int] = []
        max_tasks = options.chunk_size or CHUNK_TASKS
        with gc_paused():  # building and encoding ~50 small objects per task
            for batch in chunks(payloads(), max_tasks, CHUNK_BYTES):
                ids += self._import_chunk(project_id, batch, len(ids), len(todo), progress)
        if problems:
            notes.append(f"{len(problems)} judge answer(s) do not fit the rubric and were not imported, e.g. {problems[0]}")
        return ids

    def _import_chunk(self, project_id: int, batch: list[dict[str, Any]], done: int, total: int,
                      progress: ProgressFn | None) -> list[int]:
        try:
            with sdk_errors(self.url, "importing tasks"):
                answer = self.client.projects.import_tasks(id=project_id, request=batch, return_task_ids=True,
                                                           request_options=NO_RETRY)
        except BackendError as exc:
            raise type(exc)(f"{exc}; {done} of {total} new samples were imported before, "
                            "re-run the same push to resume") from None
        if progress is not None:
            progress(len(batch), total)
        return [int(i) for i in (getattr(answer, "task_ids", None) or [])]

    # -- pull -------------------------------------------------------------------------------

    def export_json(self, project_id: int, title: str) -> bytes:
        """The project's full JSON export, through a snapshot that is deleted once downloaded.

        The one-call export (``GET /api/projects/{id}/export``) leaves two files on the server
        that no API removes (tens of MB per pull of a large project); a snapshot (``POST
        …/exports/``, the same tasks, annotations, drafts and prediction ids) can be deleted,
        and is, even when the download fails. Deleting removes the file itself only where the
        server's export-delete flag is on (``brun-label serve`` turns it on; stock 1.23.2 keeps
        the file and drops the record).
        """
        with sdk_errors(self.url, f"exporting project {title!r}"):
            snapshot = self.client.projects.exports.create(
                id=project_id, title=snapshot_title(socket.gethostname(), os.getpid(), time.time()),
                task_filter_options={"only_with_annotations": False},
                serialization_options={"drafts": {"only_id": False}, "predictions": {"only_id": True}},
                request_options=NO_RETRY)
        try:
            deadline = time.monotonic() + READ_TIMEOUT
            while snapshot.status in ("created", "in_progress") and time.monotonic() < deadline:
                time.sleep(EXPORT_POLL_SECONDS)
                with sdk_errors(self.url, f"exporting project {title!r}"):
                    snapshot = self.client.projects.exports.get(id=project_id, export_pk=snapshot.id)
            if snapshot.status != "completed":
                raise ServerError(f"Label Studio at {self.url} did not finish exporting project {title!r} "
                                  f"(export {snapshot.id} is {snapshot.status})")
            with sdk_errors(self.url, f"downloading the export of project {title!r}"):
                return b"".join(self.client.projects.exports.download(id=project_id, export_pk=snapshot.id))
        finally:
            with contextlib.suppress(BackendError), sdk_errors(self.url, "deleting the export"):
                self.client.projects.exports.delete(id=project_id, export_pk=snapshot.id, request_options=NO_RETRY)
                self._remove_stale_snapshots(project_id)

    def _remove_stale_snapshots(self, project_id: int) -> None:
        """Delete the snapshots of pulls that died before deleting theirs (:func:`stale_snapshot`)."""
        host, now = socket.gethostname(), time.time()
        for export in self.client.projects.exports.list(id=project_id):
            if stale_snapshot(str(export.title or ""), host, now):
                self.client.projects.exports.delete(id=project_id, export_pk=export.id, request_options=NO_RETRY)

    def _predictions(self, project_id: int) -> list[dict[str, Any]]:
        """The project's predictions as plain JSON.

        The same request as ``client.predictions.list`` through the SDK's own HTTP client (its
        auth, base URL and retries), minus the pydantic model it builds per prediction: that
        costs ≈ 0.6 s per 5,000 predictions and, run in a thread, holds the GIL the export
        parsing needs (measured: pull of 10k tasks 1.5 s faster).
        """
        from label_studio_sdk.core.api_error import ApiError

        with sdk_errors(self.url, "listing predictions"):
            response = self.client._client_wrapper.httpx_client.request(
                "api/predictions/", method="GET", params={"project": project_id})
            if not 200 <= response.status_code < 300:
                raise ApiError(status_code=response.status_code, headers=dict(response.headers), body=response.text)
            data = response.json()
        if not isinstance(data, list):
            raise ServerError(f"Label Studio at {self.url} gave no prediction list for project {project_id}")
        return [p for p in data if isinstance(p, dict)]

    def pull(self, rubric: Rubric | None, options: PullOptions, progress: ProgressFn | None = None) -> PullResult:
        """Return every annotation, draft and skip (and judge predictions) of the project and its siblings."""
        return pull_by_count(self, rubric, options, progress)

    def _pull_one(self, rubric: Rubric | None, options: PullOptions, progress: ProgressFn | None = None) -> PullResult:
        """Return every annotation, draft and skip (and judge predictions) as the long table."""
        title = options.target
        project = self.find_project(title)
        if project is None:
            raise NotFoundError(f"no Label Studio project titled {title!r} at {self.url}")
        # Not beside the export: the server is one Python process, and a request served during
        # the export slows it by more than its own length (measured: predictions listed during a
        # 24 s export added 2.6-5.9 s). Once the export is in, the predictions are fetched in a
        # thread while this one parses the export (server and client CPU overlap).
        raw = self.export_json(project.id, title)
        with sdk_errors(self.url, "listing users"):
            users = user_names(self.client.users.list(), options.annotator_names)
        with ThreadPoolExecutor(max_workers=1) as pool:
            side = pool.submit(self._predictions, project.id) if options.include_judge else None
            with gc_paused():
                try:
                    tasks = json.loads(raw)
                except ValueError:
                    raise ServerError(f"Label Studio at {self.url} sent an export that is not JSON") from None
                del raw
                if not isinstance(tasks, list):
                    raise ServerError(f"Label Studio at {self.url} gave no task list for project {title!r}")
                rubric, notes = self._recorded_rubric(tasks, title, rubric)
                reader = TaskReader(rubric, ConfigIndex(project.label_config), users)
                total = len(tasks)
                for i, task in enumerate(tasks, 1):
                    reader.add_task(task)
                    if progress is not None and (i % 1000 == 0 or i == total):
                        progress(1000 if i % 1000 == 0 else i % 1000, total)
                del tasks
                for pred in side.result() if side is not None else []:
                    reader.add_prediction(int(pred["task"]), pred.get("model_version"), pred.get("result") or [],
                                          pred.get("created_at"))
                orders = {sid: order for sid, order in reader.orders.values()}
                # Whether annotators were shown the judge's answers: the project's pre-labelling setting.
                shown = "yes" if getattr(project, "show_collab_predictions", False) else "no"
                for row in reader.rows:
                    if str(row["annotator"]).startswith(JUDGE_PREFIX):
                        row["judge_shown"] = shown
                table = pulled_table(rubric, reader.rows, orders, reader.judge_orders, reader.invalid)
        return PullResult(table=table, invalid=reader.invalid, n_items=reader.n_items, notes=notes,
                          item_keys={str(tid): sid for tid, (sid, _order) in reader.orders.items()})

    def _recorded_rubric(self, tasks: list[Any], title: str, rubric: Rubric | None) -> tuple[Rubric, list[str]]:
        """The rubric push recorded on the tasks, checked against ``--rubric`` (:func:`recorded_rubric`)."""
        values = {(t.get("data") or {}).get(RUBRIC_KEY) for t in tasks if isinstance(t, dict)}
        return recorded_rubric((v for v in values if isinstance(v, str)), rubric,
                               f"Label Studio project {title!r}")
