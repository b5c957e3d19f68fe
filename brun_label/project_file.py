"""Find, read and write the project file (``brun-label.yaml``); the model is :mod:`brun_label.project`.

Adapter (files). A project file is found in the working folder (or given with
``--project-file``); paths inside it are relative to its folder. Every problem is one line with
the file, line and key (``brun-label.yaml:7: people[1].argilla: ...``).

Examples
--------
>>> import os, tempfile
>>> d = tempfile.mkdtemp()
>>> path = os.path.join(d, "brun-label.yaml")
>>> _ = open(path, "w").write("samples: s.jsonl\\nrubric: de-escalation\\nplatforms:\\n  argilla: {}\\n")
>>> load_project(path)  # doctest: +ELLIPSIS
Traceback (most recent call last):
...
brun_label.errors.InputError: ...brun-label.yaml:4: platforms.argilla.dataset: must be a non-empty string
"""

from __future__ import annotations

import os
import secrets
from dataclasses import replace
from pathlib import Path

import yaml

from brun_label.atomic import atomic_write_text
from brun_label.bounded_yaml import MAX_DEFINITION_BYTES, line_of, load_definition_lines
from brun_label.errors import InputError
from brun_label.project import (
    PROJECT_FILE,
    Project,
    ProjectError,
    project_from_dict,
    project_to_dict,
    render_path,
)


def find_project_file(explicit: str | None = None, folder: str | os.PathLike[str] = ".") -> Path | None:
    """Return the project file to use: ``explicit`` (must exist), else ``folder/brun-label.yaml`` if present."""
    if explicit is not None:
        path = Path(explicit)
        if not path.is_file():
            raise InputError("no such project file", path=str(path), field="--project-file")
        return path
    candidate = Path(folder) / PROJECT_FILE
    return candidate if candidate.is_file() else None


def load_project(path: str | os.PathLike[str]) -> Project:
    """Read and validate a project file; paths in it are resolved against its folder."""
    p = Path(path)
    try:
        if p.stat().st_size > MAX_DEFINITION_BYTES:
            raise InputError(f"file is larger than {MAX_DEFINITION_BYTES:,} bytes", path=str(p))
        text = p.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise InputError("no such file", path=str(p)) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"cannot read ({exc.__class__.__name__})", path=str(p)) from None
    raw, lines = load_definition_lines(text, str(p))
    try:
        project = project_from_dict(raw)
    except ProjectError as exc:
        raise InputError(exc.message, path=str(p), line=line_of(lines, exc.path), field=render_path(exc.path)) from None
    base = p.parent

    def resolve(rel: str) -> str:
        return rel if os.path.isabs(rel) else str(base / rel)

    rubric = project.rubric if "/" not in project.rubric and not project.rubric.endswith((".yaml", ".yml", ".json")) \
        else resolve(project.rubric)
    return replace(project, samples=resolve(project.samples), rubric=rubric, table=resolve(project.table),
                   gold=resolve(project.gold) if project.gold else None)


def dump_project(project: Project) -> str:
    """Return the YAML text of a project file (keys in a stable, readable order)."""
    header = ("# brun-label project file: every command reads it from this folder; flags override.\n"
              "# Keys never go here: they come from LABEL_STUDIO_API_KEY / ARGILLA_API_KEY (or api_key_env).\n")
    return header + yaml.safe_dump(project_to_dict(project), sort_keys=False, allow_unicode=True)


def write_project(project: Project, path: str | os.PathLike[str], *, overwrite: bool = False) -> None:
    """Write the project file atomically (refusing to replace one unless ``overwrite``)."""
    p = Path(path)
    if p.exists() and not overwrite:
        raise InputError("a project file is already here (use --force to replace it)", path=str(p))
    atomic_write_text(p, dump_project(project))


def new_salt() -> str:
    """Return a fresh salt for the project's pseudonyms."""
    return secrets.token_hex(8)
