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
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
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
)
from brun_label.backends.label_studio_errors import detail, sdk_errors
from brun_label.backends.label_studio_format import (
    PLATFORM,
    ConfigIndex,
    TaskReader,
    chunks,
    guidelines_html,
    task_payload,
    user_names,
)
from brun_label.errors import BackendError, ConflictError, InputError, NotFoundError, ServerError
from brun_label.layout import (
    RUBRIC_KEY,
    SAMPLE_ID_KEY,
    candidate_order,
)
from brun_label.model import Sample
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
PROJECT_FIELDS = "id,title,label_config,task_number,maximum_annotations"
#: Label Studio refuses longer project titles (HTTP 400).
MAX_TITLE = 50
#: The most candidate slots a config can have (letters a..z).
MAX_SLOTS = 26
#: Reads are retried once (after 1 s) on a 5xx or a dropped connection; a wrong URL fails fast.
READ_RETRIES = 1
#: Never retry a write: the server may have applied it before the answer was lost.
NO_RETRY: dict[str, Any] = {"max_retries": 0}


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
        with sdk_errors(self.url, "listing projects"):
            # Only the fields used: the default also counts annotations, predictions… per project.
            found = [p for p in self.client.projects.list(title=title, include=PROJECT_FIELDS) if p.title == title]
        if len(found) > 1:
            ids = ", ".join(str(p.id) for p in found)
            raise ConflictError(f"{len(found)} Label Studio projects are titled {title!r} (ids {ids}); rename all but one")
        # The listing already holds the config and the task count: no second request.
        return found[0] if found else None

    def existing_sample_ids(self, project_id: int) -> set[str]:
        """Return the sample ids of the project's tasks (one paged listing of ids and data)."""
        ids: set[str] = set()
        with sdk_errors(self.url, "listing existing tasks"):
            for task in self.client.tasks.list(project=project_id, fields="task_only", include="id,data",
                                               page_size=1000):
                sid = (task.data or {}).get(SAMPLE_ID_KEY)
                if isinstance(sid, str):
                    ids.add(sid)
        return ids

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
                existing = self.existing_sample_ids(project.id)
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
            project = self._create_project(title, rubric, xml, options)
            result.url = self.project_url(project.id)
        elif options.annotators_per_item and getattr(project, "maximum_annotations", None) != options.annotators_per_item:
            with sdk_errors(self.url, "setting annotations per task"):
                self.client.projects.update(id=project.id, maximum_annotations=options.annotators_per_item,
                                            request_options=NO_RETRY)
            notes.append(f"annotations per task set to {options.annotators_per_item}")
        self._import(project.id, todo, rubric, config, n_slots, options, notes, progress)
        return result

    def _create_project(self, title: str, rubric: Rubric, xml: str, options: PushOptions) -> Any:
        kwargs: dict[str, Any] = {
            "title": title,
            "label_config": xml,
            "description": f"{rubric.title} (brun-label rubric {rubric.name} v{rubric.version})",
            "expert_instruction": guidelines_html(rubric.guidelines) if rubric.guidelines else "",
            "show_instruction": bool(rubric.guidelines),
            # Judge scores are stored as predictions; annotators see them only if the project
            # owner turns this on (showing them would anchor the human answers).
            "show_collab_predictions": False,
        }
        if options.annotators_per_item:
            kwargs["maximum_annotations"] = options.annotators_per_item
        with sdk_errors(self.url, f"creating project {title!r}"):
            return self.client.projects.create(**kwargs, request_options=NO_RETRY)

    def _import(
        self, project_id: int, todo: list[Sample], rubric: Rubric, config: ConfigIndex, n_slots: int,
        options: PushOptions, notes: list[str], progress: ProgressFn | None,
    ) -> None:
        problems: list[str] = []

        def payloads() -> Any:
            for s in todo:
                task, bad = task_payload(s, rubric, candidate_order(s, seed=options.seed), config, n_slots)
                problems.extend(bad)
                yield task

        done = 0
        max_tasks = options.chunk_size or CHUNK_TASKS
        with gc_paused():  # building and encoding ~50 small objects per task
            for batch in chunks(payloads(), max_tasks, CHUNK_BYTES):
                done = self._import_chunk(project_id, batch, done, len(todo), progress)
        if problems:
            notes.append(f"{len(problems)} judge answer(s) do not fit the rubric and were not imported, e.g. {problems[0]}")

    def _import_chunk(self, project_id: int, batch: list[dict[str, Any]], done: int, total: int,
                      progress: ProgressFn | None) -> int:
        try:
            with sdk_errors(self.url, "importing tasks"):
                self.client.projects.import_tasks(id=project_id, request=batch, request_options=NO_RETRY)
        except BackendError as exc:
            raise type(exc)(f"{exc}; {done} of {total} new samples were imported before, "
                            "re-run the same push to resume") from None
        if progress is not None:
            progress(len(batch), total)
        return done + len(batch)

    # -- pull -------------------------------------------------------------------------------

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
        """Return every annotation, draft and skip (and judge predictions) as the long table."""
        title = options.target
        project = self.find_project(title)
        if project is None:
            raise NotFoundError(f"no Label Studio project titled {title!r} at {self.url}")
        # Not beside the export: the server is one Python process, and a request served during
        # the export slows it by more than its own length (measured: predictions listed during a
        # 24 s export added 2.6-5.9 s). Once the export is in, the predictions are fetched in a
        # thread while this one parses the export (server and client CPU overlap).
        with sdk_errors(self.url, f"exporting project {title!r}"):
            raw = b"".join(self.client.projects.exports.download_sync(
                id=project.id, export_type="JSON", download_all_tasks=True))
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
                table = pulled_table(rubric, reader.rows, orders, reader.judge_orders, reader.invalid)
        return PullResult(table=table, invalid=reader.invalid, n_items=reader.n_items, notes=notes,
                          item_keys={str(tid): sid for tid, (sid, _order) in reader.orders.items()})

    def _recorded_rubric(self, tasks: list[Any], title: str, rubric: Rubric | None) -> tuple[Rubric, list[str]]:
        """The rubric push recorded on the tasks, checked against ``--rubric`` (:func:`recorded_rubric`)."""
        values = {(t.get("data") or {}).get(RUBRIC_KEY) for t in tasks if isinstance(t, dict)}
        return recorded_rubric((v for v in values if isinstance(v, str)), rubric,
                               f"Label Studio project {title!r}")
