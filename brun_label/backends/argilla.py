"""The Argilla 2.x backend: push samples as records, pull every annotator's responses.

An adapter over the ``argilla`` SDK (client, settings and dataset creation) and the SDK's own
HTTP client for the bulk calls, so a push sends the records with as few round trips as the SDK's
``dataset.records.log`` and a pull reads the database-backed ``GET /datasets/{id}/records``.

* **push** creates the dataset from the rubric (:func:`brun_label.render_argilla.render_argilla`:
  lowercase names, scales as label questions whose values are the scale's integers as text, so
  the tone zone keeps its -2..+2 meaning whatever Argilla stores), or reuses it when its questions
  match. ``--annotators-per-item`` is the task distribution's ``min_submitted``; Argilla allows
  changing it only before any response exists, and the push says so when it cannot. Records are
  upserted by stable sample id (``external_id``); the ids already there are listed once, so a
  re-push adds nothing and an extended file adds only the new samples. LLM-judge answers become
  suggestions with their agent name. A dataset left in draft by an interrupted first push is
  deleted and created again.
* **pull** returns all responses (submitted, draft, discarded) with usernames, values mapped back
  to the rubric's meaning and candidate ids via the order recorded in each record's metadata, and
  suggestions as ``judge:<agent>`` rows.

Configuration: ``url``/``api_key``, else ``ARGILLA_API_URL``/``ARGILLA_API_KEY``. Every SDK or
HTTP error becomes one of :mod:`brun_label.errors` (see :mod:`.argilla_errors`).
"""

from __future__ import annotations

import os
import time
import warnings
from collections.abc import Iterator, Sequence
from typing import Any

from brun_label.backends.argilla_errors import argilla_errors
from brun_label.backends.argilla_records import (
    JUDGE_SHOWN_KEY,
    PLATFORM,
    RecordError,
    judge_mode_note,
    record_for_sample,
    record_judge_order,
    record_order,
    rows_for_record,
    utc_timestamps,
)
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
from brun_label.errors import ConflictError, InputError, NotFoundError, ServerError
from brun_label.layout import RUBRIC_KEY, RUBRIC_VERSION_KEY, candidate_order
from brun_label.model import Sample
from brun_label.render_argilla import GUIDELINES_FIELD, guidelines_text, render_argilla
from brun_label.rubric import Rubric
from brun_label.secrets import register_secret

#: Seconds a push waits for a dataset in draft (being created by a concurrent push, ≈ 1 s) to be
#: published before taking it for one a killed push left behind.
DRAFT_WAIT = 20.0
#: How argilla-server says a dataset name is taken when two creations race past its own check.
DUPLICATE_NAME_SIGNS = ("UNIQUE constraint failed: datasets.name", "dataset_name_workspace_id_uq")
#: How it says a record's sample id was inserted by another push at the same time; how often a
#: batch is re-sent then.
DUPLICATE_RECORD_SIGNS = ("UNIQUE constraint failed: records.external_id", "record_external_id_dataset_id_uq")
UPSERT_RACE_RETRIES = 3
#: Records per bulk upsert (the server's maximum is 500; larger batches mean fewer round trips).
BATCH_SIZE = 500
#: Records per page when listing (the server's maximum).
PAGE_SIZE = 1000
TIMEOUT = 120
RETRIES = 1


def _question_signature(question: dict[str, Any]) -> tuple[str, str, tuple[str, ...]]:
    settings = question.get("settings") or {}
    options = settings.get("options") or []
    values = tuple(str(o.get("value")) for o in options if isinstance(o, dict))
    return str(question.get("name")), str(settings.get("type")), values


def config_differences(existing: list[dict[str, Any]], wanted: list[dict[str, Any]]) -> list[str]:
    """Describe how the existing dataset questions differ from the rubric's (empty when they match).

    >>> q = {"name": "tone_a", "settings": {"type": "label_selection", "options": [{"value": "0"}]}}
    >>> config_differences([q], [q]), config_differences([], [q])
    ([], ['missing question tone_a'])
    """
    have = {s[0]: s for s in map(_question_signature, existing)}
    want = {s[0]: s for s in map(_question_signature, wanted)}
    out = [f"missing question {n}" for n in want if n not in have]
    out += [f"extra question {n}" for n in have if n not in want]
    out += [f"question {n} has different type or options" for n in want if n in have and have[n] != want[n]]
    return out


class ArgillaBackend:
    """Push to and pull from an Argilla 2.x server."""

    name = PLATFORM

    def __init__(self, url: str | None = None, api_key: str | None = None) -> None:
        self.url = (url or os.environ.get("ARGILLA_API_URL") or "").rstrip("/")
        self.api_key = api_key or os.environ.get("ARGILLA_API_KEY") or ""
        if not self.url:
            raise InputError("no Argilla URL: pass --url or set ARGILLA_API_URL", field="--url")
        if not self.api_key:
            raise InputError("no Argilla API key: set ARGILLA_API_KEY (or name a variable with --api-key-env)",
                             field="--api-key-env")
        register_secret(self.api_key)
        self._client: Any = None

    # -- connection -------------------------------------------------------------------------------

    @property
    def client(self) -> Any:
        """The ``argilla.Argilla`` client (created, and the connection checked, on first use)."""
        if self._client is None:
            import argilla as rg

            with argilla_errors(self.url, "log in"), warnings.catch_warnings():
                warnings.simplefilter("ignore")
                self._client = rg.Argilla(api_url=self.url, api_key=self.api_key, timeout=TIMEOUT,
                                          retries=RETRIES)
        return self._client

    def _request(self, method: str, path: str, what: str, **kwargs: Any) -> Any:
        with argilla_errors(self.url, what):
            response = self.client.http_client.request(method, path, **kwargs)
            response.raise_for_status()
            return response.json() if response.content else None

    def _workspace(self, name: str | None) -> dict[str, Any]:
        items = self._request("GET", "/api/v1/me/workspaces", "list workspaces")["items"]
        if name is None:
            if not items:
                raise NotFoundError(f"Argilla at {self.url}: this user belongs to no workspace (pass --workspace)")
            return dict(items[0])
        for ws in items:
            if ws["name"] == name:
                return dict(ws)
        known = ", ".join(sorted(w["name"] for w in items)) or "none"
        raise NotFoundError(f"Argilla at {self.url}: no workspace {name!r} for this user (known: {known})")

    def _workspace_for_push(self, name: str | None, dry_run: bool, notes: list[str]) -> dict[str, Any] | None:
        """The push's workspace; a missing named one is created when the key may (an owner's).

        Returns None only for a dry run that would create it.
        """
        try:
            return self._workspace(name)
        except NotFoundError:
            if name is None:
                raise
        if dry_run:
            notes.append(f"would create workspace {name!r}")
            return None
        with argilla_errors(self.url, f"create workspace {name!r}"):
            response = self.client.http_client.post("/api/v1/workspaces", json={"name": name})
            if response.status_code == 403:
                raise NotFoundError(f"Argilla at {self.url}: no workspace {name!r}, and this key may not "
                                    "create one (an owner's key can)")
            if response.status_code != 409:  # 409: created meanwhile by a concurrent push
                response.raise_for_status()
                notes.append(f"created workspace {name!r}")
        return self._workspace(name)

    def _find_dataset(self, name: str, workspace_name: str | None) -> tuple[dict[str, Any], dict[str, Any]]:
        """Find a dataset by name: in the named workspace, else in any workspace the key can see.

        Two datasets of that name in different workspaces, and no ``--workspace``, is an error naming them.
        """
        if workspace_name is not None:
            workspace = self._workspace(workspace_name)
            dataset = self._dataset(name, workspace)
            if dataset is None:
                raise NotFoundError(f"Argilla at {self.url}: no dataset {name!r} in workspace {workspace['name']!r}")
            return dataset, workspace
        workspaces = {str(w["id"]): dict(w) for w in
                      self._request("GET", "/api/v1/me/workspaces", "list workspaces")["items"]}
        items = self._request("GET", "/api/v1/me/datasets", "list datasets", params={"name": name})["items"]
        matches = [dict(d) for d in items if d["name"] == name]
        if not matches:
            raise NotFoundError(f"Argilla at {self.url}: no dataset {name!r} in any workspace this key can see")
        if len(matches) > 1:
            where = ", ".join(sorted(workspaces.get(str(d["workspace_id"]), {}).get("name", str(d["workspace_id"]))
                                     for d in matches))
            raise InputError(f"Argilla at {self.url}: {len(matches)} datasets are named {name!r} (workspaces: "
                             f"{where}): pass --workspace", field="--workspace")
        dataset = matches[0]
        workspace = workspaces.get(str(dataset["workspace_id"])) or {"id": dataset["workspace_id"], "name": "?"}
        return dataset, workspace

    def _dataset(self, name: str, workspace: dict[str, Any]) -> dict[str, Any] | None:
        items = self._request("GET", "/api/v1/me/datasets", "list datasets",
                              params={"workspace_id": workspace["id"], "name": name})["items"]
        matches = [d for d in items if d["name"] == name]
        return dict(matches[0]) if matches else None

    def _questions(self, dataset_id: str) -> list[dict[str, Any]]:
        return list(self._request("GET", f"/api/v1/datasets/{dataset_id}/questions", "list questions")["items"])

    def _fields(self, dataset_id: str) -> list[dict[str, Any]]:
        return list(self._request("GET", f"/api/v1/datasets/{dataset_id}/fields", "list fields")["items"])

    def _records(self, dataset_id: str, include: Sequence[str] = ()) -> Iterator[tuple[list[dict[str, Any]], int]]:
        offset = 0
        while True:
            params: dict[str, Any] = {"offset": offset, "limit": PAGE_SIZE}
            if include:
                params["include"] = list(include)
            page = self._request("GET", f"/api/v1/datasets/{dataset_id}/records", "list records", params=params)
            items = page.get("items") or []
            yield items, int(page.get("total") or 0)
            offset += len(items)
            if not items or offset >= int(page.get("total") or 0):
                return

    def dataset_url(self, dataset_id: str) -> str:
        """Where annotators work on the dataset."""
        return f"{self.url}/dataset/{dataset_id}/annotation-mode"

    # -- push -------------------------------------------------------------------------------------

    def _published_dataset(self, name: str, workspace: dict[str, Any], dry_run: bool,
                           notes: list[str]) -> dict[str, Any] | None:
        """The dataset once published: one in draft is being created by a concurrent push (wait for
        it) or was left by a killed one (still draft after :data:`DRAFT_WAIT` s: deleted, None)."""
        dataset = self._dataset(name, workspace)
        deadline = time.monotonic() + DRAFT_WAIT
        while dataset is not None and dataset.get("status") == "draft" and time.monotonic() < deadline:
            time.sleep(0.5)
            dataset = self._dataset(name, workspace)
        if dataset is not None and dataset.get("status") == "draft":
            notes.append(f"dataset {name!r} was left unfinished (draft) by an interrupted push: recreated")
            if not dry_run:
                self._request("DELETE", f"/api/v1/datasets/{dataset['id']}", "delete the draft dataset")
            return None
        return dataset

    def _create_dataset(self, name: str, workspace: dict[str, Any], settings: dict[str, Any]) -> dict[str, Any] | None:
        """Create and publish the dataset; None when another push created it first (HTTP 409)."""
        import argilla as rg
        import httpx
        from argilla._exceptions import ArgillaError
        from argilla._exceptions._api import ConflictError as ArgillaConflict

        with argilla_errors(self.url, f"create dataset {name!r}"), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            ds = rg.Dataset(name=name, workspace=workspace["name"], settings=rg.Settings._from_dict(settings),
                            client=self.client)
            try:
                ds.create()
            except ArgillaConflict:
                return None
            except (ArgillaError, httpx.TransportError) as exc:
                # The server checks the name, then inserts: two creators both pass the check and
                # the second insert fails on the unique index (HTTP 500, or a dropped connection
                # when the error escapes its handlers). Either way the dataset is there now.
                raced = any(sign in str(exc) for sign in DUPLICATE_NAME_SIGNS)
                if not raced and self._dataset(name, workspace) is None:
                    raise
                return None
        created = self._dataset(name, workspace)
        if created is None:  # pragma: no cover - the server just created it
            raise NotFoundError(f"Argilla at {self.url}: dataset {name!r} vanished after creation")
        return created

    def _set_distribution(self, dataset: dict[str, Any], wanted: int, dry_run: bool, notes: list[str]) -> None:
        current = int((dataset.get("distribution") or {}).get("min_submitted") or 1)
        if wanted == current:
            return
        if dry_run:
            notes.append(f"would change annotators per item from {current} to {wanted} "
                          "(Argilla allows it only while the dataset has no responses)")
            return
        with argilla_errors(self.url, "change the task distribution"):
            response = self.client.http_client.patch(
                f"/api/v1/datasets/{dataset['id']}",
                json={"distribution": {"strategy": "overlap", "min_submitted": wanted}},
            )
            if response.status_code == 422:
                notes.append(f"annotators per item NOT changed: it stays {current}, not {wanted}. Argilla allows "
                             "changing the task distribution only before any response exists.")
                return
            response.raise_for_status()
        notes.append(f"annotators per item changed from {current} to {wanted}")

    def push(
        self, samples: Sequence[Sample], rubric: Rubric, options: PushOptions, progress: ProgressFn | None = None
    ) -> PushResult:
        """Push to the dataset, samples with another candidate count to its siblings (see ``by_count``)."""
        return push_by_count(self, samples, rubric, options, progress)

    def _target_slots(self, name: str, options: Any) -> int | None:
        """The candidate slots of dataset ``name`` in the push's workspace (None if there is none)."""
        try:
            workspace = self._workspace(options.workspace)
        except NotFoundError:
            return None
        dataset = self._dataset(name, workspace)
        if dataset is None or dataset.get("status") == "draft":
            # A draft is being created by a concurrent push, or was left by a killed one: its
            # fields are not all there yet. The push of the base target waits for it or recreates it.
            return None
        return sum(1 for f in self._fields(dataset["id"]) if str(f["name"]).startswith("candidate_"))

    def _target_names(self, base: str, options: Any) -> list[str]:
        """Names of the datasets this key sees in the target's workspace (any, without --workspace)."""
        params: dict[str, Any] = {}
        if options.workspace is not None:
            params["workspace_id"] = self._workspace(options.workspace)["id"]
        items = self._request("GET", "/api/v1/me/datasets", "list datasets", params=params)["items"]
        return [str(d["name"]) for d in items]

    def _push_one(
        self, samples: Sequence[Sample], rubric: Rubric, options: PushOptions, progress: ProgressFn | None = None
    ) -> PushResult:
        """Create or reuse the dataset and add the samples that are not there yet."""
        needed = max([2, *(len(s.candidates) for s in samples)])
        notes: list[str] = []
        found = self._workspace_for_push(options.workspace, options.dry_run, notes)
        if found is None:  # a dry run that would create the workspace, and so the dataset
            return PushResult(platform=PLATFORM, target=options.target, created=True, n_samples=len(samples),
                              n_existing=0, n_added=len(samples), dry_run=True, notes=notes)
        workspace = found
        dataset = self._published_dataset(options.target, workspace, options.dry_run, notes)
        created = dataset is None
        if dataset is None:
            n_slots = options.n_candidates or needed
            self._check_slots(samples, n_slots)
            settings = render_argilla(rubric, n_candidates=n_slots, min_submitted=options.annotators_per_item or 1)
            if options.dry_run:
                return PushResult(platform=PLATFORM, target=options.target, created=True, n_samples=len(samples),
                                  n_existing=0, n_added=len(samples), dry_run=True, notes=notes)
            dataset = self._create_dataset(options.target, workspace, settings)
            if dataset is None:  # another push created it at the same time (Argilla answered 409): join it
                dataset = self._published_dataset(options.target, workspace, False, notes)
                if dataset is None:  # it was an unfinished draft, now removed: create it once more
                    dataset = self._create_dataset(options.target, workspace, settings)
                if dataset is None:
                    raise ConflictError(f"Argilla at {self.url}: dataset {options.target!r} was being created by "
                                        "another push at the same time and then removed; re-run the push")
                notes.append(f"dataset {options.target!r} was created by another push at the same time: "
                             "joined it (records are upserted by sample id, each sample stays once)")
                created = False
            else:
                # The rubric on the dataset too (each record also carries it), read by pull.
                self._request("PATCH", f"/api/v1/datasets/{dataset['id']}", "record the rubric on the dataset",
                              json={"metadata": {RUBRIC_KEY: rubric.identity, RUBRIC_VERSION_KEY: rubric.version}})
                questions = self._questions(dataset["id"])
        if not created:
            fields = self._fields(dataset["id"])
            n_slots = sum(1 for f in fields if str(f["name"]).startswith("candidate_"))
            if options.n_candidates and options.n_candidates != n_slots:
                raise ConflictError(f"dataset {options.target!r} has {n_slots} candidate slots, not "
                                    f"{options.n_candidates}; push to a new dataset to change them")
            self._check_slots(samples, n_slots)
            questions = self._questions(dataset["id"])
            wanted = render_argilla(rubric, n_candidates=n_slots)
            diffs = config_differences(questions, wanted["questions"])
            if diffs:
                raise ConflictError(
                    f"dataset {options.target!r} does not match rubric {rubric.name!r} ({'; '.join(diffs[:3])}); "
                    "Argilla cannot change the questions of a published dataset: push to a new dataset name"
                )
            if options.annotators_per_item:
                self._set_distribution(dataset, options.annotators_per_item, options.dry_run, notes)
        existing: set[str] = set()
        shown_before: set[Any] = set()
        rubrics_before: set[Any] = set()
        if not created:
            for page, _total in self._records(dataset["id"]):
                existing.update(str(r.get("external_id")) for r in page)
                shown_before.update((r.get("metadata") or {}).get(JUDGE_SHOWN_KEY) for r in page)
                rubrics_before.update((r.get("metadata") or {}).get(RUBRIC_KEY) for r in page)
        todo = [s for s in samples if s.id not in existing]
        change = rubric_change_note(rubrics_before, rubric, f"dataset {options.target!r}") if todo else None
        if change:
            notes.append(change)
        if todo and shown_before - {options.show_judge}:
            notes.append(judge_mode_note(shown_before, options.show_judge))
        n_existing = len(samples) - len(todo)
        if progress is not None and n_existing:
            progress(n_existing, len(samples))
        result = PushResult(platform=PLATFORM, target=options.target, created=created, n_samples=len(samples),
                            n_existing=n_existing, n_added=len(todo), dry_run=options.dry_run,
                            url=self.dataset_url(dataset["id"]), notes=notes)
        if options.dry_run:
            return result
        question_ids = {str(q["name"]): str(q["id"]) for q in questions}
        # Datasets created before the guidelines field existed get records without it.
        guide = guidelines_text(rubric) if any(
            f["name"] == GUIDELINES_FIELD for f in self._fields(dataset["id"])) else None
        problems: list[str] = []
        batch_size = options.chunk_size or BATCH_SIZE
        for start in range(0, len(todo), batch_size):
            batch = todo[start:start + batch_size]
            items = []
            for sample in batch:
                order = candidate_order(sample, seed=options.seed)
                item, bad = record_for_sample(sample, rubric, order, n_slots, question_ids,
                                              show_judge=options.show_judge, guidelines=guide)
                items.append(item)
                problems += bad
            self._upsert(dataset["id"], items, f"add records to dataset {options.target!r}")
            if progress is not None:
                progress(len(batch), len(samples))
        if problems:
            notes.append(f"{len(problems)} LLM-judge answer(s) not sent as suggestions, e.g. {problems[0]}")
        return result

    def _upsert(self, dataset_id: str, items: list[dict[str, Any]], what: str) -> None:
        """Upsert one batch of records by sample id (``external_id``).

        argilla-server looks the ids up, then inserts the new ones: when two pushes send the same
        new ids at once, the later insert fails on the unique index (HTTP 500). The upsert is
        idempotent, so that batch is sent again, and then updates the records the other push made.
        """
        for attempt in range(UPSERT_RACE_RETRIES + 1):
            try:
                self._request("PUT", f"/api/v1/datasets/{dataset_id}/records/bulk", what, json={"items": items})
                return
            except ServerError as exc:
                if attempt == UPSERT_RACE_RETRIES or not any(sign in str(exc) for sign in DUPLICATE_RECORD_SIGNS):
                    raise
                time.sleep(0.2 * (attempt + 1))

    @staticmethod
    def _check_slots(samples: Sequence[Sample], n_slots: int) -> None:
        for sample in samples:
            if len(sample.candidates) > n_slots:
                raise InputError(f"sample {sample.id} has {len(sample.candidates)} candidates but the dataset has "
                                 f"{n_slots} candidate slots", field="--candidates")

    # -- pull -------------------------------------------------------------------------------------

    def _usernames(self, workspace: dict[str, Any]) -> dict[str, str]:
        """Map user ids to usernames: all users (owners), else the workspace's (admins), else none."""
        with argilla_errors(self.url, "list users"):
            for path in ("/api/v1/users", f"/api/v1/workspaces/{workspace['id']}/users"):
                response = self.client.http_client.get(path)
                if response.status_code == 403:
                    continue
                response.raise_for_status()
                return {str(u["id"]): str(u["username"]) for u in response.json()["items"]}
        return {}

    def pull(self, rubric: Rubric | None, options: PullOptions, progress: ProgressFn | None = None) -> PullResult:
        """Return the responses of the dataset and of its siblings (other candidate counts) as one table."""
        return pull_by_count(self, rubric, options, progress)

    def _pull_one(self, rubric: Rubric | None, options: PullOptions, progress: ProgressFn | None = None) -> PullResult:
        """Return every annotator's responses (and the judges' suggestions) as the annotation table."""
        dataset, workspace = self._find_dataset(options.target, options.workspace)
        question_names = {str(q["id"]): str(q["name"]) for q in self._questions(dataset["id"])}
        usernames = self._usernames(workspace)
        records: list[dict[str, Any]] = []
        for page, total in self._records(dataset["id"], include=("responses", "suggestions")):
            records += page
            if progress is not None:
                progress(len(page), total)
        rubric, notes = self._recorded_rubric(dataset, records, rubric, options.target)
        rows: list[dict[str, Any]] = []
        invalid: list[str] = []
        orders: dict[str, list[str]] = {}
        judge_orders: dict[str, list[str]] = {}
        n_items = 0
        for record in records:
            try:
                got, bad = rows_for_record(record, rubric, usernames, question_names,
                                           include_judge=options.include_judge)
                sample_id, order = record_order(record)
            except RecordError as exc:
                invalid.append(str(exc))
                continue
            orders[sample_id] = order
            judge_order = record_judge_order(record)
            if judge_order is not None:
                judge_orders[sample_id] = judge_order
            rows += got
            invalid += bad
            n_items += 1
        utc_timestamps(rows)
        table = pulled_table(rubric, rows, orders, judge_orders, invalid)
        table = table.sort_values(["item_id", "candidate_id", "question", "annotator"], kind="stable")
        return PullResult(table=table.reset_index(drop=True), invalid=invalid, n_items=n_items, notes=notes)

    def _recorded_rubric(self, dataset: dict[str, Any], records: list[dict[str, Any]], rubric: Rubric | None,
                         name: str) -> tuple[Rubric, list[str]]:
        """The rubric push recorded on the records (and the dataset), checked against ``--rubric``."""
        values = {(r.get("metadata") or {}).get(RUBRIC_KEY) for r in records}
        if not records:  # an empty dataset: only the dataset's own record, if any
            values.add((dataset.get("metadata") or {}).get(RUBRIC_KEY))
        return recorded_rubric((v for v in values if isinstance(v, str)), rubric, f"Argilla dataset {name!r}")
