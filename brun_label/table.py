"""The long annotation table: one row per (item, candidate, question, annotator).

Pure core (pandas, no I/O). Columns are :data:`~brun_label.model.ANNOTATION_COLUMNS` (plus the
optional :data:`~brun_label.model.OPTIONAL_COLUMNS` and any extra ones, kept last). In memory the
text columns are pandas' Arrow-backed ``str`` columns (columnar, no Python object per row), and
``candidate_id`` is empty (``""``) for questions asked about the whole item. ``value`` holds native
values, typed by the question's kind in the rubric, never guessed from their look: ``int`` for
scales and ratings, ``str`` for choices, candidate ids, ``tie``/``both_bad`` and free text, a
sorted ``list`` of ``str`` for flags.

Text files (CSV, Parquet cells) store a value as text with :func:`encode_value`; it is read back
by its question's kind with :func:`decode_text` (one column at a time with :func:`decode_column`,
which decodes each distinct (question, text) pair once). So a candidate id ``"02"``, ``"true"``,
``"null"`` or ``"[1]"`` stays that string. Without a rubric a text that could be read as something
else than a string (a number, ``true``/``false``/``null``, a JSON array or object) cannot be
decoded: :class:`AmbiguousValue`.

Examples
--------
>>> from brun_label.rubrics import load_rubric
>>> r = load_rubric("de-escalation")
>>> encode_value(-2), encode_value(["b", "a"]), encode_value("02"), encode_value([])
('-2', '["a", "b"]', '02', '[]')
>>> decode_text("-2", r.question("tone_zone")), decode_text('["admits_fault"]', r.question("liability_flags"))
(-2, ['admits_fault'])
>>> decode_text("02", r.question("preference")), decode_text("null", r.question("preference"))
('02', 'null')
>>> decode_text("02", None)
Traceback (most recent call last):
...
brun_label.table.AmbiguousValue: '02' could be a number or a label: the rubric decides (pass --rubric)
"""

from __future__ import annotations

import ctypes
import json
import math
import re
import weakref
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from brun_label.model import ANNOTATION_COLUMNS, OPTIONAL_COLUMNS, STATUSES
from brun_label.rubric import Question, Rubric

#: The columns that hold identifiers or labels (stored as ``str`` columns).
TEXT_COLUMNS = ("item_id", "candidate_id", "question", "annotator", "status", "platform", "submitted_at")
_INT = re.compile(r"^\s*[+-]?\d+\s*$")
_INTEGRAL_FLOAT = re.compile(r"^\s*[+-]?\d+\.0*\s*$")


class AmbiguousValue(ValueError):
    """A text value whose type only the rubric can tell (``"02"``: a number or a candidate id?)."""

    def __init__(self, text: str) -> None:
        self.text = text
        super().__init__(f"{text!r} could be a number or a label: the rubric decides (pass --rubric)")


def encode_value(value: Any) -> str | None:
    """Encode a native value as text (lists as sorted JSON arrays; None stays None).

    >>> encode_value(None), encode_value(True), encode_value(3), encode_value("tie")
    (None, 'true', '3', 'tie')
    """
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return None
    if isinstance(value, list | tuple | set | frozenset | np.ndarray):
        return json.dumps(sorted(str(v) for v in value), ensure_ascii=False)
    if isinstance(value, bool | np.bool_):
        return "true" if value else "false"
    return str(value)


def encode_column(values: Any) -> np.ndarray:
    """Encode a column of native values with :func:`encode_value` (each distinct value once).

    >>> encode_column(np.array([0, ["b", "a"], "02", None, ["a", "b"]], dtype=object)).tolist()
    ['0', '["a", "b"]', '02', None, '["a", "b"]']
    """
    arr = np.asarray(values, dtype=object).ravel()
    if arr.size == 0:
        return np.empty(0, dtype=object)
    keys = np.fromiter(
        (("\x00list", *sorted(map(str, v))) if isinstance(v, list | tuple | set | frozenset | np.ndarray)
         else ("\x00bool", bool(v)) if isinstance(v, bool | np.bool_) else v for v in arr),
        dtype=object, count=arr.size,
    )
    codes, uniques = pd.factorize(pd.Series(keys, dtype=object), use_na_sentinel=True)
    texts = np.empty(len(uniques) + 1, dtype=object)
    for k, u in enumerate(uniques.tolist()):
        if isinstance(u, tuple) and u and u[0] == "\x00list":
            texts[k] = encode_value(list(u[1:]))
        elif isinstance(u, tuple) and u and u[0] == "\x00bool":
            texts[k] = encode_value(u[1])
        else:
            texts[k] = encode_value(u)
    texts[-1] = None
    return texts[np.asarray(codes)]


def _key(v: Any) -> Any:
    """A hashable key under which equal values (and only those) meet; None for a blank."""
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return None
    if isinstance(v, list | tuple | np.ndarray):
        return ("\x00list", *(f if isinstance(f, str) else ("\x00", repr(f)) for f in v))
    if isinstance(v, bool | np.bool_):
        return ("\x00bool", bool(v))
    if isinstance(v, float | np.floating):
        return ("\x00float", float(v))
    if isinstance(v, np.integer):
        return int(v)
    if isinstance(v, set | frozenset):
        return ("\x00set", *sorted(map(repr, v)))
    return v


def _object_ids(arr: np.ndarray) -> np.ndarray:
    """``id()`` of every cell of an object array: its buffer of object pointers, read as integers."""
    arr = np.ascontiguousarray(arr)
    if arr.dtype != object or ctypes.sizeof(ctypes.c_void_p) != 8:
        return np.fromiter(map(id, arr), dtype=np.uint64, count=arr.size)
    buffer = (ctypes.c_uint64 * arr.size).from_address(arr.ctypes.data)
    return np.ctypeslib.as_array(buffer).copy()  # copied while ``arr`` holds the objects alive


def _distinct_objects(arr: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``(codes, objects)``: ``arr[i] is objects[codes[i]]``, the distinct objects in order of first appearance.

    ``arr`` is a 1-D object array; one pass of ``id`` (an integer hash), whatever the objects.
    """
    id_codes, id_uniques = pd.factorize(_object_ids(arr))
    first = np.empty(len(id_uniques), dtype=np.int64)
    first[id_codes[::-1]] = np.arange(arr.size - 1, -1, -1)
    return np.asarray(id_codes, dtype=np.int64), arr[first]


def factorize_objects(values: np.ndarray) -> tuple[np.ndarray, list[Any]]:
    """``pandas.factorize`` of an object array (any shape, read flat), hashing each distinct object once.

    The same codes (-1: ``None``/NaN) and uniques (in order of first appearance) as
    ``pd.factorize(pd.Series(values.ravel(), dtype=object), use_na_sentinel=True)``, with the
    same ``TypeError`` on unhashable cells; but cells that hold one shared object (the question
    matrices hold one object per distinct answer) are grouped by identity first, so the values
    themselves are hashed and compared once per distinct object instead of once per cell.

    >>> codes, uniques = factorize_objects(np.array([[frozenset("a"), None], [frozenset("a"), 1]], dtype=object))
    >>> codes.tolist(), uniques
    ([0, -1, 0, 1], [frozenset({'a'}), 1])
    """
    if values.dtype.kind == "f":  # numbers: factorized as such (NaN -1), uniques as Python floats
        number_codes, numbers = pd.factorize(values.ravel(), use_na_sentinel=True)
        return np.asarray(number_codes, dtype=np.int64), np.asarray(numbers).tolist()
    if values.dtype != object:  # no shared objects to group (each cell becomes its own)
        codes, found = pd.factorize(pd.Series(values.ravel(), dtype=object), use_na_sentinel=True)
        return np.asarray(codes, dtype=np.int64), list(found)
    flat = np.ascontiguousarray(values).ravel()
    if flat.size == 0:
        return np.zeros(0, dtype=np.int64), []
    id_codes, reps = _distinct_objects(flat)
    rep_codes, uniques = pd.factorize(pd.Series(reps, dtype=object), use_na_sentinel=True)
    return np.asarray(rep_codes, dtype=np.int64)[id_codes], list(uniques)


def text_positions(names: Any, texts: Any) -> np.ndarray:
    """The position of each of ``texts`` among ``names`` (distinct strings), -1 where it is not one.

    One Arrow hash lookup, for strings only (a million-row table holds a hundred thousand ids,
    which a pandas object index would hash one Python object at a time). ``names`` and ``texts``
    are lists, object arrays or pandas ``str`` columns or indexes.

    >>> text_positions(["a", "b", "02"], ["02", "c", "a"]).tolist()
    [2, -1, 0]
    """
    import pyarrow as pa
    import pyarrow.compute as pc

    def arrow(values: Any) -> Any:
        data = values.array if isinstance(values, pd.Index | pd.Series) else values
        return pa.array(data, type=pa.large_string())

    found = pc.index_in(arrow(texts), value_set=arrow(names))
    return np.asarray(found.fill_null(-1).to_numpy(zero_copy_only=False), dtype=np.int64)


def value_codes(values: Any) -> tuple[np.ndarray, list[Any]]:
    """Integer codes of a value column: ``codes[i]`` indexes ``uniques`` (-1: blank).

    Equal values get one code (``1`` and ``True`` and ``1.0`` do not: the types differ; lists in
    order). Rows that share one object (what the readers produce: a value is decoded once per
    distinct text) are grouped by identity first, so a million rows cost one pass of ``id``.

    >>> codes, uniques = value_codes(np.array([["a"], 0, "0", None, ["a"], True, 0], dtype=object))
    >>> codes.tolist(), uniques
    ([0, 1, 2, -1, 0, 3, 1], [['a'], 0, '0', True])
    """
    arr = np.asarray(values, dtype=object).ravel() if not isinstance(values, pd.Series) else values.to_numpy(
        dtype=object)
    if arr.size == 0:
        return np.zeros(0, dtype=np.int64), []
    known = _known_value_codes(arr)
    if known is not None:
        return known
    id_codes, reps = _distinct_objects(arr)
    rep_codes, uniques = _codes_of_distinct(reps)
    return rep_codes[id_codes], uniques


def _codes_of_distinct(reps: np.ndarray) -> tuple[np.ndarray, list[Any]]:
    """:func:`value_codes` of ``reps`` (objects in order of first appearance, maybe equal ones)."""
    keys = pd.Series([v if type(v) is str else _key(v) for v in reps.tolist()], dtype=object)
    k_raw, k_uniques = pd.factorize(keys, use_na_sentinel=True)
    k_codes: np.ndarray = np.asarray(k_raw, dtype=np.int64)
    rep_of = np.full(len(k_uniques), -1, dtype=np.int64)
    rep_of[k_codes[::-1][k_codes[::-1] >= 0]] = np.flatnonzero(k_codes >= 0)[::-1]
    return k_codes, [reps[i] for i in rep_of.tolist()]


def _pair_value_codes(decoded: np.ndarray, inverse: np.ndarray) -> tuple[np.ndarray, list[Any]]:
    """:func:`value_codes` of ``decoded[inverse]``, from the decoder's own codes (no pass of ``id``)."""
    first = np.full(len(decoded), len(inverse), dtype=np.int64)
    np.minimum.at(first, inverse, np.arange(len(inverse), dtype=np.int64))
    order = np.argsort(first, kind="stable")[: int((first < len(inverse)).sum())]  # the pairs that occur
    rep_codes, uniques = _codes_of_distinct(decoded[order])
    pair_codes = np.full(len(decoded), -1, dtype=np.int64)
    pair_codes[order] = rep_codes
    return pair_codes[inverse], uniques


#: ``id(value array) -> (weak reference to it, its cells' object ids, codes, uniques)``: what the readers decoded.
_VALUE_CODES: dict[int, tuple[Any, np.ndarray, np.ndarray, list[Any]]] = {}


def _unchanged(base: np.ndarray, ids: np.ndarray) -> bool:
    """Whether every cell of ``base`` still holds the object it held when ``ids`` was taken.

    pandas edits an object column in place (``table.loc[i, "value"] = x``), so remembered codes
    are only valid while no cell was reassigned. The objects the ids name are kept alive by the
    remembered ``uniques``, so no new object can take one of their addresses: comparing the
    pointers (8 bytes a cell, a memcmp) is exact.
    """
    return base.size == ids.size and bool(np.array_equal(_object_ids(base), ids))


def _remember_value_codes(values: np.ndarray, codes: np.ndarray, uniques: list[Any]) -> None:
    """Keep the :func:`value_codes` of a value array a reader built (for as long as the array lives)."""
    codes.flags.writeable = False
    _VALUE_CODES[id(values)] = (weakref.ref(values), _object_ids(values), codes, uniques)
    weakref.finalize(values, _VALUE_CODES.pop, id(values), None)


def _known_value_codes(arr: np.ndarray) -> tuple[np.ndarray, list[Any]] | None:
    """The remembered codes when ``arr`` is (a read-only view of) a whole value array a reader built."""
    base: np.ndarray = arr
    while isinstance(base.base, np.ndarray):
        base = base.base
    hit = _VALUE_CODES.get(id(base))
    if hit is None or hit[0]() is not base or (arr.flags.writeable and arr is not base):
        return None
    same = (base.ndim == 1 and len(arr) == len(base) and arr.strides == base.strides
            and arr.__array_interface__["data"][0] == base.__array_interface__["data"][0])
    return (hit[2].copy(), list(hit[3])) if same and _unchanged(base, hit[1]) else None


@dataclass
class TableCodes:
    """An annotation table as integer codes: every check and every question is sliced from these arrays.

    Each text column gets sorted codes (``items[item[i]]`` is row ``i``'s item id; ``""`` sorts
    first among the candidates), the values one code per distinct value (:func:`value_codes`,
    -1: blank), and every (item, candidate) pair a ``unit`` code in (item, candidate) order. The
    arrays are read-only: one :class:`TableCodes` is shared by everything that reads the same
    table (:func:`table_codes`).
    """

    item: np.ndarray
    items: np.ndarray
    cand: np.ndarray
    cands: np.ndarray
    ann: np.ndarray
    anns: np.ndarray
    question: np.ndarray
    questions: np.ndarray
    value: np.ndarray
    uniques: list[Any]
    unit: np.ndarray
    unit_item: np.ndarray  # the item code of each unit code
    unit_cand: np.ndarray  # the candidate code of each unit code

    _objects: np.ndarray | None = field(default=None, repr=False)
    _candidates: np.ndarray | None = field(default=None, repr=False)

    def used(self, codes: np.ndarray) -> np.ndarray:
        """The distinct value codes among ``codes`` (all >= 0), sorted: one bincount, no sort."""
        return np.flatnonzero(np.bincount(codes, minlength=len(self.uniques))) if len(codes) else codes[:0]

    @property
    def no_candidate(self) -> int:
        """The code of ``""`` (an item question's candidate), or -1 when no row has one."""
        return 0 if len(self.cands) and self.cands[0] == "" else -1  # sorted: "" comes first

    def values_of(self, rows: np.ndarray) -> np.ndarray:
        """The values of ``rows`` as an object array (None for blanks)."""
        return self.by_code(self.value[rows])

    def value_candidates(self) -> np.ndarray:
        """For each distinct value, its code among the candidate ids (``cands``); -1 when it is not one.

        Computed once (preference answers name candidate ids: the checks and the agreement both
        look them up).
        """
        if self._candidates is None:
            is_text = np.fromiter((type(v) is str for v in self.uniques), dtype=bool, count=len(self.uniques))
            found = np.full(len(self.uniques), -1, dtype=np.int64)
            texts = self.by_code(np.flatnonzero(is_text))
            found[is_text] = text_positions(self.cands, texts)
            found.flags.writeable = False
            self._candidates = found
        return self._candidates

    def by_code(self, codes: np.ndarray) -> np.ndarray:
        """The distinct values with these codes as an object array (-1: None)."""
        if self._objects is None:
            objs = np.empty(len(self.uniques) + 1, dtype=object)
            for k, v in enumerate(self.uniques):
                objs[k] = v  # one by one: a list value must stay one cell
            objs.flags.writeable = False
            self._objects = objs
        return self._objects[codes]


def _sorted_codes(col: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    codes, uniques = pd.factorize(col, sort=True)
    return np.asarray(codes, dtype=np.int64), np.asarray(uniques, dtype=object)


def _code_table(table: pd.DataFrame) -> TableCodes:
    item, items = _sorted_codes(table["item_id"])
    cand, cands = _sorted_codes(table["candidate_id"])
    ann, anns = _sorted_codes(table["annotator"])
    question, questions = _sorted_codes(table["question"])
    value, uniques = value_codes(table["value"])
    # Hash the pairs once, then sort only the distinct ones (far fewer than the rows).
    first, distinct = pd.factorize(item * (len(cands) + 1) + cand)
    order = np.argsort(np.asarray(distinct, dtype=np.int64), kind="stable")
    rank = np.empty(len(order), dtype=np.int64)
    rank[order] = np.arange(len(order), dtype=np.int64)
    unit_item, unit_cand = np.divmod(np.asarray(distinct, dtype=np.int64)[order], len(cands) + 1)
    arrays = [item, items, cand, cands, ann, anns, question, questions, value, unit_item, unit_cand]
    unit = rank[np.asarray(first, dtype=np.int64)]
    for arr in [*arrays, unit]:
        arr.flags.writeable = False
    return TableCodes(item, items, cand, cands, ann, anns, question, questions, value, uniques,
                      unit=unit, unit_item=unit_item, unit_cand=unit_cand)


def _sources(table: pd.DataFrame) -> list[Any] | None:
    """The immutable arrays a normalised table's codes are computed from (None: not all immutable).

    The text columns' Arrow arrays, and the value column's read-only buffer (copy-on-write pandas
    hands out read-only views; a table that shares these arrays, e.g. the same table with its
    index reset, has the same codes).
    """
    out: list[Any] = []
    for col in ("item_id", "candidate_id", "question", "annotator"):
        arrow = getattr(table[col].array, "__arrow_array__", None)
        if arrow is None:
            return None
        out.append(arrow())
    view = table["value"].to_numpy()
    if view.dtype != object or view.flags.writeable or view.ndim != 1:
        return None
    base: np.ndarray = view
    while isinstance(base.base, np.ndarray):
        base = base.base
    out.append(base)
    out.append((view.__array_interface__["data"][0], view.strides, len(view)))  # where in ``base``
    return out


#: ``id(first source) -> (weak references to the sources, the value view's place, codes)``.
_TABLE_CODES: dict[int, tuple[list[Any], Any, TableCodes, np.ndarray]] = {}


def table_codes(table: pd.DataFrame) -> TableCodes:
    """The :class:`TableCodes` of a normalised annotation table, computed once per table data.

    The codes depend only on the column arrays, which are immutable (Arrow text columns, a
    read-only value buffer), so they are kept, by weak reference, for as long as those arrays
    live: ``check_answers`` and ``split_questions`` on the same table code it once. A table
    built from other arrays (a filtered one, say) gets its own codes.

    >>> t = make_table([{"item_id": "s2", "question": "q", "annotator": "a", "value": 1},
    ...                 {"item_id": "s1", "candidate_id": "c", "question": "q", "annotator": "a", "value": [1]}])
    >>> c = table_codes(t)
    >>> c.item.tolist(), c.items.tolist(), c.value.tolist(), c.unit.tolist(), table_codes(t.reset_index(drop=True)) is c
    ([1, 0], ['s1', 's2'], [0, 1], [1, 0], True)
    """
    sources = _sources(table)
    if sources is None:
        return _code_table(table)
    *arrays, place = sources
    hit = _TABLE_CODES.get(id(arrays[0]))
    value_base = arrays[-1]
    if (hit is not None and hit[1] == place and all(ref() is a for ref, a in zip(hit[0], arrays, strict=True))
            and _unchanged(value_base, hit[3])):
        return hit[2]
    codes = _code_table(table)
    key = id(arrays[0])
    _TABLE_CODES[key] = ([weakref.ref(a) for a in arrays], place, codes, _object_ids(value_base))
    for a in arrays:  # forget the codes as soon as one of their arrays is gone
        weakref.finalize(a, _TABLE_CODES.pop, key, None)
    return codes


def is_ambiguous(text: str) -> bool:
    """Whether ``text`` could be read as something other than a string (so a rubric must decide).

    >>> [is_ambiguous(t) for t in ("tie", "deesc-001-a", "02", "1.5", "true", "null", "[1]", "nan")]
    [False, False, True, True, True, True, True, True]
    """
    s = text.strip()
    if not s:
        return False
    try:
        float(s)
        return True
    except ValueError:
        pass
    try:
        return not isinstance(json.loads(s), str)
    except ValueError:
        return False


def decode_text(text: Any, question: Question | None) -> Any:
    """Decode one stored text value by its question's kind (see the module docstring).

    A text that does not fit the kind (``"abc"`` for a scale) is returned as is, for
    :func:`brun_label.answers.check_answers` to report; blank (``None``/NaN) stays ``None``.
    Without a ``question`` only unambiguous labels decode (else :class:`AmbiguousValue`).

    >>> from brun_label.rubric import rubric_from_dict
    >>> r = rubric_from_dict({"name": "m", "questions": [{"name": "t", "type": "scale", "options": [-1, 0, 1]},
    ...     {"name": "f", "type": "flags", "options": ["x", "y"]}, {"name": "p", "type": "preference"}]})
    >>> decode_text(" +1 ", r.question("t")), decode_text("1.0", r.question("t")), decode_text("abc", r.question("t"))
    (1, 1, 'abc')
    >>> decode_text('["y", "x"]', r.question("f")), decode_text("x, y", r.question("f")), decode_text("[]", r.question("f"))
    (['x', 'y'], ['x', 'y'], [])
    >>> decode_text("[1]", r.question("p")), decode_text(None, r.question("p")), decode_text("tie", None)
    ('[1]', None, 'tie')
    """
    if text is None or (isinstance(text, float) and math.isnan(text)):
        return None
    if not isinstance(text, str):
        if isinstance(text, np.ndarray):
            return text.tolist()
        if isinstance(text, np.integer):
            return int(text)
        return text  # already typed (a typed Parquet column, JSON)
    if question is None:
        if is_ambiguous(text):
            raise AmbiguousValue(text)
        return text
    kind = question.type
    if kind in ("scale", "rating"):
        if _INT.match(text) or _INTEGRAL_FLOAT.match(text):
            return int(float(text)) if "." in text else int(text)
        return text
    if kind == "flags":
        s = text.strip()
        if s.startswith("["):
            try:
                out = json.loads(s)
            except ValueError:
                return text
            if isinstance(out, list) and all(isinstance(f, str) for f in out):
                return sorted(out)
            return text
        options = {str(o.value) for o in question.options}
        parts = [p.strip() for p in s.split(",")] if s else []
        if all(p in options for p in parts):
            return sorted(parts)
        return text
    return text


def decode_column(
    questions: np.ndarray, texts: np.ndarray, rubric: Rubric | None
) -> tuple[np.ndarray, tuple[int, AmbiguousValue] | None]:
    """Decode a column of stored values by each row's question (each distinct pair once).

    ``questions`` and ``texts`` are aligned object arrays (``texts`` may hold ``None``). Returns
    ``(values, problem)``: ``values`` an object array of native values, ``problem`` the first row
    whose value cannot be decoded without a rubric (its question is not in ``rubric``, or there is
    none) and the :class:`AmbiguousValue`, or None. Decoded lists are shared between the rows
    that hold the same text (read-only values).

    >>> from brun_label.rubrics import load_rubric
    >>> vals, problem = decode_column(np.array(["tone_zone", "preference", "tone_zone"], dtype=object),
    ...                               np.array(["0", "0", None], dtype=object), load_rubric("de-escalation"))
    >>> vals.tolist(), problem
    ([0, '0', None], None)
    >>> decode_column(np.array(["q"], dtype=object), np.array(["7"], dtype=object), None)[1]
    (0, AmbiguousValue("'7' could be a number or a label: the rubric decides (pass --rubric)"))
    """
    q_codes, q_names = pd.factorize(pd.Series(questions, dtype=object), use_na_sentinel=False)
    t_codes, t_uniques = pd.factorize(pd.Series(texts, dtype=object), use_na_sentinel=True)
    return decode_codes(np.asarray(q_codes), list(q_names), np.asarray(t_codes), list(t_uniques), rubric)


def decode_codes(
    q_codes: np.ndarray, q_names: list[Any], t_codes: np.ndarray, t_uniques: list[Any], rubric: Rubric | None
) -> tuple[np.ndarray, tuple[int, AmbiguousValue] | None]:
    """:func:`decode_column` on dictionary codes: ``q_names[q_codes]`` and ``t_uniques[t_codes]`` (-1: blank)."""
    n = len(t_codes)
    if n == 0:
        return np.empty(0, dtype=object), None
    width = len(t_uniques) + 1
    key = np.asarray(q_codes, dtype=np.int64) * width + (np.asarray(t_codes, dtype=np.int64) + 1)
    if len(q_names) * width <= 4 * n + 1024:
        hist = np.zeros(len(q_names) * width, dtype=np.int64)
        hist[key] = 1
        uniq = np.flatnonzero(hist)
        slot = np.full(len(hist), -1, dtype=np.int64)
        slot[uniq] = np.arange(len(uniq))
        inverse = slot[key]
    else:
        uniq, inverse = np.unique(key, return_inverse=True)
    by_name: Mapping[str, Question] = {q.name: q for q in rubric.questions} if rubric is not None else {}
    decoded = np.empty(len(uniq), dtype=object)
    bad: list[tuple[int, AmbiguousValue]] = []
    # Text questions (choices, candidate ids, free text) keep their text: no call per value.
    verbatim = [q_names[qc] in by_name and by_name[str(q_names[qc])].type not in ("scale", "rating", "flags")
                for qc in range(len(q_names))]
    u_q, u_t = np.divmod(uniq, width)
    words = np.empty(len(t_uniques) + 1, dtype=object)  # slot 0: blank
    for k, w in enumerate(t_uniques):
        words[k + 1] = w
    decoded[:] = words[u_t]
    plain = np.asarray(verbatim, dtype=bool)[u_q] & np.fromiter(
        (type(w) is str for w in decoded), dtype=bool, count=len(decoded))
    for k in np.flatnonzero(~plain).tolist():
        qc, tc = int(u_q[k]), int(u_t[k])
        text = None if tc == 0 else t_uniques[tc - 1]
        try:
            decoded[k] = decode_text(text, by_name.get(str(q_names[qc])))
        except AmbiguousValue as exc:
            decoded[k] = text
            bad.append((k, exc))
    problem: tuple[int, AmbiguousValue] | None = None
    if bad:
        hit = np.isin(inverse, [k for k, _ in bad])
        row = int(np.flatnonzero(hit)[0])
        problem = (row, dict(bad)[int(inverse[row])])
    values = decoded[inverse.reshape(-1)]
    # The decoder knows which rows share a value: their codes cost one gather, not a pass of id().
    _remember_value_codes(values, *_pair_value_codes(decoded, inverse.reshape(-1)))
    return values, problem


def empty_table() -> pd.DataFrame:
    """Return an empty annotation table with the standard columns."""
    return pd.DataFrame({c: pd.Series(dtype="object" if c == "value" else "str") for c in ANNOTATION_COLUMNS})


def make_table(rows: list[dict[str, Any]]) -> pd.DataFrame:
    """Build an annotation table from row dicts, filling missing optional columns.

    >>> t = make_table([{"item_id": "s1", "question": "preference", "annotator": "ann1",
    ...                  "value": "c-1"}])
    >>> list(t.columns) == list(ANNOTATION_COLUMNS), t.loc[0, "candidate_id"], t.loc[0, "status"]
    (True, '', 'submitted')
    """
    if not rows:
        return empty_table()
    df = pd.DataFrame(rows)
    if "value" in df.columns and df["value"].dtype != object:
        df["value"] = df["value"].astype(object)
    return normalize_table(df)


class TableError(ValueError):
    """The annotation table is missing columns or has bad values; ``field`` names the column."""

    def __init__(self, field: str, message: str, row: int | None = None) -> None:
        self.field = field
        self.row = row
        self.message = message
        super().__init__(f"{field}: {message}")


def _as_str(col: pd.Series) -> pd.Series:
    """A column as pandas' ``str`` dtype (ids such as JSON numbers become their text)."""
    if isinstance(col.dtype, pd.StringDtype):
        return col
    if isinstance(col.dtype, pd.CategoricalDtype):
        col = col.astype(object)
    if col.dtype == object:
        arr = col.to_numpy()
        if not all(type(v) is str for v in pd.unique(arr[pd.notna(arr)]).tolist()):
            col = col.map(lambda v: v if v is None or isinstance(v, str) else
                          (None if isinstance(v, float) and math.isnan(v) else str(v)))
    return col.astype("str")


def normalize_table(df: pd.DataFrame) -> pd.DataFrame:
    """Check required columns, fill optional ones, and order columns (extra columns are kept last).

    Text columns become ``str`` columns; ``value`` is left as it is (an object column).

    >>> t = normalize_table(pd.DataFrame({"item_id": [1], "question": ["q"], "annotator": ["a"], "value": ["02"]}))
    >>> t.loc[0, "item_id"], t.loc[0, "value"], str(t["item_id"].dtype)
    ('1', '02', 'str')
    """
    missing = [c for c in ("item_id", "question", "annotator", "value") if c not in df.columns]
    if missing:
        raise TableError(missing[0], "required column is missing")
    df = df.copy(deep=False)  # copy-on-write: the columns set below never touch ``df``'s
    if df["value"].dtype != object:
        df["value"] = df["value"].astype(object).where(df["value"].notna(), None)
    if "candidate_id" not in df.columns:
        df["candidate_id"] = ""
    df["candidate_id"] = _as_str(df["candidate_id"]).fillna("")
    if "status" not in df.columns:
        df["status"] = "submitted"
    df["status"] = _as_str(df["status"]).fillna("submitted")
    bad = ~df["status"].isin(STATUSES)
    if bad.any():
        i = int(bad.to_numpy().nonzero()[0][0])
        raise TableError("status", f"unknown status {df['status'].iloc[i]!r} (use {', '.join(STATUSES)})", row=i)
    for col in ("platform", "submitted_at"):
        if col not in df.columns:
            df[col] = pd.Series([None] * len(df), dtype="str", index=df.index)
        else:
            df[col] = _as_str(df[col])
    for col in ("item_id", "question", "annotator"):
        s = _as_str(df[col])
        blank = (s.isna() | (s == "") | s.str.isspace()).to_numpy(dtype=bool)  # what strips to ""
        if blank.any():
            raise TableError(col, "is empty", row=int(blank.nonzero()[0][0]))
        df[col] = s
    for col in OPTIONAL_COLUMNS:
        if col in ("rubric", "shown_order") and col in df.columns:
            df[col] = _as_str(df[col])
    extra = [c for c in df.columns if c not in ANNOTATION_COLUMNS]
    return df[list(ANNOTATION_COLUMNS) + extra].reset_index(drop=True)


def recorded_rubric(df: pd.DataFrame) -> str | None:
    """The rubric identity the table's ``rubric`` column records (None when it records none).

    Raises :class:`TableError` when the rows name several rubrics.

    >>> recorded_rubric(pd.DataFrame({"rubric": ["m@0123456789ab", None, "m@0123456789ab"]}))
    'm@0123456789ab'
    >>> recorded_rubric(pd.DataFrame({"rubric": ["m@1", "m@2"]}))
    Traceback (most recent call last):
    ...
    brun_label.table.TableError: rubric: the rows were written under several rubrics (m@1, m@2): split the table
    """
    if "rubric" not in df.columns:
        return None
    values = sorted({str(v) for v in pd.unique(df["rubric"].dropna()) if str(v).strip()})
    if len(values) > 1:
        shown = ", ".join(values[:3]) + (", ..." if len(values) > 3 else "")
        raise TableError("rubric", f"the rows were written under several rubrics ({shown}): split the table")
    return values[0] if values else None
