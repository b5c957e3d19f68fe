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
from itertools import chain
from typing import Any

import numpy as np
import pandas as pd

from brun_label.agreement.distances import LEVELS
from brun_label.agreement.reliability import missing_mask as reliability_missing
from brun_label.model import JUDGE_PREFIX
from brun_label.rubric import BOTH_BAD, TIE, Question, Rubric
from brun_label.table import TableCodes, TableError, normalize_table, table_codes, text_positions

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
    n_duplicates: int = 0
    notes: list[str] = field(default_factory=list)
    _candidates: _ItemCandidates | None = field(default=None, repr=False, compare=False)
    _candidates_by_item: dict[str, list[str]] | None = field(default=None, repr=False, compare=False)
    _coded: np.ndarray | None = field(default=None, repr=False, compare=False)
    _positions: tuple[pd.Index, np.ndarray, np.ndarray] | None = field(default=None, repr=False, compare=False)
    _width: int | None = field(default=None, repr=False, compare=False)

    @property
    def candidates_by_item(self) -> dict[str, list[str]]:
        """``{item id: its candidate ids, sorted}`` (preferences; built from the coded keys on first use)."""
        if self._candidates_by_item is None:
            self._candidates_by_item = self._candidates.by_item() if self._candidates is not None else {}
        return self._candidates_by_item

    @candidates_by_item.setter
    def candidates_by_item(self, value: dict[str, list[str]]) -> None:
        self._candidates_by_item = value
        self._width = None

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
        own = vals is self.values
        if own and self._coded is not None:
            return self._coded
        out = self._position_labels(vals)
        out.flags.writeable = False
        if own:
            self._coded = out
        return out

    def _position_labels(self, vals: np.ndarray) -> np.ndarray:
        """Preference answers (annotators × units) as ``candidate_k``/tie/both_bad labels, in one pass."""
        if vals.size == 0:
            return np.empty(vals.shape, dtype=object)
        if self._positions is None:
            # Once per question: every (unit, candidate id) of the units' items, keyed by one int64.
            per_unit = [self.candidates_by_item.get(str(item), []) for item in self.unit_items.tolist()]
            lens = np.fromiter(map(len, per_unit), dtype=np.int64, count=len(per_unit))
            ids = np.empty(int(lens.sum()), dtype=object)
            ids[:] = list(chain.from_iterable(per_unit))
            units = np.repeat(np.arange(len(per_unit), dtype=np.int64), lens)
            starts = np.repeat(np.cumsum(lens) - lens, lens)
            rank_arr = np.arange(len(ids), dtype=np.int64) - starts + 1
            index = pd.Index(pd.unique(ids), dtype=object)
            keys = units * (len(index) + 1) + np.asarray(
                index.get_indexer(pd.Index(ids, dtype=object)) if len(ids) else [], dtype=np.int64)
            order = np.argsort(keys, kind="stable")
            self._positions = (index, keys[order], rank_arr[order])
        index, keys, ranks = self._positions
        flat = vals.ravel()
        present = np.asarray(pd.notna(flat), dtype=bool)
        code = np.full(flat.size, -1, dtype=np.int64)
        if present.any() and len(index):
            code[present] = index.get_indexer(pd.Index(flat[present], dtype=object))
        unit = np.broadcast_to(np.arange(vals.shape[1], dtype=np.int64), vals.shape).ravel()
        key = unit * (len(index) + 1) + code
        at = np.minimum(np.searchsorted(keys, key), max(len(keys) - 1, 0))
        named = (code >= 0) & (keys[at] == key) if len(keys) else np.zeros(flat.size, bool)
        labels = np.array([f"candidate_{k}" for k in range(int(ranks.max(initial=0)) + 1)], dtype=object)
        out = flat.copy()
        out[named] = labels[ranks[at[named]]]
        other = present & ~named & ~np.isin(flat, list(NON_CANDIDATE))
        out[other] = np.array([str(v) for v in flat[other]], dtype=object)
        return out.reshape(vals.shape)

    def candidate_at(self, units: np.ndarray, ranks: np.ndarray) -> np.ndarray:
        """The candidate id at 1-based position ``ranks[i]`` of unit ``units[i]``'s item (None: none)."""
        out = np.full(len(units), None, dtype=object)
        if self._positions is None:
            self._position_labels(np.full((1, len(self.unit_items)), None, dtype=object))
        assert self._positions is not None
        index, keys, key_ranks = self._positions
        if not len(keys):
            return out
        width = len(index) + 1
        top = int(key_ranks.max()) + 1
        by_rank = (keys // width) * top + key_ranks
        order = np.argsort(by_rank, kind="stable")
        sorted_keys, cand_codes = by_rank[order], (keys % width)[order]
        query = np.asarray(units, dtype=np.int64) * top + np.asarray(ranks, dtype=np.int64)
        at = np.minimum(np.searchsorted(sorted_keys, query), len(sorted_keys) - 1)
        hit = (sorted_keys[at] == query) & (np.asarray(ranks) > 0) & (np.asarray(ranks) < top)
        out[hit] = np.asarray(index, dtype=object)[cand_codes[at[hit]]]
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
            if self._width is None:
                self._width = max((len(c) for c in self.candidates_by_item.values()), default=2)
            width = self._width
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
    if values.dtype == object:
        return reliability_missing(values)  # once per read-only matrix
    return np.asarray(pd.isna(values), dtype=bool) if values.size else np.zeros(values.shape, bool)


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


def _as_frozensets(uniques: list[Any]) -> list[Any]:
    return [frozenset(str(f) for f in v) if _is_list(v) else v for v in uniques]


def _kind_of(v: Any) -> str:
    return "list" if _is_list(v) else "number" if _is_number(v) else type(v).__name__


def _candidate_pairs(c: TableCodes, table_rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The (item code, candidate id) pairs of the per-candidate rows among ``table_rows``."""
    rows = table_rows[c.cand[table_rows] != c.no_candidate]
    key = np.sort(pd.unique(c.item[rows] * (len(c.cands) + 1) + c.cand[rows]))
    item, cand = np.divmod(key, len(c.cands) + 1)
    return item, c.cands[cand]


def _named_mask(c: TableCodes, rows: np.ndarray, cand_items: np.ndarray, cand_ids: np.ndarray) -> np.ndarray:
    """Whether each row's value is one of the candidate ids known for its item."""
    index = pd.MultiIndex.from_arrays([cand_items, pd.Index(cand_ids, dtype=object)])
    vals = c.values_of(rows)
    query = pd.MultiIndex.from_arrays([c.item[rows], pd.Index(vals, dtype=object)])
    return np.asarray(index.get_indexer(query), dtype=np.int64) >= 0 if len(index) else np.zeros(len(rows), bool)


def _infer_kind(name: str, c: TableCodes, rows: np.ndarray, all_pairs: tuple[np.ndarray, np.ndarray]) -> str:
    used = c.used(c.value[rows])
    vals = [c.uniques[k] for k in used.tolist()]
    if all(_is_list(v) for v in vals):
        return "flags"
    if all(_is_number(v) for v in vals):
        return "numeric"
    if all(isinstance(v, str) for v in vals):
        if (c.cand[rows] == c.no_candidate).all():
            is_special = np.isin(c.value[rows], [k for k in used.tolist() if c.uniques[k] in NON_CANDIDATE])
            named_rows = rows[~is_special]
            if named_rows.size and _named_mask(c, named_rows, *all_pairs).all():
                return "preference"
        return "labels"
    kinds = sorted({_kind_of(v) for v in vals})
    raise ValueError(f"question {name!r} mixes value types ({', '.join(kinds)}); give a rubric or fix the table")


class ValueProblem(ValueError):
    """A rating that does not fit its question; ``row`` is its 0-based row in the table."""

    def __init__(self, message: str, row: int | None) -> None:
        self.row = row
        self.message = message
        where = f" (data row {row + 1}, field value)" if row is not None else ""
        super().__init__(message + where)


def _first_bad(c: TableCodes, rows: np.ndarray, ok: Any) -> tuple[Any, int] | None:
    """The first value of ``rows`` (in table order) that ``ok`` rejects, checking each distinct value once."""
    used = c.used(c.value[rows])
    bad = [k for k in used.tolist() if not ok(c.uniques[k])]
    if not bad:
        return None
    row = int(rows[np.isin(c.value[rows], bad)][0])
    return c.uniques[int(c.value[row])], row


def _check_values(name: str, kind: str, q: Question | None, c: TableCodes, rows: np.ndarray) -> None:
    if kind in _NUMERIC_KINDS:
        bad = _first_bad(c, rows, _is_number)
        if bad:
            raise ValueProblem(f"question {name!r} ({kind}) needs numbers, got {bad[0]!r}", bad[1])
    elif kind == "flags":
        bad = _first_bad(c, rows, _is_list)
        if bad:
            raise ValueProblem(f"question {name!r} (flags) needs lists of flags, got {bad[0]!r}", bad[1])
    else:
        codes = c.value[rows]
        used = c.used(codes)
        if pd.api.types.infer_dtype(c.by_code(used), skipna=False) == "string":  # one C pass: all labels
            bad = None
        else:
            is_str = np.fromiter((isinstance(c.uniques[k], str) for k in used.tolist()), dtype=bool, count=len(used))
            wrong = np.isin(codes, used[~is_str])
            bad = (c.uniques[int(codes[wrong][0])], int(rows[wrong][0])) if wrong.any() else None
        if bad:
            raise ValueProblem(f"question {name!r} ({kind}) needs labels, got {bad[0]!r}", bad[1])
    if q is None:
        return
    if kind in ("scale", "choice", "rating"):
        allowed = set(q.values())
        bad = _first_bad(c, rows, lambda v: v in allowed)
        if bad:
            raise ValueProblem(
                f"question {name!r}: {bad[0]!r} is not an option (options: {', '.join(map(str, q.values()))})",
                bad[1],
            )
    elif kind == "flags":
        flags = {str(o.value) for o in q.options}
        bad = _first_bad(c, rows, lambda v: all(str(f) in flags for f in v))
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


def _dedupe(c: TableCodes, rows: np.ndarray, order: np.ndarray | None) -> tuple[np.ndarray, int]:
    """Keep each annotator's last answer per unit (latest ``submitted_at``, else the last row)."""
    if order is not None:
        rows = rows[np.argsort(order[rows], kind="stable")]
    key = c.unit[rows] * (len(c.anns) + 1) + c.ann[rows]
    n_keys = len(c.unit_item) * (len(c.anns) + 1)
    if n_keys > 4 * len(rows) + 1024:  # a sparse key space: hash the keys
        dup = pd.Series(key).duplicated(keep="last").to_numpy()
        return rows[~dup], int(dup.sum())
    at = np.arange(len(rows), dtype=np.int64)
    last = np.full(n_keys, -1, dtype=np.int64)
    np.maximum.at(last, key, at)  # each (unit, annotator)'s last row
    keep = last[key] == at
    return rows[keep], int(len(rows) - keep.sum())


def _submitted_order(table: pd.DataFrame) -> np.ndarray | None:
    """Each row's rank by ``submitted_at`` (missing first), or None when no row has one."""
    if "submitted_at" not in table.columns or not table["submitted_at"].notna().any():
        return None
    when = pd.to_datetime(table["submitted_at"], errors="coerce", utc=True)
    ns: np.ndarray = np.where(when.isna().to_numpy(), np.iinfo(np.int64).min,
                              when.to_numpy(dtype="datetime64[ns]").astype(np.int64))
    return np.argsort(np.argsort(ns, kind="stable"), kind="stable")


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

    The table is coded once (:func:`brun_label.table.table_codes`: sorted integer codes of items,
    candidates, annotators and (item, candidate) units, one code per distinct value; shared with
    :func:`brun_label.answers.check_answers` on the same table), so each question is a few array
    operations, whatever the number of rows.
    """
    try:
        table = normalize_table(table)
    except TableError as exc:
        raise ValueError(str(exc)) from None
    lv = _check_levels(levels)
    notes: list[str] = []
    c = table_codes(table)
    submitted = (table["status"] == "submitted").to_numpy(dtype=bool)
    used = submitted & (c.value >= 0)
    dropped = len(table) - int(used.sum())
    if dropped:
        notes.append(f"{dropped} row(s) not counted (status other than submitted, or no value)")
    q_codes, q_names = c.question, c.questions
    rubric_names = [q.name for q in rubric.questions] if rubric is not None else []
    present_codes = np.flatnonzero(np.bincount(q_codes[used], minlength=len(q_names)))
    present = sorted(str(q_names[k]) for k in present_codes.tolist())
    order = [n for n in rubric_names if n in present] + [n for n in present if n not in rubric_names]
    for name in sorted(set(lv) - set(present)):
        notes.append(f"--level given for {name!r}, which has no submitted ratings")
    code_of = {str(n): k for k, n in enumerate(q_names.tolist())}
    all_rows = np.arange(len(table))
    all_pairs: tuple[np.ndarray, np.ndarray] | None = None
    when: np.ndarray | str | None = "unset"
    out: dict[str, QuestionData] = {}
    for name in order:
        rows = np.flatnonzero(used & (q_codes == code_of[name]))
        q = None
        if rubric is not None:
            if name in rubric_names:
                q = rubric.question(name)
            else:
                notes.append(f"{name}: not in rubric {rubric.name!r}; its kind is inferred from the values")
        if q is None and all_pairs is None:
            all_pairs = _candidate_pairs(c, all_rows)
        kind = q.type if q is not None else _infer_kind(name, c, rows, all_pairs)  # type: ignore[arg-type]
        if kind == "text":
            notes.append(f"{name}: free text, no agreement computed")
            continue
        _check_values(name, kind, q, c, rows)
        domain: list[Any] | None = None
        if q is not None and kind in ("scale", "choice", "rating"):
            domain = list(q.values())
        elif q is not None and kind == "flags":
            domain = [str(o.value) for o in q.options]
        level, source, distance, level_notes = _resolve_level(name, kind, q, lv, domain)
        notes.extend(level_notes)
        if isinstance(when, str):
            when = _submitted_order(table)
        rows, n_dup = _dedupe(c, rows, when)
        cands = _item_candidates(c, all_rows, rows) if kind == "preference" else None
        data = _pivot(name, kind, level, source, distance, c, rows, domain, cands)
        data.n_duplicates = n_dup
        if n_dup:
            notes.append(f"{name}: {n_dup} repeated answer(s) by the same annotator on the same unit; the latest counts")
        if cands is not None:
            data._candidates = cands
            data._width = cands.most or 2
        out[name] = data
    return out, notes


@dataclass
class _ItemCandidates:
    """Every item's candidate ids as sorted integer keys ``item * width + name`` (``width = len(names) + 1``).

    ``names`` are the table's candidate ids, sorted, plus any id only a preference answer names,
    so an item's keys are its candidate ids in sorted order; ``answer`` is each preference row's
    answer as a code into ``names`` (-1: not an id, e.g. tie or both_bad); ``item_names`` is the
    item id of each item code.
    """

    names: np.ndarray
    keys: np.ndarray
    answer: np.ndarray
    item_names: np.ndarray
    special: np.ndarray  # the value codes of tie and both_bad

    @property
    def width(self) -> int:
        """The multiplier of an item code in a key."""
        return len(self.names) + 1

    def span(self, items: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """``(start, end)`` of each item's keys in ``keys``."""
        items = np.asarray(items, dtype=np.int64)
        return np.searchsorted(self.keys, items * self.width), np.searchsorted(self.keys, (items + 1) * self.width)

    def ranks(self, items: np.ndarray, answers: np.ndarray) -> np.ndarray:
        """The 1-based position of each answer among its item's candidates (0: not one of them)."""
        first = np.asarray(items, dtype=np.int64) * self.width
        key = first + answers
        at = np.searchsorted(self.keys, key)
        hit = (answers >= 0) & (at < len(self.keys))
        hit[hit] = self.keys[at[hit]] == key[hit]
        return np.where(hit, at - np.searchsorted(self.keys, first) + 1, 0)

    @property
    def most(self) -> int:
        """The most candidates an item has (0: none)."""
        return int(np.bincount(self.keys // self.width).max()) if len(self.keys) else 0

    def by_item(self) -> dict[str, list[str]]:
        """``{item id: its candidate ids, sorted}``."""
        if not len(self.keys):
            return {}
        item_codes, cand_codes = np.divmod(self.keys, self.width)
        cand_ids = self.names[cand_codes].tolist()
        bounds = (np.flatnonzero(np.diff(item_codes)) + 1).tolist()
        starts, ends = [0, *bounds], [*bounds, len(cand_ids)]
        names = self.item_names[item_codes[starts]].tolist()
        return {name: cand_ids[a:b] for name, a, b in zip(names, starts, ends, strict=True)}


def _item_candidates(c: TableCodes, all_rows: np.ndarray, pref_rows: np.ndarray) -> _ItemCandidates:
    """Every item's candidate ids: its per-candidate rows' and the ids its preference answers name."""
    per_cand = np.flatnonzero(np.bincount(c.unit[all_rows], minlength=len(c.unit_item)) > 0)
    per_cand = per_cand[c.unit_cand[per_cand] != c.no_candidate]  # the (item, candidate) pairs of the rows
    # Each distinct answer is looked up once (a million rows hold a few thousand distinct ids).
    p_codes = c.value[pref_rows]
    used = c.used(p_codes)
    answers = c.by_code(used)
    named = np.asarray(pd.notna(answers), dtype=bool) & ~np.isin(answers, list(NON_CANDIDATE))  # labels (checked)
    names = c.cands
    found = c.value_candidates()[used]
    row_code = c.unit_cand[per_cand]
    if (found[named] < 0).any():  # ids named only by a preference: widen the (sorted) id space
        names = np.asarray(sorted(set(names.tolist()) | {str(v) for v in answers[named & (found < 0)].tolist()}),
                           dtype=object)
        row_code = text_positions(names, c.cands)[row_code]
        found = text_positions(names, answers)
    lookup = np.full(len(c.uniques), -1, dtype=np.int64)
    lookup[used] = found
    answer = lookup[p_codes]
    width = len(names) + 1
    named_rows = np.flatnonzero(np.isin(p_codes, used[named]))
    keys = np.sort(pd.unique(np.concatenate([c.unit_item[per_cand] * width + row_code,
                                             c.item[pref_rows[named_rows]] * width + answer[named_rows]])))
    special = used[np.asarray(pd.notna(answers), dtype=bool) & ~named]
    return _ItemCandidates(names=names, keys=np.asarray(keys, dtype=np.int64), answer=answer, item_names=c.items,
                           special=special)


def _preference_labels(c: TableCodes, rows: np.ndarray, cands: _ItemCandidates) -> np.ndarray:
    """Each preference row's coefficient label: ``candidate_k`` (k: the id's position), else the answer."""
    ranks = cands.ranks(c.item[rows], cands.answer)
    codes = c.value[rows]
    labels = c.values_of(rows)
    odd = np.flatnonzero((ranks == 0) & ~np.isin(codes, cands.special))  # not an id of the item (kept as text)
    labels[odd] = np.array([str(v) for v in labels[odd].tolist()], dtype=object)
    named = np.flatnonzero(ranks > 0)
    words = np.array([f"candidate_{k}" for k in range(int(ranks.max(initial=0)) + 1)], dtype=object)
    labels[named] = words[ranks[named]]
    return labels


def _unit_positions(cands: _ItemCandidates, unit_item: np.ndarray) -> tuple[pd.Index, np.ndarray, np.ndarray]:
    """``QuestionData._positions``: every (unit, candidate id) of the units' items as sorted keys, and its rank."""
    start, end = cands.span(unit_item)
    lens = end - start
    offsets = np.arange(int(lens.sum()), dtype=np.int64) - np.repeat(np.cumsum(lens) - lens, lens)
    name_codes = cands.keys[np.repeat(start, lens) + offsets] % cands.width
    units = np.repeat(np.arange(len(unit_item), dtype=np.int64), lens)
    return pd.Index(cands.names, dtype=object), units * cands.width + name_codes, offsets + 1


def _pivot(
    name: str,
    kind: str,
    level: str,
    source: str,
    distance: str,
    c: TableCodes,
    rows: np.ndarray,
    domain: list[Any] | None,
    cands: _ItemCandidates | None = None,
) -> QuestionData:
    """The question's matrices; with ``cands`` (a preference), also its position-coded human matrix."""
    present_units = np.bincount(c.unit[rows], minlength=len(c.unit_item)) > 0
    units = np.flatnonzero(present_units)  # the question's units, in (item, candidate) order
    unit_index = (np.cumsum(present_units) - 1)[c.unit[rows]]
    n_units = len(units)
    unit_item, unit_cand = c.unit_item[units], c.unit_cand[units]
    ann_names = c.anns
    is_judge_name = np.array([str(a).startswith(JUDGE_PREFIX) for a in ann_names.tolist()], dtype=bool)
    is_judge = is_judge_name[c.ann[rows]]
    numeric = kind in _NUMERIC_KINDS
    used = c.used(c.value[rows])
    if numeric:
        lookup = np.full(len(c.uniques), np.nan)
        lookup[used] = [float(c.uniques[k]) for k in used.tolist()]
    else:
        objs = np.empty(len(c.uniques) + 1, dtype=object)
        picked = [c.uniques[k] for k in used.tolist()]
        objs[used] = _as_frozensets(picked) if kind == "flags" else picked
    values = c.value[rows]

    def matrix(mask: np.ndarray, cells: np.ndarray | None = None) -> tuple[list[str], np.ndarray]:
        present = np.flatnonzero(np.bincount(c.ann[rows][mask], minlength=len(ann_names)))
        who = [str(ann_names[k]) for k in present.tolist()]
        slot = np.full(len(ann_names), -1, dtype=np.int64)
        slot[present] = np.arange(len(present))
        rows_idx = slot[c.ann[rows][mask]]
        if numeric:
            mat = np.full((len(who), n_units), np.nan)
            mat[rows_idx, unit_index[mask]] = lookup[values[mask]]
        else:
            mat = np.full((len(who), n_units), None, dtype=object)
            mat[rows_idx, unit_index[mask]] = objs[values[mask]] if cells is None else cells[mask]
        mat.flags.writeable = False  # read-only: coded once by every coefficient (reliability)
        return who, mat

    humans, human_values = matrix(~is_judge)
    judges, judge_values = matrix(is_judge)
    coded = positions = None
    if cands is not None:
        coded = matrix(~is_judge, _preference_labels(c, rows, cands))[1]
        positions = _unit_positions(cands, unit_item)
    return QuestionData(
        name=name,
        kind=kind,
        level=level,
        level_source=source,
        distance=distance,
        unit_items=c.items[unit_item].astype(object),
        unit_candidates=c.cands[unit_cand].astype(object),
        annotators=humans,
        values=human_values,
        judges=judges,
        judge_values=judge_values,
        domain=domain,
        _coded=coded,
        _positions=positions,
    )
