"""Find and load rubrics: the packs in ``label_configs/`` by name, or a user's YAML/JSON file.

Adapter (reads files); the rubric model itself is :mod:`brun_label.rubric`.

Examples
--------
>>> sorted(pack_names())
['de-escalation', 'deal-closer', 'project-architect', 'socratic-mentor']
>>> load_rubric("de-escalation").zone_question().name
'tone_zone'
"""

from __future__ import annotations

import json
from importlib import resources
from pathlib import Path
from typing import Any

import yaml

from brun_label.errors import InputError
from brun_label.rubric import Rubric, RubricError, rubric_from_dict

_PACKAGE = "brun_label.label_configs"


def _pack_dir() -> Any:
    return resources.files(_PACKAGE)


def pack_names() -> list[str]:
    """Return the names of the rubric packs shipped with brun-label."""
    return sorted(
        p.name[: -len(".yaml")] for p in _pack_dir().iterdir()
        if p.name.endswith(".yaml") and not p.name.endswith(".personas.yaml")
    )


def _parse(text: str, source: str) -> Rubric:
    try:
        raw = json.loads(text) if source.endswith(".json") else yaml.safe_load(text)
    except (yaml.YAMLError, json.JSONDecodeError) as exc:
        mark = getattr(exc, "problem_mark", None)
        line = mark.line + 1 if mark is not None else getattr(exc, "lineno", None)
        raise InputError(f"not valid YAML/JSON ({str(exc).splitlines()[0]})", path=source, line=line) from None
    try:
        return rubric_from_dict(raw)
    except RubricError as exc:
        raise InputError(exc.message, path=source, field=exc.field) from None


def load_rubric(name_or_path: str) -> Rubric:
    """Load a shipped pack by name, or a rubric file by path (``.yaml``, ``.yml`` or ``.json``)."""
    if name_or_path in pack_names():
        text = (_pack_dir() / f"{name_or_path}.yaml").read_text(encoding="utf-8")
        return _parse(text, f"{name_or_path}.yaml")
    path = Path(name_or_path)
    if not path.exists():
        raise InputError(
            f"no rubric pack or file named {name_or_path!r} (packs: {', '.join(pack_names())})",
            field="--rubric",
        )
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"cannot read rubric file ({exc.__class__.__name__})", path=str(path)) from None
    return _parse(text, str(path))


def rubric_source(name_or_path: str) -> str:
    """Return the YAML/JSON text a rubric was defined in (after checking that it loads)."""
    load_rubric(name_or_path)
    if name_or_path in pack_names():
        return str((_pack_dir() / f"{name_or_path}.yaml").read_text(encoding="utf-8"))
    return Path(name_or_path).read_text(encoding="utf-8")
