"""The project file as the commands see it: ``--project-file``, its rubric, its backends, its table.

The backends, the project file's reader and pandas are imported where they are used: every
command imports this module, and ``agreement`` or ``export`` on a plain table need none of them.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import click

from brun_label.errors import InputError

if TYPE_CHECKING:
    import pandas as pd

    from brun_label.backends.base import Backend
    from brun_label.project import Project, Target
    from brun_label.rubric import Rubric


def project_option(fn: Callable[..., Any]) -> Callable[..., Any]:
    """Add ``--project-file`` (default: ``brun-label.yaml`` in the working folder, when there is one)."""
    return click.option("--project-file", default=None, type=click.Path(dir_okay=False),
                        help="Project file (default: ./brun-label.yaml when present).")(fn)


def current_project(project_file: str | None, *, required: bool = True) -> Project | None:
    """The project to use, or None when there is none and it is not ``required``."""
    from brun_label.project_file import find_project_file, load_project

    path = find_project_file(project_file)
    if path is None:
        if required:
            raise InputError("no project file here (brun-label.yaml): run `brun-label init` first, "
                             "or pass --project-file", field="--project-file")
        return None
    return load_project(path)


def project_rubric(project: Project) -> Rubric:
    """The project's rubric, refused when it no longer has the fingerprint the project started with."""
    from brun_label.rubrics import load_rubric

    rubric = load_rubric(project.rubric)
    if project.rubric_identity and rubric.identity != project.rubric_identity:
        raise InputError(f"the project was started with rubric {project.rubric_identity}, but {project.rubric} is now "
                         f"{rubric.identity}: a changed rubric needs a new project", field="rubric")
    return rubric


def backend_for(platform: str, target: Target) -> Backend:
    """The backend of one platform of the project (URL and key variable from the project, else the environment)."""
    from brun_label.cli.connection import make_backend

    return make_backend(platform, target.url, target.api_key_env)


def read_project_table(project: Project, rubric: Rubric) -> pd.DataFrame:
    """The project's merged table (written by the project pull)."""
    from brun_label.importers.annotations import read_annotations

    if not os.path.exists(project.table):
        raise InputError("the project has no table yet: run `brun-label pull` first", path=project.table)
    return read_annotations(project.table, rubric)


def load_tables(paths: tuple[str, ...] | list[str], rubric_flag: str | None, *, candidates: Any = None,
                strict: bool = False, require_rubric: bool = False, warn: Callable[[str], None] | None = None,
                ) -> tuple[pd.DataFrame, Rubric | None]:
    """Read one or several annotation tables (all under the same rubric) as one table.

    Several tables are stacked as they are (no merging of people: use a project pull for that);
    tables recorded under different rubrics are refused, naming both.
    """
    import pandas as pd

    from brun_label.importers.annotations import load_checked

    frames: list[pd.DataFrame] = []
    rubric: Rubric | None = None
    first = ""
    for path in paths:
        table, r = load_checked(path, rubric_flag, candidates=candidates, strict=strict,
                                require_rubric=require_rubric, warn=warn)
        if rubric is not None and r is not None and r.identity != rubric.identity:
            raise InputError(f"recorded under rubric {r.identity}, but {first} under {rubric.identity}: "
                             "tables of different rubrics cannot be combined", path=path)
        if rubric is None and r is not None:
            rubric, first = r, path
        frames.append(table)
    if not frames:
        raise InputError("give at least one annotation table (or run in a project folder)", field="ANNOTATIONS")
    return (frames[0] if len(frames) == 1 else pd.concat(frames, ignore_index=True)), rubric
