"""One pull for the project: every configured platform, merged into one table, people attributed.

Adapter (talks to the platforms through the backend port, writes the project table). For each
platform in the project file, in the file's order:

1. pull with the rubric the project records (the platforms' own record must agree:
   :func:`brun_label.rubrics.resolve_rubric`);
2. keep the judge's rows from the first platform that has any (the same judge scores are pushed to
   every platform; counting them twice would make two judges of one);
3. merge, name every row by its person (:func:`brun_label.people.attribute_people`: one person on
   two platforms counts once, the later answer) and write the typed table atomically to the
   project's ``table`` path.

**Incremental pulls** (``full=False`` with a ``state_dir``, the project's ``.brun-label/project``):
each platform is asked only what changed since the last pull
(:mod:`brun_label.backends.label_studio_changes`, :mod:`brun_label.backends.argilla_changes`),
the items that changed are read again whole and merged into that platform's table from the last
pull (:func:`brun_label.incremental.merge_changes`, on the platform's own item ids, before they are
unmasked), and steps 2-3 run on the result as on a full pull's. What a platform's next pull needs
is kept in ``pull-state.json`` and one cached table per platform, all written atomically, the
tables first (a pull cut off between the two re-reads a little more next time, never less). The
state records each cached table's size and digest; a missing, changed or unreadable one, another
rubric or other options, or a platform that cannot say what changed, means a full pull of that
platform (said in ``notes``). ``full=True`` rebuilds the state from a full pull. Both put each
platform's table in :func:`~brun_label.incremental.canonical_order`, so the incremental table
equals a full pull's.

Examples
--------
>>> from brun_label.table import make_table
>>> a = make_table([{"item_id": "s1", "candidate_id": "c1", "question": "q", "annotator": "judge:m",
...                  "value": 0, "platform": "label-studio"}])
>>> b = make_table([{"item_id": "s1", "candidate_id": "c1", "question": "q", "annotator": "judge:m",
...                  "value": 0, "platform": "argilla"}])
>>> merged, dropped = merge_platform_tables({"label-studio": a, "argilla": b})
>>> len(merged), dropped
(1, 1)
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from brun_label.atomic import atomic_write_text
from brun_label.backends.base import Backend, PullOptions, pulled_table
from brun_label.errors import BrunLabelError
from brun_label.incremental import ChangeSet, canonical_order, merge_changes
from brun_label.masking import KeyMap, unmask_table
from brun_label.model import JUDGE_PREFIX
from brun_label.people import PeopleReport, attribute_people
from brun_label.project import Project
from brun_label.rubric import Rubric
from brun_label.table import empty_table

#: Makes the backend of one platform of the project (the CLI passes one that reads the environment).
BackendFactory = Callable[[str, Any], Backend]
#: The incremental pull's state file, in the state folder (``.brun-label/project``).
STATE_FILE = "pull-state.json"
STATE_VERSION = 1


@dataclass
class ProjectPullResult:
    """The merged table and what each step reported."""

    table: pd.DataFrame
    rows_per_platform: dict[str, int] = field(default_factory=dict)
    invalid: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    people: PeopleReport = field(default_factory=PeopleReport)
    judge_rows_dropped: int = 0
    modes: dict[str, str] = field(default_factory=dict)
    """How each platform was pulled: ``full`` or ``incremental`` (why a full one, in ``notes``)."""
    items_read: dict[str, int] = field(default_factory=dict)
    """Items (tasks, records) each platform's pull read and decoded."""
    server_counts: dict[str, dict[str, int]] = field(default_factory=dict)
    """Each platform's own counts, as its server reports them (tasks, annotations, responses...)."""
    platform_tables: dict[str, pd.DataFrame] = field(default_factory=dict)
    """Each platform's table as pulled (platform ids, before people are attributed)."""


def merge_platform_tables(tables: Mapping[str, pd.DataFrame]) -> tuple[pd.DataFrame, int]:
    """Concatenate per-platform tables, keeping judge rows from the first platform that has any.

    Returns the merged table and the number of judge rows left out.
    """
    frames: list[pd.DataFrame] = []
    judge_from: str | None = None
    dropped = 0
    for platform, table in tables.items():
        if table.empty:
            continue
        is_judge = table["annotator"].astype(str).str.startswith(JUDGE_PREFIX)
        if is_judge.any():
            if judge_from is None:
                judge_from = platform
            elif judge_from != platform:
                dropped += int(is_judge.sum())
                table = table[~is_judge]
        frames.append(table)
    if not frames:
        return empty_table(), 0
    return pd.concat(frames, ignore_index=True), dropped


def _digest(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def load_state(state_dir: str | os.PathLike[str]) -> dict[str, Any]:
    """Read the incremental pull's state (an empty one when absent or unreadable)."""
    path = Path(state_dir) / STATE_FILE
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {"version": STATE_VERSION, "platforms": {}}
    if not isinstance(raw, dict) or raw.get("version") != STATE_VERSION or not isinstance(raw.get("platforms"), dict):
        return {"version": STATE_VERSION, "platforms": {}}
    return raw


def _load_cached(state_dir: Path, entry: Mapping[str, Any], rubric: Rubric) -> pd.DataFrame | None:
    """The platform's table from the last pull, if it is there and is the one the state describes."""
    from brun_label.importers.annotations import read_annotations

    meta = entry.get("table")
    if not isinstance(meta, Mapping):
        return None
    if meta.get("rows") == 0:
        return pulled_table(rubric, [], {})
    path = state_dir / str(meta.get("file"))
    try:
        if _digest(path) != meta.get("sha256"):
            return None
        table = read_annotations(path, rubric)
    except (OSError, BrunLabelError):
        return None
    return table if len(table) == meta.get("rows") else None


def _save_cached(state_dir: Path, platform: str, table: pd.DataFrame) -> dict[str, Any]:
    """Write the platform's table as the project's Parquet tables are written (values as text).

    Values are encoded once per distinct value object (:func:`brun_label.table.value_codes`: the
    rows read back from the cache share one object per distinct value), not once per row.
    """
    import numpy as np

    from brun_label.atomic import atomic_path
    from brun_label.exporters.tables import write_annotations
    from brun_label.table import encode_value, value_codes

    if table.empty:
        return {"file": None, "rows": 0, "sha256": None}
    path = state_dir / f"pulled-{platform}.parquet"
    other_objects = [c for c in table.columns if c != "value" and table[c].dtype == object]
    if other_objects:  # columns the fast path does not know how to write: the general writer
        write_annotations(table, path)
    else:
        codes, uniques = value_codes(table["value"])
        texts = np.asarray([*(encode_value(u) for u in uniques), None], dtype=object)
        out = table.copy()
        out["value"] = pd.Series(texts[codes], dtype="str", index=out.index)
        with atomic_path(path) as tmp:
            out.to_parquet(tmp, index=False)
    return {"file": path.name, "rows": len(table), "sha256": _digest(path)}


def _full(platform: str, backend: Backend, rubric: Rubric, options: PullOptions,
          on_progress: Callable[[int, int], None], result: ProjectPullResult, *, sort_invalid: bool = False) -> Any:
    """A full pull through the backend port (its messages sorted, as an incremental pull gives them)."""
    pulled = backend.pull(rubric, options, on_progress)
    result.modes[platform] = "full"
    result.items_read[platform] = pulled.n_items
    problems = sorted(pulled.invalid) if sort_invalid else pulled.invalid
    result.invalid += [f"{platform}: {problem}" for problem in problems]
    result.notes += [f"{platform}: {note}" for note in pulled.notes]
    return pulled


def _record(result: ProjectPullResult, platform: str, changes: ChangeSet, mode: str) -> None:
    """Note what one platform's incremental read did in the project pull's result."""
    result.modes[platform] = mode
    result.items_read[platform] = changes.items_read
    result.invalid += [f"{platform}: {problem}" for problem in changes.invalid]
    result.notes += [f"{platform}: {note}" for note in changes.notes]


def _pull_platform(platform: str, backend: Backend, rubric: Rubric, options: PullOptions,
                   entry: Mapping[str, Any] | None, cached: pd.DataFrame | None,
                   on_progress: Callable[[int, int], None], result: ProjectPullResult
                   ) -> tuple[pd.DataFrame, dict[str, Any] | None]:
    """One platform: incremental when ``entry`` and ``cached`` allow it, else full; returns (table, state)."""
    if platform == "label-studio":
        from brun_label.backends import label_studio_changes as ls

        found = ls.probe(backend, options.target)
        result.server_counts[platform] = dict(found.counts)
        if entry is not None and cached is not None:
            try:
                changes = ls.pull_changes(backend, rubric, options, dict(entry), found)
            except ls.NeedFullPull as why:
                result.notes.append(f"{platform}: full pull ({why})")
            else:
                _record(result, platform, changes, "incremental")
                table = merge_changes(cached, changes.table, replaced=changes.replaced, deleted=changes.deleted)
                return table, changes.state
        pulled = _full(platform, backend, rubric, options, on_progress, result, sort_invalid=True)
        return canonical_order(pulled.table), ls.state_after_full(pulled, found, rubric, options)
    if platform == "argilla":
        from brun_label.backends import argilla_changes as ag

        probed = ag.probe(backend, options)
        result.server_counts[platform] = dict(probed.counts)
        if probed.siblings:  # read with them, by the backend, every time
            result.notes.append(f"{platform}: full pull (the samples of other candidate counts are in "
                                f"{', '.join(map(repr, probed.siblings))})")
            return canonical_order(_full(platform, backend, rubric, options, on_progress, result).table), None
        usable = dict(entry) if entry is not None and cached is not None else None
        read = ag.pull(backend, rubric, options, usable, probed, on_progress)
        _record(result, platform, read, "incremental" if usable is not None else "full")
        if usable is not None and cached is not None:
            return merge_changes(cached, read.table, replaced=read.replaced, deleted=read.deleted), read.state
        return canonical_order(read.table), read.state
    # a plugin backend: pulled in full every time, no state
    return _full(platform, backend, rubric, options, on_progress, result).table, None


def pull_project(project: Project, rubric: Rubric, make_backend: BackendFactory, *,
                 include_judge: bool = True, progress: Callable[[str, int, int], None] | None = None,
                 keys: KeyMap | None = None, full: bool = True,
                 state_dir: str | os.PathLike[str] | None = None) -> ProjectPullResult:
    """Pull every platform of ``project`` and return the merged, attributed table (not yet written).

    ``keys`` maps the opaque ids of a project pushed with gold items back to the real ones
    (:func:`brun_label.project_push.project_samples` gives it); rows of items the project does
    not know are left out and counted in the notes.

    With ``state_dir``, the pull's state is kept there, and ``full=False`` asks each platform only
    what changed since the last pull (see the module docstring). ``full=False`` without a
    ``state_dir`` uses the project's own (:attr:`brun_label.project.Project.state_dir`, beside its
    table); ``full=True`` without one pulls in full and keeps no state (pass ``state_dir`` to
    rebuild the state from the full pull).
    """
    if state_dir is None and not full:
        state_dir = project.state_dir
    result = ProjectPullResult(table=empty_table())
    tables: dict[str, pd.DataFrame] = {}
    folder = Path(state_dir) if state_dir is not None else None
    state: dict[str, Any] = load_state(folder) if folder is not None else {"version": STATE_VERSION, "platforms": {}}
    new_entries: dict[str, Any] = {}
    for platform, target in project.targets.items():
        backend = make_backend(platform, target)
        options = PullOptions(target=target.target, workspace=target.workspace, include_judge=include_judge,
                              annotator_names="email")

        def on_progress(done: int, total: int, platform: str = platform) -> None:
            if progress is not None:
                progress(platform, done, total)

        if folder is None:
            table = _full(platform, backend, rubric, options, on_progress, result).table
        else:
            entry = state["platforms"].get(platform)
            cached = None
            if not full and isinstance(entry, dict):
                cached = _load_cached(folder, entry, rubric)
                if cached is None:
                    result.notes.append(f"{platform}: full pull (the table cached by the last pull is missing "
                                        "or changed)")
            elif not full:
                result.notes.append(f"{platform}: full pull (no earlier pull of this project)")
            table, platform_state = _pull_platform(platform, backend, rubric, options,
                                                   entry if cached is not None else None, cached, on_progress,
                                                   result)
            if platform_state is not None:
                unchanged = cached is not None and isinstance(entry, dict) and table.equals(cached)
                platform_state["table"] = entry["table"] if unchanged and isinstance(entry, dict) \
                    else _save_cached(folder, platform, table)
                new_entries[platform] = platform_state
        result.platform_tables[platform] = table
        if keys is not None:
            table, unknown = unmask_table(table, keys, rubric)
            if unknown:
                result.notes.append(f"{platform}: {unknown} row(s) about items this project did not push, left out")
        tables[platform] = table
        result.rows_per_platform[platform] = len(result.platform_tables[platform])
    if folder is not None:  # the tables are written; now the state that describes them
        atomic_write_text(folder / STATE_FILE, json.dumps({"version": STATE_VERSION, "platforms": new_entries}))
    merged, result.judge_rows_dropped = merge_platform_tables(tables)
    if result.judge_rows_dropped:
        result.notes.append(f"{result.judge_rows_dropped} judge row(s) pulled from a second platform left out "
                            "(the same judge scores are pushed to every platform)")
    result.table, result.people = attribute_people(merged, project)
    result.notes += result.people.notes()
    return result
