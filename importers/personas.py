"""Persona and arc templates for drafting contrasting candidates, kept as data next to each rubric.

A *persona pack* (``label_configs/<rubric>.personas.yaml``) holds a system-prompt template, the
personas that draft candidates (each aimed at one value of the rubric's zone question, e.g. the
de-escalation tone zone) and the emotional arcs they follow. :meth:`PersonaPack.choose` picks the
personas of one scenario so that candidates contrast: the in-zone persona first, then the most
out-of-zone ones, alternating sides from one scenario to the next (stable per scenario id).

The model (dataclasses, :func:`persona_pack_from_dict`, the choice) is pure; :func:`load_personas`
reads the files.

Examples
--------
>>> from brun_label.rubrics import load_rubric
>>> pack = load_personas("de-escalation", load_rubric("de-escalation"))
>>> [p.name for p in pack.choose(3, "s-1")]
['Diplomatic_Firmness', 'Defensive_Robot_Lawyer', 'Over_Apologetic_Doormat']
>>> [p.zone for p in pack.choose(4, "s-2")]
[0, -2, 2, -1]
>>> pack.persona("Diplomatic_Firmness").arc
'Hostility_to_Collaboration'
>>> "Persona: Over_Apologetic_Doormat" in pack.system_prompt(pack.persona("Over_Apologetic_Doormat"))
True
"""

from __future__ import annotations

import hashlib
import re
import string
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

from brun_label.bounded_yaml import load_definition
from brun_label.errors import InputError
from brun_label.rubric import Rubric

#: Placeholders a system template may use.
PLACEHOLDERS = ("persona", "persona_instructions", "arc", "arc_instructions", "category", "rubric")
SUFFIX = ".personas.yaml"
_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_\-]{0,63}$")


class PersonaError(ValueError):
    """A persona pack is invalid; ``field`` names the offending part."""

    def __init__(self, field: str, message: str) -> None:
        self.field = field
        self.message = message
        super().__init__(f"{field}: {message}")


@dataclass(frozen=True)
class Arc:
    """An emotional arc: how the reply moves the conversation from its first line to its last."""

    name: str
    instructions: str


@dataclass(frozen=True)
class Persona:
    """Who drafts a candidate, the ``zone`` value it aims at, and its default ``arc``.

    ``flags`` are the rubric flags a reply in this persona is expected to trip (data for the
    simulated annotators of the demo; drafting does not use them).
    """

    name: str
    instructions: str
    arc: str
    zone: int | str | None = None
    flags: tuple[str, ...] = ()


@dataclass(frozen=True)
class PersonaPack:
    """The personas, arcs and system template of one rubric."""

    rubric: str
    system: str
    personas: tuple[Persona, ...]
    arcs: tuple[Arc, ...]
    target: int | str | None = None

    def persona(self, name: str) -> Persona:
        """Return the persona called ``name`` (``KeyError`` when there is none)."""
        for p in self.personas:
            if p.name == name:
                return p
        raise KeyError(name)

    def arc(self, name: str) -> Arc:
        """Return the arc called ``name`` (``KeyError`` when there is none)."""
        for a in self.arcs:
            if a.name == name:
                return a
        raise KeyError(name)

    def system_prompt(self, persona: Persona, category: str = "default") -> str:
        """Return the system message that makes the model write as ``persona`` along its arc."""
        arc = self.arc(persona.arc)
        return self.system.format(
            persona=persona.name, persona_instructions=persona.instructions.strip(),
            arc=arc.name, arc_instructions=arc.instructions.strip(),
            category=category, rubric=self.rubric,
        ).strip()

    def contrast_order(self, sample_id: str) -> list[Persona]:
        """Return every persona, most useful contrast first (see the module doc)."""
        if self.target is None:
            return list(self.personas)
        in_zone = [p for p in self.personas if p.zone == self.target]
        groups: dict[float, list[Persona]] = {}
        for p in self.personas:
            if p.zone != self.target:
                groups.setdefault(_distance(p.zone, self.target), []).append(p)
        turn = int.from_bytes(hashlib.sha256(sample_id.encode("utf-8")).digest()[:4], "big")
        order = list(in_zone)
        for dist in sorted(groups, reverse=True):
            group = groups[dist]
            k = turn % len(group)
            order += group[k:] + group[:k]
        return order

    def choose(self, n: int, sample_id: str) -> list[Persona]:
        """Return the personas of ``n`` candidates for one scenario (cycling when n is larger)."""
        order = self.contrast_order(sample_id)
        return [order[i % len(order)] for i in range(n)]

    def select(self, names: Sequence[str], n: int) -> list[Persona]:
        """Return ``n`` personas from an explicit list of names (cycled); ``KeyError`` if unknown."""
        chosen = [self.persona(name) for name in names]
        return [chosen[i % len(chosen)] for i in range(n)]


def _distance(zone: int | str | None, target: int | str) -> float:
    if isinstance(zone, int) and isinstance(target, int):
        return float(abs(zone - target))
    return 0.5 if zone is None else 1.0


def _text(raw: Mapping[str, Any], key: str, where: str) -> str:
    value = raw.get(key)
    if not isinstance(value, str) or not value.strip():
        raise PersonaError(f"{where}.{key}" if where else key, "must be a non-empty string")
    return value


def _name(raw: Mapping[str, Any], where: str) -> str:
    value = raw.get("name")
    if not isinstance(value, str) or not _NAME.match(value):
        raise PersonaError(f"{where}.name", f"must be a name like Diplomatic_Firmness, got {value!r}")
    return value


def persona_pack_from_dict(raw: Any, rubric: Rubric) -> PersonaPack:
    """Build and check a :class:`PersonaPack` for ``rubric`` from its data form.

    >>> from brun_label.rubrics import load_rubric
    >>> try:
    ...     persona_pack_from_dict({"rubric": "de-escalation", "system": "{nope}", "personas": [],
    ...                             "arcs": []}, load_rubric("de-escalation"))
    ... except PersonaError as exc:
    ...     print(exc)
    system: unknown placeholder {nope} (use persona, persona_instructions, arc, arc_instructions, category, rubric)
    """
    if not isinstance(raw, Mapping):
        raise PersonaError("(personas)", "must be a mapping")
    if raw.get("rubric") != rubric.name:
        raise PersonaError("rubric", f"is {raw.get('rubric')!r} but the rubric is {rubric.name!r}")
    system = _text(raw, "system", "")
    try:
        fields = [f for _, f, _, _ in string.Formatter().parse(system) if f is not None]
    except ValueError as exc:
        raise PersonaError("system", f"is not a valid template ({exc})") from None
    for f in fields:
        if f not in PLACEHOLDERS:
            raise PersonaError("system", f"unknown placeholder {{{f}}} (use {', '.join(PLACEHOLDERS)})")
    if "persona" not in fields:
        raise PersonaError("system", "must name the persona with {persona}")
    raw_arcs = raw.get("arcs")
    if not isinstance(raw_arcs, Sequence) or isinstance(raw_arcs, str) or not raw_arcs:
        raise PersonaError("arcs", "needs a list of at least one arc")
    arcs = []
    for i, a in enumerate(raw_arcs):
        if not isinstance(a, Mapping):
            raise PersonaError(f"arcs[{i}]", "must be a mapping")
        arcs.append(Arc(name=_name(a, f"arcs[{i}]"), instructions=_text(a, "instructions", f"arcs[{i}]")))
    arc_names = [a.name for a in arcs]
    if len(set(arc_names)) != len(arc_names):
        raise PersonaError("arcs", "arc names must be unique")
    zone_q = rubric.zone_question()
    raw_personas = raw.get("personas")
    if not isinstance(raw_personas, Sequence) or isinstance(raw_personas, str) or len(raw_personas) < 2:
        raise PersonaError("personas", "needs a list of at least 2 personas (candidates must contrast)")
    personas = []
    for i, p in enumerate(raw_personas):
        where = f"personas[{i}]"
        if not isinstance(p, Mapping):
            raise PersonaError(where, "must be a mapping")
        name = _name(p, where)
        where = f"personas[{name}]"
        arc = p.get("arc", arcs[0].name)
        if arc not in arc_names:
            raise PersonaError(f"{where}.arc", f"{arc!r} is not one of the arcs ({', '.join(arc_names)})")
        zone = p.get("zone")
        if zone is not None and zone_q is not None and zone not in zone_q.values():
            raise PersonaError(f"{where}.zone", f"{zone!r} is not a value of {zone_q.name} "
                               f"({', '.join(str(v) for v in zone_q.values())})")
        raw_flags = p.get("flags", [])
        allowed = {str(v) for q in rubric.flag_questions() for v in q.values()}
        if not isinstance(raw_flags, Sequence) or isinstance(raw_flags, str):
            raise PersonaError(f"{where}.flags", "must be a list of flag names")
        for flag in raw_flags:
            if str(flag) not in allowed:
                raise PersonaError(f"{where}.flags", f"{flag!r} is not a flag of rubric {rubric.name}")
        personas.append(Persona(name=name, instructions=_text(p, "instructions", where), arc=arc,
                                zone=zone, flags=tuple(str(f) for f in raw_flags)))
    names = [p.name for p in personas]
    if len(set(names)) != len(names):
        raise PersonaError("personas", "persona names must be unique")
    target = zone_q.target if zone_q is not None else None
    if target is not None and not any(p.zone == target for p in personas):
        target = None  # no in-zone persona: keep the file's order
    return PersonaPack(rubric=rubric.name, system=system, personas=tuple(personas),
                       arcs=tuple(arcs), target=target)


def personas_source(rubric_ref: str) -> tuple[str, str | None]:
    """Return ``(shown name, text or None)`` of the persona file that goes with a rubric reference.

    A shipped pack's file is ``label_configs/<name>.personas.yaml``; a rubric file's is
    ``<same folder>/<stem>.personas.yaml``.
    """
    from brun_label.rubrics import pack_names

    if rubric_ref in pack_names():
        res = resources.files("brun_label.label_configs") / f"{rubric_ref}{SUFFIX}"
        return f"{rubric_ref}{SUFFIX}", res.read_text(encoding="utf-8") if res.is_file() else None
    path = Path(rubric_ref)
    stem = path.name
    for ext in (".yaml", ".yml", ".json"):
        if stem.endswith(ext):
            stem = stem[: -len(ext)]
            break
    sibling = path.with_name(stem + SUFFIX)
    return str(sibling), sibling.read_text(encoding="utf-8") if sibling.is_file() else None


def load_personas(rubric_ref: str, rubric: Rubric, path: str | None = None) -> PersonaPack:
    """Load the persona pack of a rubric (by pack name or rubric path), or the file ``path``."""
    if path is not None:
        try:
            shown, text = path, Path(path).read_text(encoding="utf-8")
        except FileNotFoundError:
            raise InputError("no such file", path=path, field="--personas-file") from None
        except (OSError, UnicodeDecodeError) as exc:
            raise InputError(f"cannot read ({exc.__class__.__name__})", path=path) from None
    else:
        shown, found = personas_source(rubric_ref)
        if found is None:
            raise InputError(f"no persona templates for rubric {rubric.name!r}: write {shown} "
                             "or pass --personas-file", field="--personas-file")
        text = found
    raw = load_definition(text, shown)
    try:
        return persona_pack_from_dict(raw, rubric)
    except PersonaError as exc:
        raise InputError(exc.message, path=shown, field=exc.field) from None
