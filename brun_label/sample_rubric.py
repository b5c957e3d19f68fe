"""Does a sample fit a rubric? The judge answers it carries and the slots it needs.

Pure core. ``validate --rubric`` and ``push`` use it before anything reaches a platform, so a judge
score that names no question, or a value the rubric does not allow, is reported with the sample's
line and field instead of becoming a suggestion nobody can trust.

Examples
--------
>>> from brun_label.model import sample_from_dict
>>> from brun_label.rubrics import load_rubric
>>> r = load_rubric("de-escalation")
>>> s = sample_from_dict({"id": "s1", "prompt": "hi", "judge": {"preference": "c9"},
...     "candidates": [{"id": "c1", "text": "a", "judge": {"tone_zone": 3}}, {"id": "c2", "text": "b"}]})
>>> for field, message in sample_problems(s, r):
...     print(field, "-", message)
candidates[0].judge.tone_zone - 3 is not one of -2, -1, 0, 1, 2
judge.preference - 'c9' is neither a candidate id of this sample nor tie/both_bad
"""

from __future__ import annotations

from typing import Any

from brun_label.model import Sample
from brun_label.rubric import BOTH_BAD, MAX_SLOTS, TIE, Question, Rubric, _short


def _value_problem(q: Question, value: Any, candidate_ids: list[str]) -> str | None:
    allowed = q.values()
    if q.type in ("scale", "rating"):
        if isinstance(value, bool) or not isinstance(value, int) or value not in allowed:
            return f"{_short(value)} is not one of {', '.join(str(v) for v in allowed)}"
    elif q.type == "choice":
        if not isinstance(value, str) or value not in allowed:
            return f"{_short(value)} is not one of {', '.join(str(v) for v in allowed)}"
    elif q.type == "flags":
        if not isinstance(value, list) or any(not isinstance(v, str) or v not in allowed for v in value):
            return f"{_short(value)} is not a list of {', '.join(str(v) for v in allowed)}"
    elif q.type == "preference":
        if not isinstance(value, str) or (value not in candidate_ids and value not in (TIE, BOTH_BAD)):
            return f"{_short(value)} is neither a candidate id of this sample nor {TIE}/{BOTH_BAD}"
    elif q.type == "text" and not isinstance(value, str):
        return f"must be text, got {type(value).__name__}"
    return None


def sample_problems(sample: Sample, rubric: Rubric) -> list[tuple[str, str]]:
    """Return ``(field, message)`` for every way ``sample`` does not fit ``rubric``."""
    out: list[tuple[str, str]] = []
    if len(sample.candidates) > MAX_SLOTS:
        out.append(("candidates", f"has {len(sample.candidates)} candidates; a project has at most {MAX_SLOTS} slots"))
    ids = [c.id for c in sample.candidates]
    scopes = {q.name: q for q in rubric.questions}

    def check(answers: Any, where: str, scope: str) -> None:
        for key, value in dict(answers or {}).items():
            q = scopes.get(key)
            if q is None:
                out.append((f"{where}.{key}", f"is not a question of rubric {rubric.name}"))
            elif q.scope != scope:
                other = "each candidate" if q.scope == "candidate" else "the whole sample"
                out.append((f"{where}.{key}", f"is asked about {other}, not here"))
            else:
                problem = _value_problem(q, value, ids)
                if problem:
                    out.append((f"{where}.{key}", problem))

    for i, cand in enumerate(sample.candidates):
        check(cand.judge, f"candidates[{i}].judge", "candidate")
    check(sample.judge, "judge", "item")
    return out
