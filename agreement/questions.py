"""The long annotation table → one annotators × units matrix per rubric question.

Pure core (pandas, no I/O). This is the one place that knows the annotation table's shape; the
coefficients only ever see reliability matrices. For each question:

* only rows with status ``submitted`` and a value count;
* a *unit* is an (``item_id``, ``candidate_id``) pair (``candidate_id`` is ``""`` for questions
  asked once per item, like the preference);
* ``judge:`` annotators (the LLM judge) go to a separate matrix: they are compared with the
  humans but never vote and never enter a human coefficient;
* the kind of question comes from the rubric, or is inferred from the values when there is no
  rubric (lists → flags, numbers → numeric, labels that are candidate ids of the item or
  ``tie``/``both_bad`` → preference, other labels → labels); ``text`` questions are skipped;
* the level comes from ``levels`` (the ``--level`` option), else the rubric, else ``nominal``,
  and where it came from is kept so the output can say so. Flags use the MASI distance and
  preferences are nominal whatever the level says;
* an annotator who answered the same unit twice counts once (the latest ``submitted_at``, else
  the last row), and the number of such duplicates is kept for a note.

Preferences name a candidate id, which differs from item to item, so for coefficients they are
recoded as the candidate's position among the item's candidate ids in sorted order
(``candidate_1``, ``candidate_2``…) plus ``tie`` and ``both_bad``: agreement within an item is
unchanged, and chance agreement is computed over "which of the two", not over thousands of ids.

Examples
--------
>>> from brun_label.table import make_table
>>> t = make_table([
...     {"item_id": "s1", "candidate_id": "c1", "question": "tone", "annotator": "ann1", "value": 0},
...     {"item_id": "s1", "candidate_id": "c1", "question": "tone", "annotator": "ann2", "value": 1},
...     {"item_id": "s1", "candidate_id": "c1", "question": "tone", "annotator": "judge:gpt", "value": 0},
...     {"item_id": "s1", "candidate_id": "", "question": "pref", "annotator": "ann1", "value": "c1"},
...     {"item_id": "s1", "candidate_id": "", "question": "pref", "annotator": "ann2", "value": "tie"}])
>>> qs, notes = split_questions(t)
>>> q = qs["tone"]
>>> q.kind, q.level, q.level_source, q.annotators, q.judges, q.values.tolist()
('numeric', 'nominal', 'default', ['ann1', 'ann2'], ['judge:gpt'], [[0.0], [1.0]])
>>> qs["pref"].kind, qs["pref"].agreement_values().tolist()
('preference', [['candidate_1'], ['tie']])
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from brun_label.agreement.distances import LEVELS
from brun_label.model import JUDGE_PREFIX
from brun_label.rubric import BOTH_BAD, TIE, Question, Rubric
from brun_label.table import TableError, normalize_table

#: Preference answers that are not a candidate.
NON_CANDIDATE = (TIE, BOTH_BAD)
_NUMERIC_KINDS = ("scale", "rating", "numeric")


@dataclass
class QuestionData:
    """One question's ratings as annotators × units matrices (humans and judges apart)."""

    name: str
    kind: str
    level: str
    level_source: str
    distance: str
    unit_items: np.ndarray
    unit_candidates: np.ndarray
    annotators: list[str]
    values: np.ndarray
    judges: list[str]
    judge_values: np.ndarray
    domain: list[Any] | None = None
    candidates_by_item: dict[str, list[str]] = field(default_factory=dict)
    n_duplicates: int = 0
    notes: list[str] = field(default_factory=list)
    _coded: np.ndarray | None = field(default=None, repr=False, compare=False)

    @property
    def numeric(self) -> bool:
        """Whether the values are numbers (a float matrix with ``NaN`` for missing)."""
        return self.values.dtype.kind == "f"

    def agreement_values(self, values: np.ndarray | None = None) -> np.ndarray:
        """Return ``values`` (default: the human matrix) recoded for coefficients.

        Preferences become candidate positions; every other kind is returned as is.
        """
        vals = self.values if values is None else values
        if self.kind != "preference":
            return vals
        if values is None and self._coded is not None:
            return self._coded
        out = np.empty(vals.shape, dtype=object)
        for (a, u), v in np.ndenumerate(vals):
            out[a, u] = None if v is None else self.position_label(str(self.unit_items[u]), v)
        if values is None:
            self._coded = out
        return out

    def position_label(self, item_id: str, value: Any) -> str:
        """Return the coefficient label of a preference answer (``candidate_k``, tie, both_bad)."""
        if value in NON_CANDIDATE:
            return str(value)
        cands = self.candidates_by_item.get(item_id, [])
        return f"candidate_{cands.index(value) + 1}" if value in cands else str(value)

    def agreement_domain(self) -> list[Any] | None:
        """Return the ordered value domain for coefficients (``None``: the values that occur)."""
        if self.kind == "preference":
            width = max((len(c) for c in self.candidates_by_item.values()), default=2)
            return [f"candidate_{k + 1}" for k in range(max(width, 2))] + list(NON_CANDIDATE)
        if self.kind == "flags":
            return None
        return self.domain

    @property
    def n_units_rated(self) -> int:
        """Units with at least one human rating."""
        return int((~_missing(self.values)).any(axis=0).sum()) if self.values.size else 0


def _missing(values: np.ndarray) -> np.ndarray:
    if values.dtype.kind == "f":
        return np.isnan(values)
    return np.vectorize(lambda v: v is None, otypes=[bool])(values) if values.size else np.zeros(values.shape, bool)


def missing_mask(values: np.ndarray) -> np.ndarray:
    """Return the missing cells of a question matrix (``NaN`` or ``None``)."""
    return _missing(values)


def _is_blank(v: Any) -> bool:
    return v is None or (isinstance(v, float) and math.isnan(v))


def _is_number(v: Any) -> bool:
    return isinstance(v, int | float | np.integer | np.floating) and not isinstance(v, bool | np.bool_)


def _is_list(v: Any) -> bool:
    return isinstance(v, list | tuple | set | frozenset | np.ndarray)


def _check_levels(levels: Mapping[str, str] | None) -> dict[str, str]:
    out = dict(levels or {})
    for name, level in out.items():
        if level not in LEVELS:
            raise ValueError(f"level of {name!r} must be one of {', '.join(LEVELS)}; got {level!r}")
    return out


def _candidates_by_item(table: pd.DataFrame, pref_rows: pd.DataFrame) -> dict[str, list[str]]:
    cands: dict[str, set[str]] = {}
    with_cand = table[table["candidate_id"] != ""]
    for item, cid in zip(with_cand["item_id"], with_cand["candidate_id"], strict=True):
        cands.setdefault(item, set()).add(cid)
    for item, v in zip(pref_rows["item_id"], pref_rows["value"], strict=True):
        if isinstance(v, str) and v not in NON_CANDIDATE:
            cands.setdefault(item, set()).add(v)
    return {k: sorted(v) for k, v in cands.items()}


def _infer_kind(name: str, rows: pd.DataFrame, all_cands: dict[str, set[str]]) -> str:
    vals = rows["value"].tolist()
    if all(_is_list(v) for v in vals):
        return "flags"
    if all(_is_number(v) for v in vals):
        return "numeric"
    if all(isinstance(v, str) for v in vals):
        if (rows["candidate_id"] == "").all():
            named = [
                v in all_cands.get(i, set()) for i, v in zip(rows["item_id"], vals, strict=True)
                if v not in NON_CANDIDATE
            ]
            if named and all(named):
                return "preference"
        return "labels"
    kinds = sorted({"list" if _is_list(v) else "number" if _is_number(v) else type(v).__name__ for v in vals})
    raise ValueError(f"question {name!r} mixes value types ({', '.join(kinds)}); give a rubric or fix the table")


class ValueProblem(ValueError):
    """A rating that does not fit its question; ``row`` is its 0-based row in the table."""

    def __init__(self, message: str, row: int | None) -> None:
        self.row = row
        self.message = message
        where = f" (data row {row + 1}, field value)" if row is not None else ""
        super().__init__(message + where)


def _first_bad(rows: pd.DataFrame, ok: Any) -> tuple[Any, int | None] | None:
    for idx, v in zip(rows.index, rows["value"], strict=True):
        if not ok(v):
            return v, int(idx) if isinstance(idx, int | np.integer) else None
    return None


def _check_values(name: str, kind: str, q: Question | None, rows: pd.DataFrame) -> None:
    if kind in _NUMERIC_KINDS:
        bad = _first_bad(rows, _is_number)
        if bad:
            raise ValueProblem(f"question {name!r} ({kind}) needs numbers, got {bad[0]!r}", bad[1])
    elif kind == "flags":
        bad = _first_bad(rows, _is_list)
        if bad:
            raise ValueProblem(f"question {name!r} (flags) needs lists of flags, got {bad[0]!r}", bad[1])
    else:
        bad = _first_bad(rows, lambda v: isinstance(v, str))
        if bad:
            raise ValueProblem(f"question {name!r} ({kind}) needs labels, got {bad[0]!r}", bad[1])
    if q is None:
        return
    if kind in ("scale", "choice", "rating"):
        allowed = set(q.values())
        bad = _first_bad(rows, lambda v: v in allowed)
        if bad:
            raise ValueProblem(
                f"question {name!r}: {bad[0]!r} is not an option (options: {', '.join(map(str, q.values()))})",
                bad[1],
            )
    elif kind == "flags":
        flags = {str(o.value) for o in q.options}
        bad = _first_bad(rows, lambda v: all(str(f) in flags for f in v))
        if bad:
            unknown = next(str(f) for f in bad[0] if str(f) not in flags)
            raise ValueProblem(f"question {name!r}: {unknown!r} is not one of its flags", bad[1])


def _resolve_level(
    name: str, kind: str, q: Question | None, levels: dict[str, str], domain: list[Any] | None
) -> tuple[str, str, str, list[str]]:
    notes: list[str] = []
    if name in levels:
        level, source = levels[name], "option"
    elif q is not None:
        level, source = q.level, "rubric"
    else:
        level, source = "nominal", "default"
    if kind == "flags":
        if level != "nominal":
            notes.append(f"{name}: flags are sets, compared with the MASI distance (level {level} ignored)")
        return "nominal", source, "masi", notes
    if kind == "preference":
        if level != "nominal":
            notes.append(f"{name}: a preference is nominal (level {level} ignored)")
        return "nominal", source, "nominal", notes
    if kind in ("choice", "labels") and level != "nominal":
        if level in ("interval", "ratio"):
            raise ValueError(f"question {name!r} has labels, which cannot be {level}")
        if domain is None:
            raise ValueError(
                f"question {name!r} has labels: the ordinal level needs the rubric's ordered options (--rubric)"
            )
    if level == "ratio" and kind in _NUMERIC_KINDS and domain is not None and min(domain) < 0:
        raise ValueError(f"question {name!r} has negative values, which cannot be ratio")
    return level, source, level, notes


def _dedupe(rows: pd.DataFrame) -> tuple[pd.DataFrame, int]:
    keys = ["item_id", "candidate_id", "annotator"]
    if "submitted_at" in rows.columns and rows["submitted_at"].notna().any():
        order = pd.to_datetime(rows["submitted_at"], errors="coerce", utc=True)
        rows = rows.assign(_order=order).sort_values("_order", kind="stable", na_position="first")
        rows = rows.drop(columns="_order")
    dup = rows.duplicated(keys, keep="last")
    return rows[~dup], int(dup.sum())


def split_questions(
    table: pd.DataFrame,
    *,
    levels: Mapping[str, str] | None = None,
    rubric: Rubric | None = None,
) -> tuple[dict[str, QuestionData], list[str]]:
    """Return ``({question: QuestionData}, notes)`` for the questions that have agreement.

    Raises ``ValueError`` (naming the question) on a table that cannot be read as ratings:
    missing columns, values of the wrong type or not among the rubric's options, a level
    that does not fit the values.
    """
    try:
        table = normalize_table(table)
    except TableError as exc:
        raise ValueError(str(exc)) from None
    lv = _check_levels(levels)
    notes: list[str] = []
    used = table[(table["status"] == "submitted") & ~table["value"].map(_is_blank)]
    dropped = len(table) - len(used)
    if dropped:
        notes.append(f"{dropped} row(s) not counted (status other than submitted, or no value)")
    rubric_names = [q.name for q in rubric.questions] if rubric is not None else []
    present = sorted(used["question"].unique().tolist())
    order = [n for n in rubric_names if n in present] + [n for n in present if n not in rubric_names]
    for name in sorted(set(lv) - set(present)):
        notes.append(f"--level given for {name!r}, which has no submitted ratings")
    all_cands: dict[str, set[str]] = {}
    for item, cid in zip(table["item_id"], table["candidate_id"], strict=True):
        if cid:
            all_cands.setdefault(item, set()).add(cid)
    out: dict[str, QuestionData] = {}
    groups = {str(k): g for k, g in used.groupby("question", sort=False)}
    for name in order:
        rows = groups[name]
        q = None
        if rubric is not None:
            if name in rubric_names:
                q = rubric.question(name)
            else:
                notes.append(f"{name}: not in rubric {rubric.name!r}; its kind is inferred from the values")
        kind = q.type if q is not None else _infer_kind(name, rows, all_cands)
        if kind == "text":
            notes.append(f"{name}: free text, no agreement computed")
            continue
        _check_values(name, kind, q, rows)
        domain: list[Any] | None = None
        if q is not None and kind in ("scale", "choice", "rating"):
            domain = list(q.values())
        elif q is not None and kind == "flags":
            domain = [str(o.value) for o in q.options]
        level, source, distance, level_notes = _resolve_level(name, kind, q, lv, domain)
        notes.extend(level_notes)
        rows, n_dup = _dedupe(rows)
        data = _pivot(name, kind, level, source, distance, rows, domain)
        data.n_duplicates = n_dup
        if n_dup:
            notes.append(f"{name}: {n_dup} repeated answer(s) by the same annotator on the same unit; the latest counts")
        if kind == "preference":
            data.candidates_by_item = _candidates_by_item(table, rows)
        out[name] = data
    return out, notes


def _pivot(
    name: str,
    kind: str,
    level: str,
    source: str,
    distance: str,
    rows: pd.DataFrame,
    domain: list[Any] | None,
) -> QuestionData:
    unit_index = rows.groupby(["item_id", "candidate_id"], sort=True).ngroup().to_numpy()
    units = rows[["item_id", "candidate_id"]].drop_duplicates().sort_values(["item_id", "candidate_id"])
    n_units = len(units)
    names = rows["annotator"].to_numpy(dtype=object)
    is_judge = np.array([str(a).startswith(JUDGE_PREFIX) for a in names], dtype=bool)
    numeric = kind in _NUMERIC_KINDS
    values: np.ndarray = rows["value"].to_numpy(dtype=object)
    if kind == "flags":
        values = np.array([frozenset(str(f) for f in v) for v in values], dtype=object)

    def matrix(mask: np.ndarray) -> tuple[list[str], np.ndarray]:
        who = sorted(set(names[mask].tolist()))
        pos = {a: i for i, a in enumerate(who)}
        rows_idx = np.array([pos[a] for a in names[mask]], dtype=np.intp)
        if numeric:
            mat = np.full((len(who), n_units), np.nan)
            mat[rows_idx, unit_index[mask]] = values[mask].astype(np.float64)
        else:
            mat = np.full((len(who), n_units), None, dtype=object)
            mat[rows_idx, unit_index[mask]] = values[mask]
        return who, mat

    humans, human_values = matrix(~is_judge)
    judges, judge_values = matrix(is_judge)
    return QuestionData(
        name=name,
        kind=kind,
        level=level,
        level_source=source,
        distance=distance,
        unit_items=units["item_id"].to_numpy(dtype=object),
        unit_candidates=units["candidate_id"].to_numpy(dtype=object),
        annotators=humans,
        values=human_values,
        judges=judges,
        judge_values=judge_values,
        domain=domain,
    )
