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

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from brun_label.backends.base import Backend, PullOptions
from brun_label.masking import KeyMap, unmask_table
from brun_label.model import JUDGE_PREFIX
from brun_label.people import PeopleReport, attribute_people
from brun_label.project import Project
from brun_label.rubric import Rubric
from brun_label.table import empty_table

#: Makes the backend of one platform of the project (the CLI passes one that reads the environment).
BackendFactory = Callable[[str, Any], Backend]


@dataclass
class ProjectPullResult:
    """The merged table and what each step reported."""

    table: pd.DataFrame
    rows_per_platform: dict[str, int] = field(default_factory=dict)
    invalid: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    people: PeopleReport = field(default_factory=PeopleReport)
    judge_rows_dropped: int = 0


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


def pull_project(project: Project, rubric: Rubric, make_backend: BackendFactory, *,
                 include_judge: bool = True, progress: Callable[[str, int, int], None] | None = None,
                 keys: KeyMap | None = None) -> ProjectPullResult:
    """Pull every platform of ``project`` and return the merged, attributed table (not yet written).

    ``keys`` maps the opaque ids of a project pushed with gold items back to the real ones
    (:func:`brun_label.project_push.project_samples` gives it); rows of items the project does
    not know are left out and counted in the notes.
    """
    result = ProjectPullResult(table=empty_table())
    tables: dict[str, pd.DataFrame] = {}
    for platform, target in project.targets.items():
        backend = make_backend(platform, target)
        options = PullOptions(target=target.target, workspace=target.workspace, include_judge=include_judge,
                              annotator_names="email")

        def on_progress(done: int, total: int, platform: str = platform) -> None:
            if progress is not None:
                progress(platform, done, total)

        pulled = backend.pull(rubric, options, on_progress)
        table = pulled.table
        if keys is not None:
            table, unknown = unmask_table(table, keys, rubric)
            if unknown:
                result.notes.append(f"{platform}: {unknown} row(s) about items this project did not push, left out")
        tables[platform] = table
        result.rows_per_platform[platform] = len(pulled.table)
        result.invalid += [f"{platform}: {problem}" for problem in pulled.invalid]
    merged, result.judge_rows_dropped = merge_platform_tables(tables)
    if result.judge_rows_dropped:
        result.notes.append(f"{result.judge_rows_dropped} judge row(s) pulled from a second platform left out "
                            "(the same judge scores are pushed to every platform)")
    result.table, result.people = attribute_people(merged, project)
    result.notes += result.people.notes()
    return result
