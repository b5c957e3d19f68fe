"""The project file (``brun-label.yaml``): one annotation project across platforms and rounds.

Pure core: the data model and its validation (reading and writing the file is
:mod:`brun_label.project_file`). A project names its samples file, its rubric (a pack or a path,
with the fingerprint it was started with), each platform's target, the people who annotate (one
entry per person with their identity on each platform, optionally a pseudonym), the overlap and
the export gates. Every command reads it when present; flags override.

Examples
--------
>>> p = project_from_dict({
...     "samples": "samples.jsonl", "rubric": "de-escalation",
...     "platforms": {"label-studio": {"project": "Crisis v1"},
...                   "argilla": {"dataset": "crisis-v1", "workspace": "team"}},
...     "people": [{"name": "Ana", "label-studio": "ana@corp.com", "argilla": "ana"}]})
>>> p.targets["argilla"].target, p.targets["argilla"].workspace, p.people[0].identities
('crisis-v1', 'team', {'label-studio': 'ana@corp.com', 'argilla': 'ana'})
>>> project_from_dict({"samples": "s.jsonl", "rubric": "x", "platforms": {"doccano": {}}})
Traceback (most recent call last):
...
brun_label.project.ProjectError: platforms.doccano: unknown platform (use label-studio, argilla)
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from brun_label.model import CONSENSUS

#: Platforms a project can use, and the key that names the target on each.
PLATFORM_TARGET_KEYS = {"label-studio": "project", "argilla": "dataset"}
#: The project file's name in the working folder.
PROJECT_FILE = "brun-label.yaml"
#: Gates a project may set for ``export dpo`` (names as the CLI flags, with underscores).
GATE_KEYS = ("min_annotators", "min_share", "min_alpha", "max_flag_share", "min_gold_accuracy", "min_posterior")
_PSEUDONYM = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.\-]{0,63}$")
_KNOWN = {"version", "samples", "rubric", "rubric_identity", "platforms", "people", "overlap", "gates",
          "table", "pseudonym_salt", "gold", "gold_share", "max_overlap", "adjudicators", "consensus"}


class ProjectError(ValueError):
    """One problem in a project file; ``path`` is the key path (``people[2].argilla``)."""

    def __init__(self, path: tuple[Any, ...], message: str) -> None:
        self.path = path
        self.message = message
        super().__init__(f"{render_path(path)}: {message}")


def render_path(path: Sequence[Any]) -> str:
    """Render a key path as ``a.b[2].c``.

    >>> render_path(("people", 2, "argilla"))
    'people[2].argilla'
    """
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or "(project)"


@dataclass(frozen=True)
class Target:
    """Where a project lives on one platform."""

    platform: str
    target: str
    workspace: str | None = None
    url: str | None = None
    api_key_env: str | None = None


@dataclass(frozen=True)
class Person:
    """One annotator, with their identity on each platform (email for Label Studio, username for Argilla)."""

    name: str
    identities: Mapping[str, str]
    pseudonym: str | None = None


@dataclass(frozen=True)
class Project:
    """A validated project file."""

    samples: str
    rubric: str
    targets: Mapping[str, Target]
    people: tuple[Person, ...] = ()
    rubric_identity: str | None = None
    overlap: int | None = None
    gates: Mapping[str, float] = field(default_factory=dict)
    table: str = ".brun-label/project/annotations.parquet"
    pseudonym_salt: str | None = None
    gold: str | None = None
    """A gold file (samples with known answers), mixed into the push at ``gold_share``."""
    gold_share: float = 0.1
    max_overlap: int | None = None
    """Adaptive overlap: ``route`` adds annotators up to this many per item (``overlap`` is the start)."""
    adjudicators: tuple[str, ...] = ()
    """People (names from ``people``) who may decide disputed items in the adjudication project."""
    consensus: str | None = None
    """``share`` or ``dawid-skene``; None: the default (``dawid-skene`` with adaptive overlap)."""

    def export_gates(self) -> dict[str, Any]:
        """The export's consensus gates for this project: its ``gates``, else the defaults.

        ``min_annotators`` defaults to 3, or, with adaptive overlap (``max_overlap`` set), to the
        start ``overlap``, so that ``route``, ``status`` and ``export`` judge "clear" alike. The
        ``consensus`` defaults to ``share`` (votes counted), or, with adaptive overlap, to
        ``dawid-skene``: deciding with as few as ``overlap`` people needs votes weighed by each
        person's reliability (``bench/bench_quality_loop.py`` measures why).

        >>> project_from_dict({"samples": "s", "rubric": "r", "platforms": {"argilla": {"dataset": "d"}},
        ...                    "overlap": 2, "max_overlap": 5}).export_gates()
        {'min_annotators': 2.0, 'min_share': 0.8, 'max_flag_share': 0.0, 'consensus': 'dawid-skene', 'min_posterior': 0.99}
        >>> project_from_dict({"samples": "s", "rubric": "r", "platforms": {"argilla": {"dataset": "d"}}}).export_gates()
        {'min_annotators': 3.0, 'min_share': 0.8, 'max_flag_share': 0.0, 'consensus': 'share'}
        """
        adaptive = self.max_overlap is not None
        start = self.overlap if adaptive and self.overlap else 3
        out: dict[str, Any] = {"min_annotators": float(self.gates.get("min_annotators", start)),
                               "min_share": float(self.gates.get("min_share", 0.8)),
                               "max_flag_share": float(self.gates.get("max_flag_share", 0.0)),
                               "consensus": self.consensus or ("dawid-skene" if adaptive else "share")}
        if out["consensus"] == "dawid-skene":
            out["min_posterior"] = float(self.gates.get("min_posterior", 0.99))
        return out

    @property
    def state_dir(self) -> str:
        """Where the project keeps its state (next to the table)."""
        import os

        return os.path.dirname(self.table) or "."

    def person_for(self, platform: str, identity: str) -> Person | None:
        """Return the person whose identity on ``platform`` is ``identity`` (case-insensitive)."""
        key = identity.strip().lower()
        for person in self.people:
            mine = person.identities.get(platform)
            if mine is not None and mine.strip().lower() == key:
                return person
        return None


def _str(raw: Any, path: tuple[Any, ...], *, optional: bool = False) -> str | None:
    if raw is None and optional:
        return None
    if not isinstance(raw, str) or not raw.strip():
        raise ProjectError(path, "must be a non-empty string")
    return raw


def _target(platform: str, raw: Any) -> Target:
    path: tuple[Any, ...] = ("platforms", platform)
    if platform not in PLATFORM_TARGET_KEYS:
        raise ProjectError(path, f"unknown platform (use {', '.join(PLATFORM_TARGET_KEYS)})")
    if not isinstance(raw, Mapping):
        raise ProjectError(path, "must be a mapping")
    key = PLATFORM_TARGET_KEYS[platform]
    allowed = {key, "url", "api_key_env"} | ({"workspace"} if platform == "argilla" else set())
    for k in raw:
        if k not in allowed:
            raise ProjectError((*path, k), f"unknown key (use {', '.join(sorted(allowed))})")
    if "api_key" in raw:
        raise ProjectError((*path, "api_key"), "keys never go in the project file: use api_key_env")
    target = _str(raw.get(key), (*path, key))
    assert target is not None
    return Target(platform=platform, target=target,
                  workspace=_str(raw.get("workspace"), (*path, "workspace"), optional=True),
                  url=_str(raw.get("url"), (*path, "url"), optional=True),
                  api_key_env=_str(raw.get("api_key_env"), (*path, "api_key_env"), optional=True))


def _people(raw: Any, platforms: Sequence[str]) -> tuple[Person, ...]:
    if raw is None:
        return ()
    if not isinstance(raw, Sequence) or isinstance(raw, str):
        raise ProjectError(("people",), "must be a list of people")
    out: list[Person] = []
    names: dict[str, int] = {}
    owners: dict[tuple[str, str], int] = {}
    pseudonyms: dict[str, int] = {}
    for i, entry in enumerate(raw):
        path: tuple[Any, ...] = ("people", i)
        if not isinstance(entry, Mapping):
            raise ProjectError(path, "must be a mapping with a name and an identity per platform")
        for k in entry:
            if k not in ("name", "pseudonym", *PLATFORM_TARGET_KEYS):
                raise ProjectError((*path, k), f"unknown key (use name, pseudonym, {', '.join(PLATFORM_TARGET_KEYS)})")
        name = _str(entry.get("name"), (*path, "name"))
        assert name is not None
        if name.lower() in names:
            raise ProjectError((*path, "name"), f"{name!r} is already people[{names[name.lower()]}]")
        names[name.lower()] = i
        identities: dict[str, str] = {}
        for platform in PLATFORM_TARGET_KEYS:
            ident = _str(entry.get(platform), (*path, platform), optional=True)
            if ident is None:
                continue
            key = (platform, ident.strip().lower())
            if key in owners:
                raise ProjectError((*path, platform), f"{ident!r} is already people[{owners[key]}]'s {platform} identity")
            owners[key] = i
            identities[platform] = ident
        if not identities:
            raise ProjectError(path, f"needs an identity on at least one platform ({', '.join(PLATFORM_TARGET_KEYS)})")
        pseudonym = _str(entry.get("pseudonym"), (*path, "pseudonym"), optional=True)
        if pseudonym is not None:
            if not _PSEUDONYM.match(pseudonym):
                raise ProjectError((*path, "pseudonym"), "use letters, digits, '.', '_' or '-' (at most 64)")
            if pseudonym in pseudonyms:
                raise ProjectError((*path, "pseudonym"), f"{pseudonym!r} is already people[{pseudonyms[pseudonym]}]'s")
            pseudonyms[pseudonym] = i
        out.append(Person(name=name, identities=identities, pseudonym=pseudonym))
    return tuple(out)


def project_from_dict(raw: Any) -> Project:
    """Build and validate a :class:`Project` from its data form, raising :class:`ProjectError`."""
    if not isinstance(raw, Mapping):
        raise ProjectError((), "must be a mapping")
    for k in raw:
        if k not in _KNOWN:
            raise ProjectError((k,), f"unknown key (use {', '.join(sorted(_KNOWN))})")
    version = raw.get("version", 1)
    if version != 1:
        raise ProjectError(("version",), f"unsupported version {version!r} (this brun-label reads 1)")
    samples = _str(raw.get("samples"), ("samples",))
    rubric = _str(raw.get("rubric"), ("rubric",))
    assert samples is not None and rubric is not None
    identity = _str(raw.get("rubric_identity"), ("rubric_identity",), optional=True)
    if identity is not None and not re.fullmatch(r"[a-z][a-z0-9-]*@[0-9a-f]{12}", identity):
        raise ProjectError(("rubric_identity",), "must look like name@0123456789ab")
    platforms = raw.get("platforms")
    if not isinstance(platforms, Mapping) or not platforms:
        raise ProjectError(("platforms",), f"needs at least one platform ({', '.join(PLATFORM_TARGET_KEYS)})")
    targets = {str(p): _target(str(p), v) for p, v in platforms.items()}
    overlap = raw.get("overlap")
    if overlap is not None and (isinstance(overlap, bool) or not isinstance(overlap, int) or overlap < 1):
        raise ProjectError(("overlap",), "must be a positive integer")
    gates_raw = raw.get("gates") or {}
    if not isinstance(gates_raw, Mapping):
        raise ProjectError(("gates",), "must be a mapping")
    gates: dict[str, float] = {}
    for k, v in gates_raw.items():
        if k not in GATE_KEYS:
            raise ProjectError(("gates", k), f"unknown gate (use {', '.join(GATE_KEYS)})")
        if isinstance(v, bool) or not isinstance(v, int | float) or v < 0:
            raise ProjectError(("gates", k), "must be a non-negative number")
        if k in ("min_share", "max_flag_share", "min_gold_accuracy") and v > 1:
            raise ProjectError(("gates", k), "is a share: at most 1")
        if k == "min_posterior" and not 0.5 < v < 1:
            raise ProjectError(("gates", k), "is a probability: above 0.5 and below 1 (e.g. 0.99)")
        gates[k] = float(v)
    table = _str(raw.get("table", ".brun-label/project/annotations.parquet"), ("table",))
    assert table is not None
    salt = _str(raw.get("pseudonym_salt"), ("pseudonym_salt",), optional=True)
    gold = _str(raw.get("gold"), ("gold",), optional=True)
    share = raw.get("gold_share", 0.1)
    if isinstance(share, bool) or not isinstance(share, int | float) or not 0 < share < 1:
        raise ProjectError(("gold_share",), "must be a share between 0 and 1 (e.g. 0.1)")
    max_overlap = raw.get("max_overlap")
    if max_overlap is not None:
        if isinstance(max_overlap, bool) or not isinstance(max_overlap, int) or max_overlap < 1:
            raise ProjectError(("max_overlap",), "must be a positive integer")
        if overlap is not None and max_overlap < overlap:
            raise ProjectError(("max_overlap",), f"is below overlap ({overlap})")
    people = _people(raw.get("people"), list(targets))
    adjudicators_raw = raw.get("adjudicators") or []
    if not isinstance(adjudicators_raw, Sequence) or isinstance(adjudicators_raw, str):
        raise ProjectError(("adjudicators",), "must be a list of people's names")
    names = {p.name for p in people}
    for i, a in enumerate(adjudicators_raw):
        if a not in names:
            raise ProjectError(("adjudicators", i), f"{a!r} is not a person of the project (people[].name)")
    if gold is not None and salt is None:
        raise ProjectError(("pseudonym_salt",), "a project with gold items needs its salt (brun-label init writes one)")
    consensus = raw.get("consensus")
    if consensus is not None and consensus not in CONSENSUS:
        raise ProjectError(("consensus",), f"must be {' or '.join(CONSENSUS)}")
    return Project(samples=samples, rubric=rubric, targets=targets, people=people, rubric_identity=identity,
                   overlap=overlap, gates=gates, table=table, pseudonym_salt=salt, gold=gold,
                   gold_share=float(share), max_overlap=max_overlap, adjudicators=tuple(adjudicators_raw),
                   consensus=consensus)


def project_to_dict(project: Project) -> dict[str, Any]:
    """Return the data form of a project (what :func:`project_from_dict` reads back).

    >>> p = project_from_dict({"samples": "s.jsonl", "rubric": "de-escalation",
    ...                        "platforms": {"argilla": {"dataset": "d"}}, "overlap": 2})
    >>> project_from_dict(project_to_dict(p)) == p
    True
    """
    out: dict[str, Any] = {"version": 1, "samples": project.samples, "rubric": project.rubric}
    if project.rubric_identity:
        out["rubric_identity"] = project.rubric_identity
    platforms: dict[str, Any] = {}
    for name, t in project.targets.items():
        entry: dict[str, Any] = {PLATFORM_TARGET_KEYS[name]: t.target}
        for key in ("workspace", "url", "api_key_env"):
            if getattr(t, key) is not None:
                entry[key] = getattr(t, key)
        platforms[name] = entry
    out["platforms"] = platforms
    if project.people:
        out["people"] = [
            {"name": p.name, **dict(p.identities), **({"pseudonym": p.pseudonym} if p.pseudonym else {})}
            for p in project.people
        ]
    if project.overlap is not None:
        out["overlap"] = project.overlap
    if project.gates:
        out["gates"] = {k: (int(v) if k == "min_annotators" else v) for k, v in project.gates.items()}
    if project.gold:
        out["gold"] = project.gold
        out["gold_share"] = project.gold_share
    if project.max_overlap is not None:
        out["max_overlap"] = project.max_overlap
    if project.adjudicators:
        out["adjudicators"] = list(project.adjudicators)
    if project.consensus is not None:
        out["consensus"] = project.consensus
    out["table"] = project.table
    if project.pseudonym_salt:
        out["pseudonym_salt"] = project.pseudonym_salt
    return out
