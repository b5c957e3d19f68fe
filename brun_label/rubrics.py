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

from importlib import resources
from pathlib import Path
from typing import Any

from brun_label.bounded_yaml import MAX_DEFINITION_BYTES, load_definition
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
    raw = load_definition(text, source)
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
        if path.stat().st_size > MAX_DEFINITION_BYTES:
            raise InputError(f"file is {path.stat().st_size:,} bytes; definition files are capped at "
                             f"{MAX_DEFINITION_BYTES:,}", path=str(path))
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


def resolve_rubric(recorded: str | None, name_or_path: str | None, *, where: str = "the table") -> Rubric:
    """Return the rubric to read answers with, given the one ``recorded`` and the ``--rubric`` flag.

    ``recorded`` is an identity (``name@fingerprint``) recorded by ``push`` on a project or by
    ``pull`` in a table, or None when nothing was recorded. The rule is the same for ``pull``,
    ``agreement`` and ``export``:

    * a flag and a record: the flag's rubric must have the recorded fingerprint, else the command
      is refused (a user file that reuses a pack's name is never swapped for the pack, or back);
    * a record only: the shipped pack of that name, if its fingerprint matches; otherwise the user
      must pass the rubric file with ``--rubric``;
    * a flag only: the flag's rubric; neither: an error asking for ``--rubric``.

    >>> pack = load_rubric("de-escalation")
    >>> resolve_rubric(pack.identity, None).name
    'de-escalation'
    >>> resolve_rubric("de-escalation@000000000000", None)
    Traceback (most recent call last):
    ...
    brun_label.errors.InputError: --rubric: the table was written under rubric de-escalation@000000000000, but the shipped pack de-escalation is now de-escalation@c8efd34e179e: pass the rubric file it was written under with --rubric
    """
    if name_or_path is not None:
        rubric = load_rubric(name_or_path)
        if recorded is not None and rubric.identity != recorded:
            raise InputError(
                f"{where} was written under rubric {recorded}, but --rubric {name_or_path} is "
                f"{rubric.identity}: pass the rubric it was written under",
                field="--rubric",
            )
        return rubric
    if recorded is None:
        raise InputError(f"{where} records no rubric: pass one with --rubric", field="--rubric")
    name = recorded.split("@", 1)[0]
    if name in pack_names():
        rubric = load_rubric(name)
        if rubric.identity == recorded:
            return rubric
        raise InputError(
            f"{where} was written under rubric {recorded}, but the shipped pack {name} is now "
            f"{rubric.identity}: pass the rubric file it was written under with --rubric",
            field="--rubric",
        )
    raise InputError(
        f"{where} was written under rubric {recorded} (a rubric file, not a shipped pack): "
        "pass that file with --rubric",
        field="--rubric",
    )
