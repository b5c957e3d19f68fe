"""Rubrics as data: typed questions with the measurement level of their answers.

Pure core. A rubric is defined once (a YAML file in ``label_configs/``, or a dict) and rendered to
both a Label Studio XML config (:mod:`brun_label.render_label_studio`) and Argilla settings
(:mod:`brun_label.render_argilla`).

Question types
--------------
``scale``       single choice on an ordinal scale of integers, optionally bipolar, with a ``target``
                (the in-zone value), e.g. the tone zone -2..+2.
``choice``      single choice on a nominal (or ordinal, when ``level`` says so) scale of labels.
``flags``       multi-label flags (each flag is a binary question for agreement).
``rating``      an integer rating from ``min`` to ``max``.
``preference``  which candidate is best, plus ``tie`` and ``both_bad``; values are candidate ids.
``text``        free text (never used for agreement).

Each question is asked per ``candidate`` or once per ``item`` (its ``scope``).

Examples
--------
>>> r = rubric_from_dict({"name": "mini", "questions": [
...     {"name": "tone", "type": "scale", "options": [-1, 0, 1], "target": 0},
...     {"name": "pref", "type": "preference"}]})
>>> [(q.name, q.scope, q.level) for q in r.questions]
[('tone', 'candidate', 'ordinal'), ('pref', 'item', 'nominal')]
>>> r.question("tone").values()
[-1, 0, 1]
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

QUESTION_TYPES = ("scale", "choice", "flags", "rating", "preference", "text")
LEVELS = ("nominal", "ordinal", "interval", "ratio")
SCOPES = ("candidate", "item")
#: Preference answers that are not a candidate.
TIE = "tie"
BOTH_BAD = "both_bad"

_DEFAULT_LEVEL = {
    "scale": "ordinal",
    "choice": "nominal",
    "flags": "nominal",
    "rating": "ordinal",
    "preference": "nominal",
    "text": "nominal",
}
_DEFAULT_SCOPE = {"preference": "item", "text": "item"}
_NAME = re.compile(r"^[a-z][a-z0-9_]{0,40}$")
#: Most candidate slots a project can have (``--candidates`` is capped at this).
MAX_SLOTS = 26
#: Caps on a rubric's size (a rubric is a user file: untrusted).
MAX_QUESTIONS = 200
MAX_OPTIONS = 20_000
#: Names the renderers use for the task/record fields and brun-label's own keys; a question (or a
#: per-candidate question's slot) may not take one of them.
RESERVED_NAMES = frozenset({
    "prompt", "category", "id", "external_id", "metadata", "status", "fields", "responses",
    "suggestions", "vectors", "data", "annotations", "predictions", "meta",
})


def _short(value: Any, limit: int = 60) -> str:
    """``repr`` capped at ``limit`` characters, so one bad value cannot make a huge error line."""
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def platform_names(question: Question, n_slots: int = MAX_SLOTS) -> list[str]:
    """Return the names a question takes on the platforms: its own, or one per candidate slot.

    >>> q = Question(name="tone", type="scale", title="Tone")
    >>> platform_names(q, 3)
    ['tone_a', 'tone_b', 'tone_c']
    """
    if question.scope == "item":
        return [question.name]
    return [slot_name(question.name, i) for i in range(n_slots)]


def _reserved(name: str) -> bool:
    return name in RESERVED_NAMES or name.startswith("brun_") or re.fullmatch(r"candidate_[a-z]+", name) is not None


def check_names(questions: Sequence[Question]) -> None:
    """Refuse rubrics whose questions would share a name on a platform, or take a reserved one.

    A per-candidate question ``tone`` becomes ``tone_a``, ``tone_b``... on the platforms, so an item
    question ``tone_b`` (or a candidate question whose slots land on it) would be the same control.

    >>> qs = [Question(name="tone", type="scale", title="T"),
    ...       Question(name="tone_b", type="text", title="N", scope="item")]
    >>> check_names(qs)
    Traceback (most recent call last):
    ...
    brun_label.rubric.RubricError: questions[tone_b].name: 'tone_b' collides with per-candidate question 'tone' (its slot for candidate B is also named 'tone_b')
    """
    def describe(q: Question, pos: int | None, name: str) -> str:
        if pos is None:
            return f"question {q.name!r}"
        return f"per-candidate question {q.name!r} (its slot for candidate {chr(65 + pos)} is also named {name!r})"

    owner: dict[str, tuple[Question, int | None]] = {}
    for q in questions:
        for pos, name in enumerate(platform_names(q)):
            position = None if q.scope == "item" else pos
            if _reserved(name):
                what = f"its slot for candidate {chr(65 + pos)} is named {name!r}: " if position is not None else ""
                raise RubricError(f"questions[{q.name}].name",
                                  f"{what}{name!r} is reserved for the task's own fields "
                                  "(prompt, category, candidate_a..., brun_...): rename the question")
            if name in owner:
                other, other_pos = owner[name]
                mine = "" if position is None else f" (its slot for candidate {chr(65 + pos)})"
                raise RubricError(f"questions[{q.name}].name",
                                  f"{q.name!r}{mine} collides with {describe(other, other_pos, name)}")
            owner[name] = (q, position)


class RubricError(ValueError):
    """A rubric definition is invalid; ``field`` names the offending part."""

    def __init__(self, field: str, message: str) -> None:
        self.field = field
        self.message = message
        super().__init__(f"{field}: {message}")


@dataclass(frozen=True)
class Option:
    """One answer option: the stored ``value``, the ``label`` annotators see, an optional ``hint``."""

    value: int | str
    label: str
    hint: str | None = None


@dataclass(frozen=True)
class Question:
    """One typed rubric question."""

    name: str
    type: str
    title: str
    scope: str = "candidate"
    level: str = "nominal"
    options: tuple[Option, ...] = ()
    required: bool = True
    description: str | None = None
    target: int | str | None = None
    min: int | None = None
    max: int | None = None

    def values(self) -> list[int | str]:
        """Return the allowed values in order (for ``rating``, ``min``..``max``)."""
        if self.type == "rating":
            assert self.min is not None and self.max is not None
            return list(range(self.min, self.max + 1))
        return [o.value for o in self.options]

    def option(self, value: int | str) -> Option:
        """Return the option with this value (``KeyError`` when there is none)."""
        for opt in self.options:
            if opt.value == value:
                return opt
        raise KeyError(value)

    @property
    def agreement(self) -> bool:
        """Whether agreement is computed for this question (not for free text)."""
        return self.type != "text"


@dataclass(frozen=True)
class Rubric:
    """A named, versioned list of questions with annotator guidelines."""

    name: str
    title: str
    questions: tuple[Question, ...]
    version: str = "1"
    description: str = ""
    guidelines: str = ""
    prompt_title: str = "Scenario"
    extra: Mapping[str, Any] = field(default_factory=dict)

    def question(self, name: str) -> Question:
        """Return the question with this name (``KeyError`` when there is none)."""
        for q in self.questions:
            if q.name == name:
                return q
        raise KeyError(name)

    @property
    def fingerprint(self) -> str:
        """A 12-hex digest of everything that defines the rubric (questions, options, texts).

        Two rubrics with the same fingerprint ask the same questions with the same options; a
        file that reuses a pack's name but changes anything has another fingerprint.

        >>> a = rubric_from_dict({"name": "m", "questions": [{"name": "t", "type": "scale", "options": [0, 1]}]})
        >>> b = rubric_from_dict({"name": "m", "questions": [{"name": "t", "type": "scale", "options": [0, 2]}]})
        >>> len(a.fingerprint), a.fingerprint == b.fingerprint
        (12, False)
        """
        data = asdict(self)
        data["extra"] = dict(self.extra)
        text = json.dumps(data, sort_keys=True, ensure_ascii=False, separators=(",", ":"), default=str)
        return hashlib.sha256(text.encode("utf-8")).hexdigest()[:12]

    @property
    def identity(self) -> str:
        """``name@fingerprint``: what push records on a project and pull writes in the table.

        >>> rubric_from_dict({"name": "m", "questions": [{"name": "t", "type": "text"}]}).identity.startswith("m@")
        True
        """
        return f"{self.name}@{self.fingerprint}"

    def levels(self) -> dict[str, str]:
        """Return ``{question: measurement level}`` for the questions that have agreement."""
        return {q.name: q.level for q in self.questions if q.agreement}

    def zone_question(self) -> Question | None:
        """Return the first ``scale`` question with a ``target`` (the tone zone), if any."""
        for q in self.questions:
            if q.type == "scale" and q.target is not None:
                return q
        return None

    def flag_questions(self) -> list[Question]:
        """Return the per-candidate ``flags`` questions (liability flags and the like)."""
        return [q for q in self.questions if q.type == "flags" and q.scope == "candidate"]

    def preference_question(self) -> Question | None:
        """Return the item-level ``preference`` question, if any."""
        for q in self.questions:
            if q.type == "preference":
                return q
        return None


def _parse_option(raw: Any, where: str, numeric: bool) -> Option:
    if isinstance(raw, Mapping):
        if "value" not in raw:
            raise RubricError(where, "an option needs a value")
        value, label, hint = raw["value"], raw.get("label"), raw.get("hint")
    else:
        value, label, hint = raw, None, None
    if numeric:
        if isinstance(value, bool) or not isinstance(value, int):
            raise RubricError(where, f"scale values must be integers, got {_short(value)}")
    elif not isinstance(value, str) or not _NAME.match(value):
        raise RubricError(
            where, f"option values must be lowercase identifiers (a-z, 0-9, _), got {_short(value)}"
        )
    if label is None:
        label = f"{value:+d}" if numeric and value else str(value)
    if not isinstance(label, str):
        raise RubricError(where, "label must be a string")
    if hint is not None and not isinstance(hint, str):
        raise RubricError(where, "hint must be a string")
    return Option(value=value, label=label, hint=hint)


def _parse_question(raw: Any, index: int) -> Question:
    where = f"questions[{index}]"
    if not isinstance(raw, Mapping):
        raise RubricError(where, "must be a mapping")
    name = raw.get("name")
    if not isinstance(name, str) or not _NAME.match(name):
        raise RubricError(f"{where}.name", f"must be a lowercase identifier, got {_short(name)}")
    where = f"questions[{name}]"
    qtype = raw.get("type")
    if qtype not in QUESTION_TYPES:
        raise RubricError(f"{where}.type", f"must be one of {', '.join(QUESTION_TYPES)}, got {_short(qtype)}")
    level = raw.get("level", _DEFAULT_LEVEL[qtype])
    if level not in LEVELS:
        raise RubricError(f"{where}.level", f"must be one of {', '.join(LEVELS)}, got {_short(level)}")
    scope = raw.get("scope", _DEFAULT_SCOPE.get(qtype, "candidate"))
    if scope not in SCOPES:
        raise RubricError(f"{where}.scope", f"must be candidate or item, got {_short(scope)}")
    if qtype == "preference" and scope != "item":
        raise RubricError(f"{where}.scope", "a preference is asked once per item")
    options: tuple[Option, ...] = ()
    if qtype in ("scale", "choice", "flags"):
        raw_opts = raw.get("options")
        if not isinstance(raw_opts, Sequence) or isinstance(raw_opts, str) or len(raw_opts) < 2:
            raise RubricError(f"{where}.options", "needs a list of at least 2 options")
        if len(raw_opts) > MAX_OPTIONS:
            raise RubricError(f"{where}.options", f"has {len(raw_opts)} options; a question is capped at {MAX_OPTIONS}")
        options = tuple(
            _parse_option(o, f"{where}.options[{i}]", qtype == "scale")
            for i, o in enumerate(raw_opts)
        )
        values = [o.value for o in options]
        if len(set(values)) != len(values):
            raise RubricError(f"{where}.options", "option values must be unique")
        if qtype == "scale" and values != sorted(values, key=int):
            raise RubricError(f"{where}.options", "scale values must be in increasing order")
    qmin = qmax = None
    if qtype == "rating":
        qmin, qmax = raw.get("min", 1), raw.get("max", 5)
        if not (isinstance(qmin, int) and isinstance(qmax, int)) or not (0 <= qmin < qmax <= 10):
            raise RubricError(f"{where}.min", "a rating needs integers 0 <= min < max <= 10")
    target = raw.get("target")
    if target is not None and target not in [o.value for o in options]:
        raise RubricError(f"{where}.target", f"{_short(target)} is not one of the options")
    title = raw.get("title", name.replace("_", " ").capitalize())
    return Question(
        name=name,
        type=qtype,
        title=str(title),
        scope=scope,
        level=level,
        options=options,
        required=bool(raw.get("required", qtype not in ("text", "flags"))),
        description=raw.get("description"),
        target=target,
        min=qmin,
        max=qmax,
    )


def rubric_from_dict(raw: Any) -> Rubric:
    """Build and validate a :class:`Rubric` from its data form (as loaded from YAML).

    >>> rubric_from_dict({"name": "x", "questions": []})
    Traceback (most recent call last):
    ...
    brun_label.rubric.RubricError: questions: needs at least one question
    """
    if not isinstance(raw, Mapping):
        raise RubricError("(rubric)", "must be a mapping")
    name = raw.get("name")
    if not isinstance(name, str) or not re.match(r"^[a-z][a-z0-9-]*$", name):
        raise RubricError("name", f"must be a lowercase name like de-escalation, got {_short(name)}")
    raw_qs = raw.get("questions")
    if not isinstance(raw_qs, Sequence) or isinstance(raw_qs, str) or not raw_qs:
        raise RubricError("questions", "needs at least one question")
    if len(raw_qs) > MAX_QUESTIONS:
        raise RubricError("questions", f"has {len(raw_qs)} questions; a rubric is capped at {MAX_QUESTIONS}")
    questions = tuple(_parse_question(q, i) for i, q in enumerate(raw_qs))
    names = [q.name for q in questions]
    seen: set[str] = set()
    for n in names:
        if n in seen:
            raise RubricError(f"questions[{n}].name", f"two questions are named {n!r}: names must be unique")
        seen.add(n)
    check_names(questions)
    known = {"name", "title", "version", "description", "guidelines", "prompt_title", "questions"}
    return Rubric(
        name=name,
        title=str(raw.get("title", name)),
        questions=questions,
        version=str(raw.get("version", "1")),
        description=str(raw.get("description", "")),
        guidelines=str(raw.get("guidelines", "")),
        prompt_title=str(raw.get("prompt_title", "Scenario")),
        extra={k: v for k, v in raw.items() if k not in known},
    )


def slot_name(question: str, position: int) -> str:
    """Return the platform-side name of a per-candidate question for the candidate in ``position``.

    >>> slot_name("tone_zone", 0), slot_name("tone_zone", 2)
    ('tone_zone_a', 'tone_zone_c')
    """
    from brun_label.model import candidate_label

    return f"{question}_{candidate_label(position).lower()}"


def split_slot_name(rubric: Rubric, name: str) -> tuple[str, int | None]:
    """Invert :func:`slot_name`: return ``(question, position)``; position is None for item questions.

    >>> r = rubric_from_dict({"name": "m", "questions": [{"name": "tone", "type": "scale",
    ...     "options": [0, 1]}, {"name": "pref", "type": "preference"}]})
    >>> split_slot_name(r, "tone_b"), split_slot_name(r, "pref")
    (('tone', 1), ('pref', None))
    """
    for q in rubric.questions:
        if q.scope == "item" and q.name == name:
            return q.name, None
        prefix = q.name + "_"
        if q.scope == "candidate" and name.startswith(prefix):
            letters = name[len(prefix):].upper()
            if letters.isalpha():
                pos = 0
                for ch in letters:
                    pos = pos * 26 + (ord(ch) - 64)
                return q.name, pos - 1
    raise KeyError(name)


def preference_options(n_candidates: int) -> list[tuple[str, str]]:
    """Return ``(value, label)`` choices of a preference over ``n_candidates`` positions.

    Values are position letters (``a``, ``b``…) plus ``tie`` and ``both_bad``; adapters map a
    letter back to the candidate id shown in that position.

    >>> preference_options(2)
    [('a', 'A is better'), ('b', 'B is better'), ('tie', 'Tie: equally good'), ('both_bad', 'Both bad')]
    >>> preference_options(3)[-1]
    ('both_bad', 'All bad')
    """
    from brun_label.model import candidate_label

    opts = [(candidate_label(i).lower(), f"{candidate_label(i)} is better") for i in range(n_candidates)]
    if n_candidates == 2:
        opts.append((TIE, "Tie: equally good"))
        opts.append((BOTH_BAD, "Both bad"))
    else:
        opts.append((TIE, "Tie between the best"))
        opts.append((BOTH_BAD, "All bad"))
    if n_candidates > 2:
        opts[:-2] = [(v, lbl.replace("is better", "is best")) for v, lbl in opts[:-2]]
    return opts
